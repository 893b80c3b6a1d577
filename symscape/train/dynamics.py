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
* :class:`LBFGS` — the jamming minimiser: batched L-BFGS with a per-member
  backtracking line search, for reaching the end point of training (a
  fitted state or a jammed minimum) in few gradient evaluations; it flags
  each member that has stalled, so that the loop can tell "jammed" from
  "not converged yet".

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
from symscape.nets.flat import flat_params, unflat_params

__all__ = [
    "DYNAMICS",
    "LBFGS",
    "SGD",
    "Adam",
    "AdaptiveFlow",
    "FlowState",
    "flat_params",
    "unflat_params",
]

DYNAMICS = ("flow", "momentum_flow", "kernel_flow", "sgd", "adam", "lbfgs")


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


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


def _inverse_hessian_times(g, S, Y, rho, head) -> tuple[torch.Tensor, torch.Tensor]:
    """``H g`` for the L-BFGS inverse Hessian of each member, and whether it has history.

    The compact form (Byrd, Nocedal, Schnabel 1994; Nocedal & Wright eq. 7.24)
    with ``H₀ = γ I``, ``γ = sᵀy / yᵀy`` of the newest pair: a few batched
    matrix products instead of the two-loop recursion's 4m vector operations.
    ``S``, ``Y`` ``[m, E, N]`` are ring buffers written at ``head``; a slot
    with ``rho = 0`` is empty and contributes nothing.
    """
    m, E, N = S.shape
    order = (head[:, None] + torch.arange(m, device=g.device)) % m  # [E, m], oldest first
    index = order[..., None].expand(E, m, N)
    valid = torch.gather(rho.T, 1, order) > 0
    So = torch.gather(S.transpose(0, 1), 1, index) * valid[..., None]
    Yo = torch.gather(Y.transpose(0, 1), 1, index) * valid[..., None]
    SY = So @ Yo.transpose(1, 2)  # s_i · y_j
    YY = Yo @ Yo.transpose(1, 2)
    D = torch.diagonal(SY, dim1=1, dim2=2)
    R = torch.triu(SY) + torch.diag_embed((~valid).to(g.dtype))  # empty slots: a unit pivot
    has_history = valid[:, -1]
    gamma = torch.where(has_history, D[:, -1] / YY[:, -1, -1].clamp(min=1e-300), 1.0)
    a = So @ g[..., None]
    b = gamma[:, None, None] * (Yo @ g[..., None])
    u = torch.linalg.solve_triangular(R, a, upper=True)
    x = (torch.diag_embed(D) + gamma[:, None, None] * YY) @ u - b
    top = torch.linalg.solve_triangular(R.transpose(1, 2), x, upper=False)
    Hg = gamma[:, None] * g + (So.transpose(1, 2) @ top)[..., 0]
    Hg = Hg - gamma[:, None] * (Yo.transpose(1, 2) @ u)[..., 0]
    return Hg, has_history


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """Batched L-BFGS with a backtracking line search, member by member.

    Each step evaluates one trial point per active member: ``w + t d`` with
    ``d`` the L-BFGS direction (from the last ``history`` pairs ``(s, y)``;
    steepest descent with Polyak's step ``t = L / ‖g‖²``, capped, when
    there is no history or the direction is not clearly downhill: the step
    that would reach zero loss were the loss linear along ``−g``).
    The trial is accepted when it satisfies Armijo's condition
    ``L(w + t d) ≤ L(w) + c1 t g·d``; otherwise ``t`` shrinks (quadratic
    interpolation, kept within ``[t/10, t/2]``) and the member tries again at
    the next step. A pair with ``s·y ≤ 0`` is not stored.

    A member has *stalled* when its loss decreased by less than
    ``stall_tol`` (relative) over ``stall_steps`` accepted steps in a row; a
    stall whose gradient norm is still above ``grad_tol`` times the initial
    one is slow progress (the history is dropped and the member goes on). A
    member has also stalled after a *plateau*: its loss fell by less than
    ``plateau_tol`` (relative) over ``plateau_steps`` accepted steps.
    A stalled member may sit at a saddle (small networks stall at saddles
    whose negative curvature is tiny): its lowest Hessian eigenvalue is
    computed (:meth:`_escape_saddles`), and a member with a direction of
    negative curvature moves along it and goes on. It has *converged*
    (``state.extra["converged"]``) at a minimum (no negative curvature below
    ``curvature_tol`` relative to the largest eigenvalue), when its gradient
    vanishes, or when the line search fails along steepest descent. The
    loop calls a converged member ``jammed`` if N_Δ > 0, ``fitted`` otherwise.
    """

    history: int = 50
    stall_tol: float = 1e-9
    stall_steps: int = 10
    c1: float = 1e-4
    curvature_tol: float = 1e-7
    grad_tol: float = 1e-6
    plateau_steps: int = 2000
    plateau_tol: float = 1e-4

    def __post_init__(self):
        if self.history < 1 or self.stall_steps < 1:
            raise InvalidOptionError(
                f"history={self.history}, stall_steps={self.stall_steps}", fix="use values >= 1"
            )
        if not self.stall_tol > 0:
            raise InvalidOptionError(f"stall_tol={self.stall_tol} must be > 0", fix="e.g. 1e-9")

    def init(self, model, params: Params) -> FlowState:
        state = start(model, params, 1.0)
        g = flat_params(state.grad)
        E, N = g.shape
        m = min(self.history, N)  # more pairs than weights carry nothing new
        zeros = torch.zeros(m, E, N, dtype=g.dtype, device=g.device)
        state.extra.update(
            S=zeros,
            Y=zeros.clone(),
            rho=torch.zeros(m, E, dtype=g.dtype, device=g.device),
            head=torch.zeros(E, dtype=torch.long, device=g.device),  # next slot to write
            stalls=torch.zeros(E, dtype=torch.long, device=g.device),
            converged=torch.zeros(E, dtype=torch.bool, device=g.device),
            g0=g.norm(dim=-1),
            window_loss=state.loss.clone(),  # the loss where the current window started
            window_steps=torch.zeros(E, dtype=torch.long, device=g.device),
        )
        self._new_direction(state, torch.ones(E, dtype=torch.bool, device=g.device))
        return state

    def _new_direction(self, state: FlowState, members: torch.Tensor) -> None:
        """Direction and first trial step of ``members`` from their gradient and history."""
        g = flat_params(state.grad)
        extra = state.extra
        Hg, has_history = _inverse_hessian_times(
            g, extra["S"], extra["Y"], extra["rho"], extra["head"]
        )
        d = -Hg
        gg = _dot(g, g)
        # Polyak's step L / ‖g‖², capped: at a jammed point L stays finite while g → 0
        w_norm = flat_params(state.params).norm(dim=-1)
        cap = 0.1 * (1 + w_norm) / gg.sqrt().clamp(min=1e-300)
        polyak = torch.minimum(state.loss / gg.clamp(min=1e-300), cap)
        t = torch.where(has_history, torch.ones_like(polyak), polyak)
        gd = _dot(g, d)
        # not a (clear) descent direction, from a stale history: steepest descent instead
        cosine = gd / (gg.sqrt() * _dot(d, d).sqrt()).clamp(min=1e-300)
        bad = members & ~(cosine < -1e-6)
        if bool(bad.any()):
            extra["rho"][:, bad] = 0
            d = torch.where(bad[:, None], -g, d)
            t = torch.where(bad, polyak, t)
            gd = _dot(g, d)
        extra["d"] = torch.where(members[:, None], d, extra.get("d", d))
        extra["t"] = torch.where(members, t, extra.get("t", t))
        extra["gd"] = torch.where(members, gd, extra.get("gd", gd))
        extra["steepest"] = torch.where(members, ~has_history | bad, extra.get("steepest", bad))
        # a vanishing gradient: nothing left to do
        extra["converged"] = extra["converged"] | (members & ((gg == 0) | (state.loss == 0)))

    def _escape_saddles(self, model, state: FlowState, members: torch.Tensor) -> torch.Tensor:
        """Move ``members`` off a saddle along their lowest-curvature direction.

        Lanczos (``min(N, 30)`` steps, full reorthogonalisation) on exact
        Hessian-vector products (double backward; central differences of the
        gradient for a model without ``hessian_vector``) gives each member's
        lowest eigenpair (λ, v); one product counts as two evaluations. A
        member with λ < −``curvature_tol`` · λ_max is at a saddle: it moves to
        ``w + t v`` (v pointing downhill), ``t`` from the quadratic model for a
        1 % decrease of the loss, halved until the loss decreases. Returns the
        members that moved; their history and stall count are reset.
        """
        w = flat_params(state.params)
        g = flat_params(state.grad)
        E, N = w.shape
        k = min(N, 30)
        scale = 1e-5 * (1 + w.norm(dim=-1, keepdim=True) / math.sqrt(N))
        generator = torch.Generator(device="cpu").manual_seed(N)
        q = torch.randn(E, N, generator=generator, dtype=w.dtype).to(w.device)
        q = q / q.norm(dim=-1, keepdim=True)
        basis, diagonal, offdiagonal = [], [], []
        for j in range(k):
            basis.append(q)
            if hasattr(model, "hessian_vector"):  # exact, by double backward
                r = flat_params(model.hessian_vector(state.params, unflat_params(q, state.params)))
                state.evaluations += 2
            else:  # central differences of the gradient
                plus = model.evaluate(unflat_params(w + scale * q, state.params)).grad
                minus = model.evaluate(unflat_params(w - scale * q, state.params)).grad
                state.evaluations += 2
                r = (flat_params(plus) - flat_params(minus)) / (2 * scale)
            diagonal.append(_dot(q, r))
            for _ in range(2):  # full reorthogonalisation, twice
                for b in basis:
                    r = r - _dot(b, r)[:, None] * b
            beta = r.norm(dim=-1)
            if j < k - 1:
                offdiagonal.append(beta)
                q = r / beta.clamp(min=1e-300)[:, None]
        T = torch.diag_embed(torch.stack(diagonal, -1))
        if offdiagonal:
            off = torch.stack(offdiagonal, -1)
            T = T + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
        theta, vectors = torch.linalg.eigh(T)
        lowest, top = theta[:, 0], theta[:, -1].abs().clamp(min=1e-300)
        v = (torch.stack(basis, 1) * vectors[:, :, :1]).sum(1)
        v = torch.where((_dot(g, v) > 0)[:, None], -v, v)
        saddle = members & (lowest < -self.curvature_tol * top)
        state.extra["lowest_curvature"] = torch.where(
            members, lowest / top, state.extra.get("lowest_curvature", torch.zeros_like(lowest))
        )
        if not bool(saddle.any()):
            return saddle
        t = torch.sqrt(0.02 * state.loss / lowest.abs().clamp(min=1e-300))
        moved = torch.zeros_like(saddle)
        for _ in range(20):
            trying = saddle & ~moved
            if not bool(trying.any()):
                break
            trial = unflat_params(w + torch.where(trying, t, 0)[:, None] * v, state.params)
            ev = model.evaluate(trial)
            state.evaluations += 1
            # a sufficient decrease (a quarter of the quadratic model's), not a few ulps
            expected = 0.125 * lowest.abs() * t * t
            better = trying & _finite(ev.loss, ev.grad) & (state.loss - ev.loss >= expected)
            state.params = _where(better, trial, state.params)
            state.grad = _where(better, ev.grad, state.grad)
            state.loss = torch.where(better, ev.loss, state.loss)
            state.output = torch.where(better.reshape(-1, 1, 1), ev.output, state.output)
            moved = moved | better
            t = t / 2
        extra = state.extra
        extra["rho"][:, moved] = 0
        extra["stalls"] = torch.where(moved, 0, extra["stalls"])
        return moved

    def step(self, model, state: FlowState, active: torch.Tensor) -> FlowState:
        extra = state.extra
        active = active & ~extra["converged"]
        t = torch.where(active, extra["t"], torch.zeros_like(extra["t"]))
        w = flat_params(state.params)
        trial = unflat_params(w + t[:, None] * extra["d"], state.params)
        ev = model.evaluate(trial)
        state.evaluations += 1
        finite = _finite(ev.loss, ev.grad)
        armijo = ev.loss <= state.loss + self.c1 * t * extra["gd"]
        accept = active & finite & armijo
        reject = active & ~accept

        # accepted: store (s, y), move, count stalls, new direction
        if bool(accept.any()):
            g_old = flat_params(state.grad)
            g_new = flat_params(ev.grad)
            s = t[:, None] * extra["d"]
            y = g_new - g_old
            sy = _dot(s, y)
            store = accept & (sy > 1e-12 * (_dot(s, s) * _dot(y, y)).sqrt())
            slot = extra["head"]
            arange = torch.arange(len(slot), device=slot.device)
            S, Y, rho = extra["S"], extra["Y"], extra["rho"]
            S[slot[store], arange[store]] = s[store]
            Y[slot[store], arange[store]] = y[store]
            rho[slot[store], arange[store]] = 1 / sy[store]
            extra["head"] = torch.where(store, (slot + 1) % rho.shape[0], slot)
            decrease = state.loss - ev.loss
            stalled = decrease <= self.stall_tol * ev.loss.abs()
            extra["stalls"] = torch.where(
                accept, torch.where(stalled, extra["stalls"] + 1, 0), extra["stalls"]
            )
            state.params = _where(accept, trial, state.params)
            state.grad = _where(accept, ev.grad, state.grad)
            state.loss = torch.where(accept, ev.loss, state.loss)
            state.output = torch.where(accept.reshape(-1, 1, 1), ev.output, state.output)
            state.t = torch.where(accept, state.t + t, state.t)
            stalled = ~extra["converged"] & (extra["stalls"] >= self.stall_steps)
            if bool(stalled.any()):
                # first order: a stall with a gradient that has not vanished (relative to
                # the first one) is slow progress, not a minimum: forget the history
                g_norm = flat_params(state.grad).norm(dim=-1)
                moving = stalled & (g_norm > self.grad_tol * extra["g0"])
                if bool(moving.any()):
                    extra["rho"][:, moving] = 0
                    extra["stalls"] = torch.where(moving, 0, extra["stalls"])
                stalled = stalled & ~moving
            # a long plateau: the loss fell by less than plateau_tol (relative) over
            # plateau_steps accepted steps, however large the gradient (a crawl along a
            # narrow valley, as the published protocol's "loss stops moving")
            extra["window_steps"] = extra["window_steps"] + accept.long()
            full = accept & (extra["window_steps"] >= self.plateau_steps)
            if bool(full.any()):
                fell = extra["window_loss"] - state.loss
                flat = full & ~extra["converged"] & (fell <= self.plateau_tol * state.loss)
                stalled = stalled | flat
                extra["window_loss"] = torch.where(full, state.loss, extra["window_loss"])
                extra["window_steps"] = torch.where(full, 0, extra["window_steps"])
            if bool(stalled.any()):
                # second order: a minimum only if no direction of negative curvature is
                # left; otherwise escape along it
                escaped = self._escape_saddles(model, state, stalled)
                extra["converged"] = extra["converged"] | (stalled & ~escaped)
                accept = accept | escaped
            self._new_direction(state, accept)

        # rejected: a shorter step (quadratic interpolation), or give up along steepest descent
        if bool(reject.any()):
            curvature = ev.loss - state.loss - t * extra["gd"]
            guess = -extra["gd"] * t * t / (2 * curvature.clamp(min=1e-300))
            guess = torch.where(finite & (curvature > 0), guess, t / 2)
            shorter = torch.minimum(torch.maximum(guess, t / 10), t / 2)
            lost = reject & (
                shorter * _dot(extra["d"], extra["d"]).sqrt() <= 1e-14 * (1 + w.norm(dim=-1))
            )
            extra["t"] = torch.where(reject, shorter, extra["t"])
            if bool(lost.any()):
                give_up = lost & extra["steepest"]
                if bool(give_up.any()):  # no descent left to first order: a minimum or a saddle
                    escaped = self._escape_saddles(model, state, give_up)
                    extra["converged"] = extra["converged"] | (give_up & ~escaped)
                    if bool(escaped.any()):
                        self._new_direction(state, escaped)
                retry = lost & ~give_up  # the quasi-Newton direction failed: steepest descent
                if bool(retry.any()):
                    extra["rho"][:, retry] = 0
                    self._new_direction(state, retry)
        state.dt = torch.where(active, extra["t"], state.dt)
        return state


def log_checkpoints(max_steps: int, points: int) -> set[int]:
    """About ``points`` log-spaced step numbers in [0, max_steps]."""
    if max_steps <= 0:
        return {0}
    grid = torch.logspace(0, math.log10(max_steps), points, dtype=torch.float64)
    return {0, *{round(float(v)) for v in grid}}
