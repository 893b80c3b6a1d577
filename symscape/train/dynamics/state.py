"""What every dynamics shares: the state, its start at t = 0, member-wise helpers.

A :class:`FlowState` holds ``params``, ``loss``, ``grad`` and ``output``
evaluated at ``params`` (one row per ensemble member), the simulated time
``t`` and the current step ``dt`` of each member. The helpers act member by
member on ``[E, ...]`` tensors. :func:`log_checkpoints` is the grid of steps
at which the loop records a trajectory.

>>> sorted(log_checkpoints(100, 3))
[0, 1, 10, 100]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from symscape.nets import Params

__all__ = ["FlowState", "log_checkpoints", "start"]


@dataclasses.dataclass
class FlowState:
    params: Params
    loss: torch.Tensor  # [E]
    grad: Params
    output: torch.Tensor  # [E, P, k]
    t: torch.Tensor  # [E] simulated time
    dt: torch.Tensor  # [E] current step size (the learning rate for SGD/Adam)
    evaluations: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def _where(mask: torch.Tensor, new: Params, old: Params) -> Params:
    """Per member: ``new`` where ``mask`` [E] else ``old``."""
    if mask.device.type == "cpu" and bool(mask.all()):  # nothing to mask (free to ask on CPU)
        return new
    out = {}
    for name, value in new.items():
        m = mask.reshape(-1, *([1] * (value.ndim - 1)))
        out[name] = torch.where(m, value, old[name])
    return out


def _times(factor: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """``factor`` [E] times ``tensor`` [E, ...], member by member."""
    return factor.reshape(-1, *([1] * (tensor.ndim - 1))) * tensor


def start(model, params: Params, dt0: float) -> FlowState:
    """Evaluate the model at ``params`` and build the state at t = 0."""
    ev = model.evaluate(params)
    E = ev.loss.shape[0]
    zeros = torch.zeros(E, dtype=ev.loss.dtype, device=ev.loss.device)
    return FlowState(params, ev.loss, ev.grad, ev.output, zeros, zeros + dt0, evaluations=1)


def _finite(loss: torch.Tensor, grads: Params) -> torch.Tensor:
    ok = torch.isfinite(loss)
    for g in grads.values():
        ok = ok & torch.isfinite(g.reshape(g.shape[0], -1)).all(-1)
    return ok


def log_checkpoints(max_steps: int, points: int) -> set[int]:
    """About ``points`` log-spaced step numbers in [0, max_steps]."""
    if max_steps <= 0:
        return {0}
    grid = torch.logspace(0, math.log10(max_steps), points, dtype=torch.float64)
    return {0, *{round(float(v)) for v in grid}}
