"""Losses of the papers, as functions of the gaps Δ_μ, with the margin κ.

For a binary task (one output, labels ±1) the gap of point μ is
``Δ_μ = κ − y_μ F(x_μ)``; for a multiclass task it is
``Δ_μ = κ − (F_y(x_μ) − max_{c≠y} F_c(x_μ))``. A constraint is unsatisfied
when ``Δ_μ > 0`` and ``N_Δ = #{μ : Δ_μ > 0}``.

Per-point losses ``ℓ``:

=================== ==============================================
``hinge``           max(0, Δ)
``quadratic_hinge`` ½ max(0, Δ)²  (the jamming papers' loss)
``soft_hinge``      softplus(β Δ)/β  (→ hinge as β → ∞)
``mse``             ½ Δ² (binary); ½ ‖F − κ e_y‖² (multiclass)
``cross_entropy``   log(1 + e^Δ) (binary); −log softmax(F − κ e_y)_y
=================== ==============================================

The training loss of the α-centred model is ``(1/(α² P)) Σ_μ ℓ_μ``.

>>> import torch
>>> from symscape.train.losses import gaps, loss_per_point, n_delta
>>> out = torch.tensor([[[2.0], [0.5], [-1.0]]])  # E=1, P=3, k=1
>>> y = torch.tensor([1.0, 1.0, 1.0])
>>> gaps(out, y, kappa=1.0)
tensor([[-1.0000,  0.5000,  2.0000]])
>>> n_delta(gaps(out, y, kappa=1.0))
tensor([2])
>>> loss_per_point("quadratic_hinge", out, y, kappa=1.0)
tensor([[0.0000, 0.1250, 2.0000]])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from symscape.errors import InvalidOptionError
from symscape.validation import choose

__all__ = [
    "LOSSES",
    "error_rate",
    "errors",
    "gaps",
    "loss_per_point",
    "misclassified",
    "n_delta",
]

LOSSES = ("hinge", "quadratic_hinge", "soft_hinge", "mse", "cross_entropy")


def _check(output: torch.Tensor, y: torch.Tensor) -> bool:
    """True for a binary task; raises on shapes that do not fit."""
    if output.ndim != 3 or y.ndim != 1 or output.shape[1] != y.shape[0]:
        raise InvalidOptionError(
            f"outputs {tuple(output.shape)} and labels {tuple(y.shape)} do not fit",
            fix="outputs are [E, P, k] and labels [P]",
        )
    binary = y.is_floating_point()
    if binary and output.shape[2] != 1:
        raise InvalidOptionError(
            f"±1 labels need one output, the network has k={output.shape[2]}",
            fix="use k=1 for binary labels, or multiclass labels",
        )
    if not binary and output.shape[2] < 2:
        raise InvalidOptionError(
            "class-index labels need k >= 2 outputs", fix="use k = number of classes"
        )
    return binary


def gaps(output: torch.Tensor, y: torch.Tensor, kappa: float = 1.0) -> torch.Tensor:
    """Δ_μ for every member: ``[E, P]``."""
    if _check(output, y):
        return kappa - y * output[..., 0]
    true = output.gather(-1, y.view(1, -1, 1).expand(output.shape[0], -1, 1))[..., 0]
    others = output.scatter(-1, y.view(1, -1, 1).expand(output.shape[0], -1, 1), float("-inf"))
    return kappa - (true - others.max(-1).values)


def n_delta(gap: torch.Tensor, tol: float = 0.0) -> torch.Tensor:
    """N_Δ per member: the number of unsatisfied constraints (Δ_μ > tol)."""
    return (gap > tol).sum(-1)


def loss_per_point(
    name: str, output: torch.Tensor, y: torch.Tensor, kappa: float = 1.0, beta: float = 20.0
) -> torch.Tensor:
    """ℓ_μ for every member: ``[E, P]``."""
    binary = _check(output, y)
    if name in ("hinge", "quadratic_hinge", "soft_hinge"):
        gap = gaps(output, y, kappa)
        if name == "hinge":
            return torch.relu(gap)
        if name == "quadratic_hinge":
            return 0.5 * torch.relu(gap) ** 2
        return F.softplus(beta * gap) / beta
    if name == "mse":
        if binary:
            return 0.5 * gaps(output, y, kappa) ** 2
        target = kappa * F.one_hot(y, output.shape[-1]).to(output.dtype)
        return 0.5 * ((output - target) ** 2).sum(-1)
    if name == "cross_entropy":
        if binary:
            return F.softplus(gaps(output, y, kappa))
        shifted = output - kappa * F.one_hot(y, output.shape[-1]).to(output.dtype)
        logp = torch.log_softmax(shifted, dim=-1)
        return -logp.gather(-1, y.view(1, -1, 1).expand(output.shape[0], -1, 1))[..., 0]
    # another spelling of a known loss (quadratic-hinge), or the one-line error
    return loss_per_point(choose(name, LOSSES, "loss"), output, y, kappa, beta)


def errors(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Classification error per member ``[E]``: y F ≤ 0 (binary) or argmax F ≠ y.

    A point whose output is not finite (a diverged network) is an error, never a
    correct prediction.
    """
    return _wrong(output, y).to(output.dtype).mean(-1)


def _wrong(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whether each member errs at each point ``[E, P]`` (a non-finite output errs)."""
    wrong = y * output[..., 0] <= 0 if _check(output, y) else output.argmax(-1) != y
    return wrong | ~torch.isfinite(output).all(-1)


def misclassified(outputs, y) -> torch.Tensor:
    """The 0/1 error of each member at each point ``[E, n]`` (float64), for outputs ``[E, n]``
    (one output, ±1 labels) or ``[E, n, k]`` (arrays or tensors): :func:`errors` before its
    mean over the points.

    >>> misclassified([[0.5, -2.0, float("nan")]], [1.0, 1.0, 1.0])
    tensor([[0., 1., 1.]], dtype=torch.float64)
    """
    outputs = torch.as_tensor(outputs).double()
    if outputs.ndim == 2:
        outputs = outputs[..., None]
    y = torch.as_tensor(y)
    if outputs.shape[-1] == 1:
        y = y.double()
    return _wrong(outputs, y).double()


def error_rate(outputs, y) -> float:
    """:func:`errors` of one predictor's outputs ``[n]`` or ``[n, k]`` (arrays or tensors).

    >>> error_rate([0.5, -2.0, float("nan")], [1.0, 1.0, 1.0])
    0.6666666666666666
    """
    outputs = torch.as_tensor(outputs).double()  # the mean of many points, not float32's
    if outputs.ndim == 1:
        outputs = outputs[:, None]
    y = torch.as_tensor(y)
    if outputs.shape[-1] == 1:
        y = y.double()
    return float(errors(outputs[None], y)[0])
