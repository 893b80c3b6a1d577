"""Stochastic gradient descent and Adam, batched over the ensemble.

* :class:`SGD`: ``w ← w − lr g``, full batch or mini-batches (one batch order
  from ``batch_seed``, shared by the members; each epoch a fresh permutation
  whose last ``P mod batch_size`` points are skipped).
* :class:`Adam`: Adam with the jamming protocol's schedule, ``lr`` divided
  by 10 every ``decay_every`` steps down to ``lr_min``.
"""

from __future__ import annotations

import dataclasses

import torch

from symscape.errors import InvalidOptionError
from symscape.nets import Params
from symscape.train.dynamics.state import FlowState, _times, _where, start

__all__ = ["SGD", "Adam"]


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
