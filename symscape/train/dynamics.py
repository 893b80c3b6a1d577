"""Training dynamics, batched over the ensemble with per-member state.

Every dynamics keeps a :class:`FlowState` whose ``params``, ``loss``,
``grad`` and ``output`` are consistent (evaluated at ``params``) and
advances it by one ``step(model, state, active)``; members outside
``active`` do not move. One step costs one full-batch gradient evaluation
(two for mini-batch SGD: the batch gradient, then the full-batch loss and
outputs the stopping rules read).

* :class:`AdaptiveFlow` — gradient flow with an adaptive step, per member
  (SCIENCE.md §3): from ``dt``, try ``w' = w − dt g``; accept when
  ``‖g − g'‖² / (‖g‖ ‖g'‖) < grad_tol`` and ``max |ΔF| < output_tol``; when
  both are under half their bound ``dt ← 1.1 dt``; on reject, keep ``w``
  and ``dt ← dt / 10``. A step of ``dt ≤ dt_min`` is accepted whatever the
  gradient change (if finite and within ``output_tol``), and a rejection for
  the gradient change alone does not take dt below ``dt_min``: at a kink of
  ReLU the gradient jumps by a finite amount however small the step, and
  without this floor the flow would creep towards the kink forever. Small
  ReLU networks (P·h of a few thousands) still cross kinks often and then
  advance slowly; smooth activations (softplus, swish) do not. With ``tau``
  set, the momentum variant: ``v ← e^{−dt/τ} v − (1 − e^{−dt/τ}) g``,
  ``w ← w + dt v``.
* :class:`SGD` — ``w ← w − lr g``, full batch or mini-batches (the batch
  order comes from ``batch_seed``, shared by the members; each epoch is a
  fresh permutation, and its last ``P mod batch_size`` points are skipped).
* :class:`Adam` — Adam with the jamming protocol's schedule: ``lr`` divided
  by 10 every ``decay_every`` steps down to ``lr_min``.

A step whose result is not finite is treated as a divergence by the loop
(:mod:`symscape.train.loop`); the adaptive flow instead rejects it and
shrinks ``dt``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from symscape.errors import InvalidOptionError
from symscape.nets import Params

__all__ = ["DYNAMICS", "SGD", "Adam", "AdaptiveFlow", "FlowState"]

DYNAMICS = ("flow", "momentum_flow", "kernel_flow", "sgd", "adam")


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


@dataclasses.dataclass(frozen=True)
class SGD:
    """Gradient descent with learning rate ``lr``; mini-batches when ``batch_size`` is set."""

    lr: float = 0.1
    batch_size: int | None = None
    batch_seed: int = 0

    def __post_init__(self):
        if not self.lr > 0:
            raise InvalidOptionError(f"lr={self.lr} must be > 0", fix="use a positive lr")
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidOptionError(f"batch_size={self.batch_size} must be >= 1", fix="or none")

    def init(self, model, params: Params) -> FlowState:
        state = start(model, params, self.lr)
        state.extra["generator"] = torch.Generator().manual_seed(self.batch_seed)
        state.extra["order"] = torch.empty(0, dtype=torch.long)
        return state

    def _gradient(self, model, state: FlowState) -> Params:
        if self.batch_size is None or self.batch_size >= len(model.y_train):
            return state.grad
        order = state.extra["order"]
        if len(order) < self.batch_size:
            order = torch.randperm(len(model.y_train), generator=state.extra["generator"])
        batch, state.extra["order"] = order[: self.batch_size], order[self.batch_size :]
        state.evaluations += 1
        return model.batch_gradient(state.params, batch.to(model.y_train.device))

    def step(self, model, state: FlowState, active: torch.Tensor) -> FlowState:
        grad = self._gradient(model, state)
        lr = torch.where(active, state.dt, torch.zeros_like(state.dt))
        new = {n: p - _times(lr, grad[n]) for n, p in state.params.items()}
        # where, not lr = 0: 0 · inf would turn a stopped member's weights into NaN
        return _advance(model, state, _where(active, new, state.params), active, lr)


def _advance(model, state: FlowState, new: Params, active, dt) -> FlowState:
    ev = model.evaluate(new)
    state.evaluations += 1
    state.params, state.loss, state.grad, state.output = new, ev.loss, ev.grad, ev.output
    state.t = state.t + torch.where(active, dt, torch.zeros_like(dt))
    return state


@dataclasses.dataclass(frozen=True)
class Adam:
    """Full-batch Adam; ``lr`` divided by 10 every ``decay_every`` steps, not below ``lr_min``."""

    lr: float = 1e-4
    decay_every: int = 250_000
    lr_min: float = 1e-7
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self):
        if not self.lr > 0 or not self.lr_min > 0 or self.decay_every < 1:
            raise InvalidOptionError(
                f"lr={self.lr}, lr_min={self.lr_min}, decay_every={self.decay_every}",
                fix="use lr > 0, lr_min > 0, decay_every >= 1",
            )
        if self.lr < self.lr_min:
            raise InvalidOptionError(
                f"lr={self.lr} is below the schedule's floor lr_min={self.lr_min}",
                fix="use lr >= lr_min",
            )

    def learning_rate(self, step: int) -> float:
        """The schedule: ``max(lr · 10^−⌊step / decay_every⌋, lr_min)`` (step counts from 0)."""
        return max(self.lr * 0.1 ** (step // self.decay_every), self.lr_min)

    def init(self, model, params: Params) -> FlowState:
        state = start(model, params, self.lr)
        state.extra["m"] = {n: torch.zeros_like(p) for n, p in params.items()}
        state.extra["v"] = {n: torch.zeros_like(p) for n, p in params.items()}
        state.extra["count"] = torch.zeros_like(state.t)
        return state

    def step(self, model, state: FlowState, active: torch.Tensor) -> FlowState:
        b1, b2 = self.betas
        count = state.extra["count"] + active.to(state.t.dtype)
        decays = torch.div(count - 1, self.decay_every, rounding_mode="floor").clamp(min=0)
        lr = (self.lr * 0.1**decays).clamp(min=self.lr_min)
        lr = torch.where(active, lr, torch.zeros_like(lr))
        m_new, v_new, new = {}, {}, {}
        for n, p in state.params.items():
            g = state.grad[n]
            m_new[n] = b1 * state.extra["m"][n] + (1 - b1) * g
            v_new[n] = b2 * state.extra["v"][n] + (1 - b2) * g * g
            c = count.clamp(min=1)
            m_hat = _times(1 / (1 - b1**c), m_new[n])
            v_hat = _times(1 / (1 - b2**c), v_new[n])
            new[n] = p - _times(lr, m_hat / (v_hat.sqrt() + self.eps))
        state.extra["m"] = _where(active, m_new, state.extra["m"])
        state.extra["v"] = _where(active, v_new, state.extra["v"])
        state.extra["count"] = count
        state.dt = torch.where(active, lr, state.dt)
        return _advance(model, state, _where(active, new, state.params), active, lr)


def log_checkpoints(max_steps: int, points: int) -> set[int]:
    """About ``points`` log-spaced step numbers in [0, max_steps]."""
    if max_steps <= 0:
        return {0}
    grid = torch.logspace(0, math.log10(max_steps), points, dtype=torch.float64)
    return {0, *{round(float(v)) for v in grid}}
