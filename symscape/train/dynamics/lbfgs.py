"""The jamming minimiser: batched L-BFGS with a per-member backtracking line search.

It reaches the end point of training (a fitted state or a jammed minimum) in
few gradient evaluations, and flags each member that has stalled, so that
the loop can tell "jammed" from "not converged yet"; a stalled member at a
saddle escapes along its direction of negative curvature.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from symscape.errors import InvalidOptionError
from symscape.nets import Params
from symscape.nets.flat import flat_params, unflat_params
from symscape.train.dynamics.state import FlowState, _finite, _where, start

__all__ = ["LBFGS"]


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
        # one start vector for every member: a member's path does not depend on its ensemble
        generator = torch.Generator(device="cpu").manual_seed(N)
        q = torch.randn(N, generator=generator, dtype=w.dtype).to(w.device).expand(E, N)
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
