r"""The Hessian's spectrum from its products: extreme eigenvalues, trace, spectral density.

All three read H only through exact Hessian-vector products
(:mod:`~symscape.measure.curvature.products`), so they work for any N:

* :func:`eigenvalues` — the ``k`` largest or smallest eigenvalues by SciPy's
  ``eigsh`` (ARPACK's implicitly restarted Lanczos) on
  :func:`~symscape.measure.curvature.products.hessian_operator`. We use ARPACK
  rather than our own Lanczos here because its restarts keep the memory at
  ``O(N·(2k+1))`` vectors whatever the number of iterations, and it iterates
  until each Ritz pair's residual is below ``tol``; a plain Lanczos run would
  need every basis vector kept to reach the same accuracy.
* :func:`trace` — Hutchinson's estimator ``tr H = E[zᵀHz]`` with Rademacher
  probes ``z ∈ {±1}^N`` (the lowest-variance probe for this estimator:
  ``Var zᵀHz = 2 Σ_{i≠j} H_ij²``), and a Student-t interval from the
  probes' spread.
* :func:`spectral_density` — stochastic Lanczos quadrature (Ghorbani,
  Krishnan & Xiao 2019): for each of ``n_probes`` Gaussian start vectors, the
  nodes ``θ_j`` and weights ``τ_j`` of ``steps`` Lanczos steps
  (:mod:`~symscape.measure.curvature.lanczos`); the density of eigenvalues
  ``ρ(λ) = (1/N) Σ_i δ(λ − λ_i)`` is estimated as

  .. math::  ρ_σ(t) = \frac{1}{n_v} \sum_{l=1}^{n_v} \sum_{j=1}^{m} τ^l_j\, g_σ(t − θ^l_j),

  with ``g_σ`` a Gaussian of width σ. Its moments estimate those of the
  spectrum: ``Σ τ θ`` (per probe) is exactly ``vᵀHv/vᵀv``, whose mean over
  probes uniform on the sphere is ``tr H / N``, and ``Σ τ θ²`` is
  ``‖Hv‖²/vᵀv``, of mean ``‖H‖_F² / N``.

A linear model under the mean squared error has ``H = 2 XᵀX / P``:

>>> import torch
>>> net = torch.nn.Linear(3, 1, bias=False).double()
>>> x = torch.tensor([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0]], dtype=torch.float64)
>>> mse, data = torch.nn.functional.mse_loss, (x, torch.zeros(3, 1, dtype=torch.float64))
>>> exact = torch.linalg.eigvalsh(2 * x.T @ x / 3).tolist()  # 2/3, 8/3, 6
>>> bool(abs(eigenvalues(net, mse, data, k=1)[0] - 6) < 1e-12)
True
>>> estimate = trace(net, mse, data, samples=10)
>>> round(estimate.value, 10), round(sum(exact), 10)  # zᵀHz = tr H for a diagonal H
(9.3333333333, 9.3333333333)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from symscape.errors import InvalidOptionError
from symscape.measure.curvature.lanczos import gauss_quadrature, lanczos
from symscape.measure.curvature.products import Loss, _Problem, hessian_operator
from symscape.validation import check_integer, choose

__all__ = ["SpectralDensity", "TraceEstimate", "eigenvalues", "spectral_density", "trace"]


def eigenvalues(
    model,
    loss_fn: Loss,
    data,
    k: int = 6,
    which: str = "top",
    params=None,
    tol: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """The ``k`` largest (``which="top"``, descending) or smallest (``"bottom"``, ascending)
    eigenvalues of H, float64, converged to ARPACK's ``tol`` (0: machine precision)."""
    from scipy.sparse.linalg import eigsh

    which = choose(which, ("top", "bottom"), "end of the spectrum")
    operator = hessian_operator(model, loss_fn, data, params)
    N = operator.shape[0]
    if N < 2:
        raise InvalidOptionError("eigsh needs N >= 2 weights", fix="use dense_hessian")
    k = check_integer(k, "k", 1)
    if k >= N:
        raise InvalidOptionError(
            f"k={k} must be below N={N}", fix=f"use k <= {N - 1}, or dense_hessian"
        )
    v0 = np.random.default_rng(seed).standard_normal(N)
    values = eigsh(
        operator,
        k=k,
        which="LA" if which == "top" else "SA",
        tol=tol,
        v0=v0,
        return_eigenvectors=False,
    )
    return np.sort(values)[::-1] if which == "top" else np.sort(values)


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson's estimate of ``tr H``: the mean of ``samples`` values ``zᵀHz`` and its
    ``level`` interval ``mean ± t_{(1+level)/2, S−1} · s/√S``."""

    value: float
    low: float
    high: float
    samples: np.ndarray


def trace(
    model,
    loss_fn: Loss,
    data,
    samples: int = 100,
    params=None,
    seed: int = 0,
    level: float = 0.95,
    probes_at_once: int = 16,
) -> TraceEstimate:
    """``tr H`` by Hutchinson with ``samples`` Rademacher probes (``≥ 2``), with an interval."""
    from scipy.stats import t as student

    samples = check_integer(samples, "samples", 2)
    probes_at_once = check_integer(probes_at_once, "probes_at_once", 1)
    if not 0 < level < 1:
        raise InvalidOptionError(f"level={level!r} must lie in (0, 1)", fix="use e.g. level=0.95")
    problem = _Problem(model, loss_fn, data, params)
    gen = torch.Generator().manual_seed(seed)
    values = []
    for start in range(0, samples, probes_at_once):
        K = min(probes_at_once, samples - start)
        Z = (2 * torch.randint(0, 2, (K, problem.N), generator=gen) - 1).to(problem.dtype)
        Z = Z.to(problem.device)
        values.append((problem.products(Z) * Z).sum(1).detach().cpu().numpy())
    z = np.concatenate(values).astype(np.float64)
    mean = float(z.mean())
    half = float(student.ppf((1 + level) / 2, samples - 1) * z.std(ddof=1) / np.sqrt(samples))
    return TraceEstimate(mean, mean - half, mean + half, z)


@dataclass(frozen=True)
class SpectralDensity:
    """The smoothed density ``ρ_σ`` on ``grid`` (``∫ρ_σ ≈ 1``), and the raw quadrature:
    ``nodes`` and ``weights``, ``[n_probes, steps]`` (each row's weights sum to 1)."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float

    def moment(self, power: int) -> float:
        """``∫ λ^power ρ(λ) dλ`` of the unsmoothed quadrature (the mean over probes)."""
        return float((self.weights * self.nodes**power).sum(1).mean())


def spectral_density(
    model,
    loss_fn: Loss,
    data,
    n_probes: int = 10,
    steps: int = 100,
    params=None,
    sigma: float | None = None,
    grid_points: int = 1000,
    seed: int = 0,
) -> SpectralDensity:
    """The density of H's eigenvalues by stochastic Lanczos quadrature.

    ``sigma`` (the Gaussian's width) defaults to 1 % of the nodes' range; the
    grid spans the nodes' range padded by 5σ. ``steps`` is capped at N.
    """
    n_probes = check_integer(n_probes, "n_probes", 1)
    steps = check_integer(steps, "steps", 1)
    grid_points = check_integer(grid_points, "grid_points", 2)
    problem = _Problem(model, loss_fn, data, params)
    gen = torch.Generator().manual_seed(seed)
    V = torch.randn(n_probes, problem.N, generator=gen, dtype=problem.dtype).to(problem.device)
    nodes, weights = gauss_quadrature(*lanczos(problem.products, V, steps, generator=gen))
    low, high = float(nodes.min()), float(nodes.max())
    if sigma is None:
        sigma = 0.01 * (high - low) or 0.01 * max(abs(high), 1.0)
    if not sigma > 0:
        raise InvalidOptionError(f"sigma={sigma!r} must be positive", fix="use e.g. sigma=1e-3")
    grid = np.linspace(low - 5 * sigma, high + 5 * sigma, grid_points)
    gauss = np.exp(-0.5 * ((grid[:, None] - nodes.reshape(-1)) / sigma) ** 2)
    gauss /= sigma * np.sqrt(2 * np.pi)
    density = gauss @ weights.reshape(-1) / n_probes
    return SpectralDensity(grid, density, nodes, weights, float(sigma))
