"""Gradient flow with an adaptive step per member, and its momentum variant (SCIENCE.md §3).

From ``dt``, try ``w' = w − dt g``; accept when ``‖g − g'‖² / (‖g‖ ‖g'‖) <
grad_tol`` and ``max |ΔF| < output_tol``; when both are under half their
bound ``dt ← 1.1 dt``; on reject, keep ``w`` and ``dt ← dt / 10`` (not below
``dt_min`` for a rejection on the gradient change alone, see
:mod:`symscape.train.dynamics`). With ``tau`` set: ``v ← e^{−dt/τ} v −
(1 − e^{−dt/τ}) g``, ``w ← w + dt v``.
"""

from __future__ import annotations

import dataclasses

import torch

from symscape.errors import InvalidOptionError
from symscape.nets import Params
from symscape.train.dynamics.state import FlowState, _finite, _times, _where, start

__all__ = ["AdaptiveFlow"]


@dataclasses.dataclass(frozen=True)
class AdaptiveFlow:
    """Gradient flow with per-member adaptive steps (momentum when ``tau`` is set)."""

    dt0: float = 1.0
    grad_tol: float = 1e-4
    output_tol: float = 0.1
    tau: float | None = None
    max_time: float | None = None  # the last step is clipped to land on it
    dt_min: float = 1e-6

    def __post_init__(self):
        for name in ("dt0", "grad_tol", "output_tol", "dt_min"):
            if not getattr(self, name) > 0:
                raise InvalidOptionError(f"{name}={getattr(self, name)} must be > 0", fix="use > 0")
        if self.tau is not None and not self.tau > 0:
            raise InvalidOptionError(f"tau={self.tau} must be > 0", fix="use tau > 0 or none")

    def init(self, model, params: Params) -> FlowState:
        state = start(model, params, self.dt0)
        if self.tau is not None:
            state.extra["v"] = {n: torch.zeros_like(p) for n, p in params.items()}
        return state

    def step(self, model, state: FlowState, active: torch.Tensor) -> FlowState:
        dt = state.dt
        if self.max_time is not None:
            dt = torch.minimum(dt, (self.max_time - state.t).clamp(min=0))
        if self.tau is None:
            trial = {n: p - _times(dt, state.grad[n]) for n, p in state.params.items()}
        else:
            decay = torch.exp(-dt / self.tau)
            v_new = {
                n: _times(decay, v) - _times(1 - decay, state.grad[n])
                for n, v in state.extra["v"].items()
            }
            trial = {n: p + _times(dt, v_new[n]) for n, p in state.params.items()}
        ev = model.evaluate(trial)
        state.evaluations += 1

        g_sq, g_new_sq = model.sq_norm(state.grad), model.sq_norm(ev.grad)
        diff_sq = model.sq_norm({n: ev.grad[n] - state.grad[n] for n in ev.grad})
        denom = (g_sq * g_new_sq).sqrt()
        ratio = torch.where(denom > 0, diff_sq / denom.clamp(min=1e-300), torch.zeros_like(denom))
        delta_out = (ev.output - state.output).abs().reshape(len(ratio), -1).amax(-1)
        finite = _finite(ev.loss, ev.grad) & torch.isfinite(delta_out)
        smooth = (ratio < self.grad_tol) | (dt <= self.dt_min)
        accept = active & finite & smooth & (delta_out < self.output_tol)
        grow = accept & (ratio < self.grad_tol / 2) & (delta_out < self.output_tol / 2)

        state.params = _where(accept, trial, state.params)
        state.grad = _where(accept, ev.grad, state.grad)
        state.loss = torch.where(accept, ev.loss, state.loss)
        m = accept.reshape(-1, 1, 1)
        state.output = torch.where(m, ev.output, state.output)
        if self.tau is not None:
            state.extra["v"] = _where(accept, v_new, state.extra["v"])
        state.t = torch.where(accept, state.t + dt, state.t)
        rejected = active & ~accept
        new_dt = torch.where(grow, state.dt * 1.1, state.dt)
        # a step rejected for its gradient change alone does not go below dt_min (there it
        # is accepted); one whose outputs jumped or blew up keeps shrinking
        shrunk = torch.where(
            finite & (delta_out < self.output_tol), (dt / 10).clamp(min=self.dt_min), dt / 10
        )
        state.dt = torch.where(rejected, shrunk, new_dt)
        state.extra["accepted"] = accept
        return state
