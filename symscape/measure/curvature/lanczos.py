r"""Lanczos tridiagonalisation with full reorthogonalisation, and its Gauss quadrature.

For a symmetric ``A`` (given by its products) and a start vector ``v``,
``m`` Lanczos steps build an orthonormal basis ``Q = [q_1 … q_m]`` of the
Krylov space ``span{v, Av, …, A^{m−1} v}`` with ``q_1 = v/‖v‖`` and the
tridiagonal ``T = QᵀAQ`` (diagonal α, off-diagonal β). Each new vector is
orthogonalised against *all* the previous ones, twice ("twice is enough"), so
that ``Q`` stays orthonormal to rounding and no spurious copies of converged
eigenvalues appear.

With ``T = U Θ Uᵀ`` the Ritz values ``θ_j`` and the squared first components
``τ_j = U_{1j}²`` (``Σ_j τ_j = 1``) are the nodes and weights of the Gauss
quadrature of the spectral measure of ``A`` seen from ``v``:

.. math::  \frac{v^T g(A) v}{v^T v} \approx \sum_j τ_j\, g(θ_j),

exact for every polynomial ``g`` of degree ``≤ 2m − 1`` — in particular
``Σ τ θ = vᵀAv/vᵀv`` and ``Σ τ θ² = ‖Av‖²/vᵀv``.

If the Krylov space closes early (``β_j = 0``: ``v`` lies in an invariant
subspace), the run continues from a fresh random vector orthogonal to ``Q``
with ``β_j`` set to 0: ``T`` becomes block diagonal and the new nodes carry
weight 0, so every run returns ``m`` nodes.

Several start vectors run side by side (rows of ``V``: independent runs, one
batched product per step).

>>> import torch
>>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
>>> v = torch.ones(1, 4, dtype=torch.float64)
>>> nodes, weights = gauss_quadrature(*lanczos(lambda V: V @ A, v, steps=4))
>>> [round(float(t), 10) for t in nodes[0]], [round(float(w), 10) for w in weights[0]]
([1.0, 2.0, 3.0, 4.0], [0.25, 0.25, 0.25, 0.25])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["gauss_quadrature", "lanczos"]


def _orthogonalise(w: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """``w`` minus its projection on the rows of each ``Q[k]``, twice: ``[K, N]``."""
    for _ in range(2):
        w = w - torch.einsum("kjn,kj->kn", Q, torch.einsum("kjn,kn->kj", Q, w))
    return w


def lanczos(
    matmat: Callable[[torch.Tensor], torch.Tensor],
    V: torch.Tensor,
    steps: int,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha [K, m], beta [K, m−1])``: the tridiagonal of ``m = min(steps, N)`` steps from
    each row of ``V`` (``[K, N]``); ``matmat`` maps rows ``[K, N]`` to ``A`` times each row.

    Memory: the ``K·m·N`` basis vectors.
    """
    K, N = V.shape
    m = min(int(steps), N)
    eps = float(torch.finfo(V.dtype).eps)
    Q = torch.zeros(K, m, N, dtype=V.dtype, device=V.device)
    alpha = torch.zeros(K, m, dtype=V.dtype, device=V.device)
    beta = torch.zeros(K, max(m - 1, 0), dtype=V.dtype, device=V.device)
    Q[:, 0] = V / V.norm(dim=1, keepdim=True)
    scale = torch.zeros(K, dtype=V.dtype, device=V.device)
    for j in range(m):
        w = matmat(Q[:, j]).detach()
        alpha[:, j] = (w * Q[:, j]).sum(1)
        w = _orthogonalise(w, Q[:, : j + 1])
        if j == m - 1:
            break
        b = w.norm(dim=1)
        scale = torch.maximum(scale, alpha[:, j].abs() + b)
        closed = b <= 10 * N * eps * scale  # the Krylov space is invariant: restart
        if bool(closed.any()):
            fresh = torch.randn(
                int(closed.sum()), N, generator=generator, dtype=V.dtype, device="cpu"
            ).to(V.device)
            fresh = _orthogonalise(fresh, Q[closed, : j + 1])
            w[closed] = fresh
            b = torch.where(closed, torch.zeros_like(b), b)
        beta[:, j] = b
        Q[:, j + 1] = w / w.norm(dim=1, keepdim=True)
    return alpha.cpu().numpy().astype(np.float64), beta.cpu().numpy().astype(np.float64)


def gauss_quadrature(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(nodes, weights)``, each ``[K, m]``: the Ritz values of each tridiagonal (ascending)
    and the squared first components of its eigenvectors."""
    from scipy.linalg import eigh_tridiagonal

    nodes, weights = np.empty_like(alpha), np.empty_like(alpha)
    for k in range(len(alpha)):  # O(m²) each, where a dense eigh would be O(m³)
        nodes[k], U = eigh_tridiagonal(alpha[k], beta[k])
        weights[k] = U[0] ** 2
    return nodes, weights
