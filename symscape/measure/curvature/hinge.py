r"""H = H₀ + H_p for the hinge losses of the jamming papers, for a model with one output.

With labels ``y_μ = ±1`` and the gaps ``Δ_μ(w) = κ − y_μ f(w, x_μ)``, the loss
``L = (1/P) Σ_μ ℓ(Δ_μ)`` with ``ℓ(Δ) = ½ max(0, Δ)²`` (``quadratic_hinge``)
or ``ℓ(Δ) = max(0, Δ)`` (``hinge``) has the Hessian (away from ``Δ_μ = 0``)

.. math::  H = \underbrace{\frac{1}{P}\sum_μ ℓ''(Δ_μ)\, ∇Δ_μ ∇Δ_μ^T}_{H_0}
             + \underbrace{\frac{1}{P}\sum_μ ℓ'(Δ_μ)\, ∇^2 Δ_μ}_{H_p}.

For the quadratic hinge ``ℓ'' = 1`` and ``ℓ' = Δ`` on the unsatisfied
constraints ``Δ_μ > 0``: ``H₀ = (1/P) Σ_{Δ_μ>0} ∇Δ_μ ∇Δ_μᵀ`` is a sum of
``N_Δ`` rank-one terms (of rank ``min(N, N_Δ)`` for independent gradients,
one less at a minimum with ``N_Δ ≤ N``, where ``Σ_μ Δ_μ ∇Δ_μ = P ∇L = 0``
is a relation among them), and ``H_p`` is proportional to the gaps. For the
linear hinge ``ℓ'' = 0``: ``H₀ = 0`` and ``H = H_p``.

:func:`hinge_split` builds the three matrices independently — H from exact
Hessian-vector products of L (:func:`~symscape.measure.curvature.dense_hessian`),
H₀ from the per-sample gradients ``∇Δ_μ`` (``torch.func.jacrev`` of the gaps),
H_p as the Hessian of ``(1/P) Σ_μ ℓ'(Δ_μ(w₀)) Δ_μ(w)`` with the weights frozen
at ``w₀`` — so that ``H₀ + H_p = H`` is a check, not a definition. This is
:func:`symscape.measure.hessian.hessian_at_minimum` for any ``nn.Module``
(or ``f(params, x)``) with one output, without its ensemble or α-centring.

>>> import torch
>>> net = torch.nn.Linear(2, 1).double()
>>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
>>> y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
>>> split = hinge_split(net, (x, y))
>>> bool(split.Hp.abs().max() == 0)  # a linear model: Δ is linear in w
True
>>> torch.allclose(split.H0, split.H), split.rank_H0 == min(split.n_delta, 3)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from symscape.errors import InvalidOptionError
from symscape.measure.curvature.products import _check_size, _columns, _Problem
from symscape.measure.hessian import gap_tolerance
from symscape.validation import choose

__all__ = ["HingeSplit", "hinge_split"]

LOSSES = ("quadratic_hinge", "hinge")


@dataclass(frozen=True)
class HingeSplit:
    """``H = H0 + Hp`` (each ``[N, N]``); the gaps ``Δ_μ`` (``[P]``) and their gradients
    ``jacobian`` (``[P, N]``); ``n_delta`` counts ``Δ_μ`` above the training loop's tolerance,
    ``rank_H0`` the eigenvalues of H₀ above ``10·N·eps`` times its largest."""

    H: torch.Tensor
    H0: torch.Tensor
    Hp: torch.Tensor
    gaps: torch.Tensor
    jacobian: torch.Tensor
    n_delta: int
    rank_H0: int


def _outputs(out: torch.Tensor, n: int) -> torch.Tensor:
    if out.numel() != n:
        raise InvalidOptionError(
            f"the model returned {tuple(out.shape)} for {n} points, not one output each",
            fix="the H0 + Hp split is for a model with one output (labels ±1)",
        )
    return out.reshape(n)


def hinge_split(
    model,
    data,
    loss: str = "quadratic_hinge",
    kappa: float = 1.0,
    params=None,
    max_weights: int = 10_000,
) -> HingeSplit:
    """The exact ``H``, ``H₀`` and ``H_p`` of the (quadratic) hinge loss at ``params``."""
    loss = choose(loss, LOSSES, "hinge loss")
    quadratic = loss == "quadratic_hinge"

    def ell(delta):
        return 0.5 * delta.clamp(min=0) ** 2 if quadratic else delta.clamp(min=0)

    def loss_fn(out, y):
        return ell(kappa - y * _outputs(out, len(y))).mean()

    problem = _Problem(model, loss_fn, data, params)
    _check_size(problem.N, max_weights, "the model")
    # one pass over the data, kept: a shuffling DataLoader must not reorder the points
    # between the gaps and the frozen weights of H_p
    points = list(problem.batches())
    for _, y in points:
        if not y.is_floating_point():
            raise InvalidOptionError(
                f"labels of dtype {y.dtype}: the hinge split needs ±1 labels",
                fix="pass y as floats in {-1, +1}",
            )
    problem.data = points

    def gaps_of(p, x, y):
        return kappa - y * _outputs(problem.f(p, x), len(y))

    gaps = torch.cat([gaps_of(problem.params, x, y).detach() for x, y in points])
    jac = []
    for x, y in points:
        rows = torch.func.jacrev(gaps_of)(problem.params, x, y)
        jac.append(torch.cat([rows[k].reshape(len(y), -1) for k in problem.params], 1).detach())
    J = torch.cat(jac)
    P = len(gaps)
    second = (gaps > 0).to(J.dtype) if quadratic else torch.zeros_like(gaps)
    H0 = (J.T * second) @ J / P

    first = gaps.clamp(min=0) if quadratic else (gaps > 0).to(gaps.dtype)
    frozen, start = [], 0
    for x, y in points:
        frozen.append((x, torch.stack([y, first[start : start + len(y)]], 1)))
        start += len(y)
    linear = _Problem(
        problem.f,
        lambda out, yc: (yc[:, 1] * (kappa - yc[:, 0] * _outputs(out, len(yc)))).mean(),
        frozen,
        problem.params,
    )
    index = torch.arange(problem.N, device=problem.device)
    H = _columns(problem, index, 128)
    Hp = _columns(linear, index, 128)

    eig = torch.linalg.eigvalsh(H0)
    scale = float(eig.abs().max())
    rank = int((eig > scale * problem.N * float(torch.finfo(H0.dtype).eps) * 10).sum())
    n_delta = int((gaps > gap_tolerance(gaps.dtype, kappa)).sum())
    return HingeSplit(H, H0, Hp, gaps, J, n_delta, rank if scale > 0 else 0)
