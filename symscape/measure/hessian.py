r"""The Hessian of a hinge loss at a minimum: exact spectra, and the extreme eigenvalues.

For the quadratic hinge ``L = (1 / 2Pα²) Σ_μ max(0, Δ_μ)²`` with gaps
``Δ_μ = κ − y_μ F(x_μ)``, the Hessian splits as ``H = H₀ + H_p`` with
``H₀ = (1/Pα²) Σ_{Δ_μ>0} ∇Δ_μ ∇Δ_μᵀ`` (the Gauss–Newton part, from the
per-sample gradients) and ``H_p`` the rest. :func:`hessian_at_minimum` builds
H exactly (N ≤ a few thousand weights) and returns the three spectra, the
rank of H₀ (which equals N_Δ at a jammed minimum where N_Δ ≤ N) and the
number of negative eigenvalues of H; :func:`hessian_extremes` gives H's
extreme eigenvalues for any N by Lanczos on exact Hessian-vector products.

``model`` is a :class:`~symscape.train.models.CenteredNetwork` (read through
its ``loss``, ``alpha``, ``x_train``, ``y_train``, ``f0_train``, ``outputs``,
``train_outputs`` and ``hessian_vector``), ``params`` the parameters of its
one member (``[1, ...]`` each).

>>> import torch
>>> gap_tolerance(torch.float64, 1.0) == torch.finfo(torch.float64).eps ** 0.5
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from symscape.errors import InvalidOptionError
from symscape.nets.flat import flat_params, unflat_params

__all__ = ["gap_tolerance", "hessian_at_minimum", "hessian_extremes"]


def gap_tolerance(dtype: torch.dtype, kappa: float) -> float:
    """The Δ below which a constraint counts as satisfied: ``√eps(dtype) · max(|κ|, 1)``.

    The default of the training loop's stopping rules
    (:meth:`symscape.train.loop.StopRules.tolerance`), so that N_Δ here is
    counted as the loop counts it.
    """
    return float(torch.finfo(dtype).eps) ** 0.5 * max(abs(kappa), 1.0)


def hessian_at_minimum(model, params, max_weights: int = 4000) -> dict[str, Any]:
    """Exact Hessian H = H₀ + H_p of one member's loss, with H₀ from per-sample gradients.

    Returns the eigenvalues of H, of H₀ and of H_p, the numerical rank of H₀,
    N_Δ, and the number of negative eigenvalues of H. Only for the quadratic
    hinge (where H₀ is the Gauss–Newton part) and N ≤ ``max_weights``.
    """
    from torch.func import jacrev

    if model.loss.name != "quadratic_hinge":
        raise InvalidOptionError(
            f"the H0 + Hp split is for the quadratic hinge, not {model.loss.name}",
            fix="use loss='quadratic_hinge'",
        )
    flat = flat_params(params)[0].detach()
    N = len(flat)
    if max_weights < N:
        raise InvalidOptionError(
            f"N={N} weights: the exact Hessian is for N <= {max_weights}",
            fix="use a narrower network",
        )
    y = model.y_train.reshape(-1)
    f0 = model.f0_train[:1]
    P = len(y)
    alpha = model.alpha

    def gaps_of(w):
        F = model.outputs(unflat_params(w[None], params), model.x_train, f0).reshape(-1)
        return model.loss.kappa - y * F

    def loss_of(w):
        delta = gaps_of(w)
        return 0.5 * (delta.clamp(min=0) ** 2).sum() / (P * alpha**2)

    delta = gaps_of(flat).detach()
    gap_tol = gap_tolerance(delta.dtype, model.loss.kappa)  # as the loop counts N_Δ
    H = jacrev(jacrev(loss_of))(flat).detach()  # reverse over reverse: no forward-mode AD
    J = jacrev(gaps_of)(flat).detach()  # [P, N]: ∇Δ_μ
    active = delta > 0  # every term of the loss, however small
    H0 = J[active].T @ J[active] / (P * alpha**2)
    Hp = H - H0
    eig_H = torch.linalg.eigvalsh(H).cpu().numpy()
    eig_H0 = torch.linalg.eigvalsh(H0).cpu().numpy()
    eig_Hp = torch.linalg.eigvalsh(Hp).cpu().numpy()
    scale = max(float(np.abs(eig_H0).max()), 1e-300)
    tol = scale * N * float(torch.finfo(H.dtype).eps) * 10
    expected = min(N, int((delta > gap_tol).sum()))  # rank H0 for generic gradients
    return {
        "N": N,
        "P": P,
        "n_delta": int((delta > gap_tol).sum()),  # as the training loop counts them
        "rank_H0": int((eig_H0 > tol).sum()),
        "negative_H": int((eig_H < -tol).sum()),
        # how far from flat: H's lowest eigenvalue and H0's smallest one, over H0's largest
        "lowest_H_relative": float(eig_H.min()) / scale,
        # the min(N, N_Δ)-th largest eigenvalue of H0, zero when H0's rank falls short
        "smallest_H0_relative": float(np.sort(eig_H0)[::-1][max(expected - 1, 0)]) / scale,
        "H": H.cpu().numpy(),
        "eig_H": eig_H,
        "eig_H0": eig_H0,
        "eig_Hp": eig_Hp,
        "gaps": delta.cpu().numpy(),
    }


def hessian_extremes(model, params, k: int = 10) -> dict[str, Any]:
    """The ``k`` largest and ``k`` smallest eigenvalues of H, for any N (Lanczos).

    SciPy's ``eigsh`` on a ``LinearOperator`` whose products are exact
    Hessian-vector products (double backward through the training loss);
    N_Δ and the gaps as in :func:`hessian_at_minimum`.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    flat = flat_params(params)
    N = flat.shape[1]

    def product(vector: np.ndarray) -> np.ndarray:
        v = torch.as_tensor(vector.reshape(1, -1), dtype=flat.dtype, device=flat.device)
        return flat_params(model.hessian_vector(params, unflat_params(v, params)))[0].cpu().numpy()

    operator = LinearOperator((N, N), matvec=product, dtype=np.float64)
    k = min(k, N - 1)
    top = eigsh(operator, k=k, which="LA", return_eigenvectors=False)
    bottom = eigsh(operator, k=k, which="SA", return_eigenvectors=False)
    F = model.train_outputs(params)[0].reshape(-1)
    gaps = (model.loss.kappa - model.y_train.reshape(-1) * F).cpu().numpy()
    gap_tol = gap_tolerance(F.dtype, model.loss.kappa)
    return {
        "N": N,
        "P": len(gaps),
        "n_delta": int((gaps > gap_tol).sum()),
        "eig_H_top": np.sort(top)[::-1],
        "eig_H_bottom": np.sort(bottom),
        "gaps": gaps,
    }
