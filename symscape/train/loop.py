"""The training loop: per-member stopping rules and observables at log-spaced steps.

Members stop one by one; a stopped member is frozen (its parameters stop
moving) while the others go on. Why each member stopped is kept:

================ ======================================================
``fitted``       N_Δ = 0: every Δ_μ ≤ ``gap_tol`` (default √ε of the
                 dtype times κ: a quadratic-hinge flow approaches the
                 margin from outside asymptotically, and stalls at
                 rounding level instead of crossing it)
``max_steps``    the step budget is spent
``max_time``     its simulated time reached ``max_time``
``wall_time``    the wall-clock budget is spent (all members at once)
``plateau``      its loss decreased by less than ``plateau_tol`` (relative)
                 over the last ``plateau_window`` steps
``diverged``     its loss became NaN or infinite (SGD, Adam; the adaptive
                 flow rejects such steps and shrinks dt instead)
``jammed``       (dynamics that detect convergence: ``lbfgs``) it stalled at
                 a minimum with N_Δ > 0; one that stalls with N_Δ = 0 is
                 ``fitted`` even when ``stop_when_fitted`` is off
================ ======================================================

The :class:`Trajectory` holds, at about ``record_points`` log-spaced steps
and at the end: step, per-member time t, dt, loss, N_Δ, train and test
error, test loss, margin quantiles, relative weight change ‖w − w₀‖/‖w₀‖,
wall time, the relative kernel change ‖Θ − Θ₀‖_F/‖Θ₀‖_F when the model
measures it (``kernel_points > 0``), and the test error of the ensemble-mean predictor
f̄ = mean_i F_i (over the members that did not diverge).

``loss`` is the training objective: ``(1/α²)⟨ℓ⟩`` for the α-centred model,
``⟨ℓ⟩`` for the frozen kernel; ``test_loss`` is always ``⟨ℓ⟩`` on the test
set. Errors count a tie (``y F = 0``) as wrong, so every error is 1 at t = 0
where the α-centred model outputs exactly 0. A step of the loop is one
update attempt: a rejected adaptive-flow step counts as a step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import torch

from symscape.errors import InvalidOptionError
from symscape.measure.hessian import gap_tolerance
from symscape.train.dynamics import FlowState, log_checkpoints
from symscape.train.losses import errors, gaps, loss_per_point, n_delta

__all__ = ["MARGIN_QUANTILES", "STATUSES", "StopRules", "Trajectory", "fit"]

STATUSES = (
    "running",
    "fitted",
    "max_steps",
    "max_time",
    "wall_time",
    "plateau",
    "diverged",
    "jammed",
)
MARGIN_QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)


@dataclasses.dataclass(frozen=True)
class StopRules:
    """When each member stops (see the module docstring)."""

    max_steps: int = 10_000
    max_time: float | None = None
    max_wall: float | None = None
    stop_when_fitted: bool = True
    plateau_window: int | None = None
    plateau_tol: float = 1e-6
    gap_tol: float | None = None

    def tolerance(self, dtype: torch.dtype, kappa: float) -> float:
        """The Δ below which a constraint counts as satisfied."""
        if self.gap_tol is not None:
            return self.gap_tol
        return gap_tolerance(dtype, kappa)

    def __post_init__(self):
        if self.max_steps < 0:
            raise InvalidOptionError(f"max_steps={self.max_steps} < 0", fix="use max_steps >= 0")
        for name in ("max_time", "max_wall"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InvalidOptionError(f"{name}={value} must be > 0", fix="or none")
        if self.plateau_window is not None and self.plateau_window < 1:
            raise InvalidOptionError(f"plateau_window={self.plateau_window} < 1", fix="or none")


@dataclasses.dataclass
class Trajectory:
    """Observables over training (arrays ``[R]`` or ``[R, E]``) and the final state."""

    records: dict[str, np.ndarray]
    status: list[str]
    stop_step: np.ndarray  # [E]
    evaluations: int
    params: dict[str, torch.Tensor]
    final: dict[str, np.ndarray]

    def last(self, name: str) -> np.ndarray:
        return self.records[name][-1]


def observe(model, state: FlowState, gap_tol: float = 0.0) -> dict[str, np.ndarray]:
    """The observables of the current state, per member."""
    loss = model.loss
    gap = gaps(state.output, model.y_train, loss.kappa)
    margins = loss.kappa - gap
    q = torch.tensor(MARGIN_QUANTILES, dtype=margins.dtype, device=margins.device)
    test_out = model.test_outputs(state.params)
    y_test = model.y_test
    test_loss = loss_per_point(loss.name, test_out, y_test, loss.kappa, loss.beta).mean(-1)
    # diverged members (non-finite loss) are left out of the ensemble mean
    alive = torch.isfinite(state.loss) & torch.isfinite(test_out.flatten(1)).all(-1)
    if alive.any():
        mean_out = test_out[alive].mean(0, keepdim=True)
        ensemble_error = float(errors(mean_out, y_test)[0])
    else:
        ensemble_error = float("nan")
    extra = {}
    if getattr(model, "kernel_points", 0):
        extra["kernel_change"] = model.kernel_change(state.params)
    return {
        **extra,
        "t": state.t,
        "dt": state.dt,
        "loss": state.loss,
        "n_delta": n_delta(gap, gap_tol),
        "train_error": errors(state.output, model.y_train),
        "test_error": errors(test_out, y_test),
        "test_loss": test_loss,
        "margin_quantiles": torch.quantile(margins, q, dim=-1).T,
        "weight_change": model.weight_change(state.params),
        "ensemble_test_error": torch.tensor(ensemble_error, dtype=torch.float64),
    }


def fit(
    model,
    dynamics,
    stop: StopRules = StopRules(),
    record_points: int = 40,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> Trajectory:
    """Train ``model`` with ``dynamics`` until every member has stopped."""
    started = time.perf_counter()
    state = dynamics.init(model, model.initial())
    E = state.loss.shape[0]
    device = state.loss.device
    status = torch.zeros(E, dtype=torch.long, device=device)  # index into STATUSES
    stop_step = torch.zeros(E, dtype=torch.long, device=device)
    checkpoints = log_checkpoints(stop.max_steps, record_points)
    rows: list[dict] = []
    plateau_ref = state.loss.clone()
    gap_tol = stop.tolerance(state.loss.dtype, model.loss.kappa)

    def record(step: int) -> None:
        row = {k: v.detach().cpu().numpy() for k, v in observe(model, state, gap_tol).items()}
        row["step"] = np.array(step)
        row["wall_time"] = np.array(time.perf_counter() - started)
        rows.append(row)

    def finish(mask: torch.Tensor, reason: str, step: int) -> None:
        # torch.where rather than boolean indexing: no host-device synchronisation
        nonlocal status, stop_step
        newly = mask & (status == 0)
        status = torch.where(newly, STATUSES.index(reason), status)
        stop_step = torch.where(newly, step, stop_step)

    def check(step: int) -> None:
        # a non-finite weight or gradient makes the loss non-finite at the next evaluation
        finish(~torch.isfinite(state.loss), "diverged", step)
        converged = state.extra.get("converged")
        if stop.stop_when_fitted or converged is not None:
            unsatisfied = n_delta(gaps(state.output, model.y_train, model.loss.kappa), gap_tol)
            if stop.stop_when_fitted:
                finish(unsatisfied == 0, "fitted", step)
            if converged is not None:
                finish(converged & (unsatisfied > 0), "jammed", step)
                finish(converged, "fitted", step)
        if stop.max_time is not None:
            finish(state.t >= stop.max_time * (1 - 1e-12), "max_time", step)
        if stop.max_wall is not None and time.perf_counter() - started > stop.max_wall:
            finish(torch.ones_like(status, dtype=torch.bool), "wall_time", step)

    check(0)
    record(0)
    step = 0
    # asking whether anyone still runs synchronises with the device: on a GPU, ask every
    # few steps (stopped members are frozen, so the extra steps change nothing)
    every = 1 if device.type == "cpu" else 16
    while step < stop.max_steps and (step % every or bool((status == 0).any())):
        step += 1
        active = status == 0
        state = dynamics.step(model, state, active)
        check(step)
        if stop.plateau_window is not None and step % stop.plateau_window == 0:
            stalled = (plateau_ref - state.loss) <= stop.plateau_tol * plateau_ref.abs()
            finish(stalled & (state.loss > 0), "plateau", step)
            plateau_ref = state.loss.clone()
        if callback is not None:
            callback(step, status)
        if step in checkpoints:
            record(step)
    finish(status == 0, "max_steps", step)
    if int(rows[-1]["step"]) != step:
        record(step)

    records = {key: np.stack([row[key] for row in rows]) for key in rows[0]}
    return Trajectory(
        records=records,
        status=[STATUSES[i] for i in status.tolist()],
        stop_step=stop_step.cpu().numpy(),
        evaluations=state.evaluations,
        params={n: p.detach() for n, p in state.params.items()},
        final={key: value[-1] for key, value in records.items()},
    )
