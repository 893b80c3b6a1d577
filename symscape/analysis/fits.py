"""Least-squares lines and power laws, with the standard error of the slope.

A power law ``y = a xᵇ`` is the line ``ln y = ln a + b ln x``. Three solvers
give the same line to rounding, and each is kept because the stored numbers
of some experiment come from it (changing solver changes the last bits):

- ``"centred"``: ``b = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)²``, ``ln a = ȳ − b x̄``;
- ``"polyfit"``: ``b`` from ``np.polyfit(x, y, 1)``, ``ln a = ȳ − b x̄``;
- ``"lstsq"``: both from ``np.linalg.lstsq`` on the design ``[x, 1]``.

>>> fit_line([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
(2.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symscape.analysis.bootstrap import bootstrap_interval
from symscape.errors import InvalidOptionError

__all__ = ["SOLVERS", "fit_exponent", "fit_line", "fit_ranges", "power_law_fit", "slope_stderr"]

SOLVERS = ("centred", "polyfit", "lstsq")


RANGE_TOLERANCE = 0.01
"""Relative slack of a range's start: widths on a rounded √2 grid (45.3, 90.5, 181) stay in
the range that starts at twice their neighbour (90.6, 181.0, 362.0)."""


def fit_ranges(
    values: Sequence[float], first: float, at_least: int = 3
) -> list[tuple[int, float, list[int]]]:
    """The fit ranges ``values ≥ k · first`` for k = 1, 2, 4, …, as ``(k, cut, indices)``:
    each distinct set of indices once, while at least ``at_least`` values remain.

    The first range (k = 1) is ``values ≥ first`` exactly, a protocol's own; the later
    ones cut at ``k · first`` less :data:`RANGE_TOLERANCE`, so that a value on a rounded
    grid (90.5 against 2 × 45.3) stays in. A law that holds asymptotically (a finite-size
    correction at small x) shows as a slope that settles when the fit range starts
    further out; these are the ranges.

    >>> fit_ranges([4, 8, 16, 32, 64], 5.0)  # from 20 on, two values: too few
    [(1, 5.0, [1, 2, 3, 4]), (2, 9.9, [2, 3, 4])]
    >>> fit_ranges([11.3, 22.6, 45.3, 90.5, 128, 181, 256], 22.6)[-1][::2]  # 90.5 ≈ 4 × 22.6
    (4, [3, 4, 5, 6])
    >>> fit_ranges([1, 2], 1.0)
    []
    """
    values = np.asarray(values, float)
    if not (first > 0 and math.isfinite(first)):
        raise InvalidOptionError(f"first={first} must be > 0", fix="start the ranges above 0")
    if at_least < 1:
        raise InvalidOptionError(f"at_least={at_least} must be >= 1", fix="e.g. 3")
    if not np.isfinite(values).all():
        raise InvalidOptionError("a value to fit over is not finite", fix="drop it first")
    out: list = []
    k = 1
    while True:
        cut = first if k == 1 else k * first * (1 - RANGE_TOLERANCE)
        indices = np.flatnonzero(values >= cut).tolist()
        if len(indices) < at_least:
            return out
        if not out or indices != out[-1][2]:
            out.append((k, cut, indices))
        k *= 2


def fit_line(x, y, *, solver: str = "centred") -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``y ≈ intercept + slope · x``.

    ``x`` and ``y`` are two arrays of one length ``≥ 2``; ``solver`` is one of
    :data:`SOLVERS` (see the module's docstring).

    >>> slope, intercept = fit_line([1.0, 2.0, 3.0], [2.0, 2.5, 3.0], solver="lstsq")
    >>> round(slope, 12), round(intercept, 12)
    (0.5, 1.5)
    >>> fit_line([1.0], [2.0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symscape.errors.InvalidOptionError: a line needs two points or more, ...
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise InvalidOptionError(
            f"a line needs two points or more, got x {x.shape} and y {y.shape}",
            fix="pass more points",
        )
    if solver == "lstsq":
        design = np.stack([x, np.ones_like(x)], axis=1)
        (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(slope), float(intercept)
    if solver == "centred":
        centred = x - x.mean()
        slope = float((centred * (y - y.mean())).sum() / (centred**2).sum())
    elif solver == "polyfit":
        slope = float(np.polyfit(x, y, 1)[0])
    else:
        raise InvalidOptionError(
            f"solver={solver!r} is not one of {', '.join(SOLVERS)}", fix="pass solver='centred'"
        )
    return slope, float(y.mean() - slope * x.mean())


def power_law_fit(x, y, *, solver: str = "centred") -> tuple[float, float]:
    """``(b, ln a)`` of the power law ``y = a xᵇ``: :func:`fit_line` of ``ln y`` on ``ln x``.

    >>> b, log_a = power_law_fit([1.0, 10.0, 100.0], [5.0, 0.5, 0.05], solver="polyfit")
    >>> round(b, 12), round(float(np.exp(log_a)), 12)
    (-1.0, 5.0)
    """
    return fit_line(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), solver=solver)


def slope_stderr(x, y, slope: float, intercept: float) -> float | None:
    """Standard error of a least-squares slope: ``√(Σ r² / (n − 2) / Σ (x − x̄)²)``.

    ``r`` are the residuals ``y − (slope · x + intercept)``; ``None`` with two
    points (no degree of freedom is left).

    >>> slope_stderr([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], 1.0, 0.0)
    0.0
    >>> slope_stderr([0.0, 1.0], [0.0, 1.0], 1.0, 0.0) is None
    True
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    residual = y - np.stack([x, np.ones_like(x)], axis=1) @ np.array([slope, intercept])
    dof = len(x) - 2
    if not dof:
        return None
    return float(np.sqrt(residual @ residual / dof / ((x - x.mean()) ** 2).sum()))


def fit_exponent(
    sizes: Sequence[float],
    errors: Sequence[Sequence[float]],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Least-squares slope of ``ln ε`` against ``ln P``, with a bootstrap over seeds.

    ``errors[i][j]`` is the test error at ``sizes[i]`` for seed ``j`` (the
    same seeds at every P). The slope and intercept are fitted on every
    (P, seed) pair, i.e. on the mean of ``ln ε`` at each P (the ``"centred"``
    solver of :func:`fit_line`). The interval is the ``level`` percentile
    interval of the slopes refitted on ``n_bootstrap`` resamplings of the
    seeds with replacement (:func:`~symscape.analysis.bootstrap_interval`,
    numpy generator ``seed``); it is ``None`` with one seed or
    ``n_bootstrap = 0``. Needs two sizes and finite, positive errors.

    >>> fit = fit_exponent([10, 100, 1000], [[2.0, 2.2], [0.2, 0.21], [0.02, 0.019]])
    >>> round(fit["slope"], 2), fit["ci_low"] is not None
    (-1.02, True)
    """
    try:
        p = np.asarray(sizes, dtype=np.float64)
        e = np.asarray(errors, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            "fit_exponent needs a list of sizes and a table of errors [P, seeds]",
            fix="pass e.g. sizes=[16, 32], errors=[[0.5, 0.6], [0.3, 0.2]]",
        ) from None
    if e.ndim == 1:
        e = e[:, None]
    if p.ndim != 1 or e.ndim != 2 or len(p) != len(e) or e.shape[1] == 0:
        raise InvalidOptionError(
            f"sizes {p.shape} and errors {e.shape} do not match",
            fix="pass one row of per-seed errors per size",
        )
    if len(np.unique(p)) < 2 or not (np.all(np.isfinite(p)) and np.all(p > 0)):
        raise InvalidOptionError(
            f"sizes={p.tolist()} needs two distinct positive values", fix="use more sizes P"
        )
    if not (np.all(np.isfinite(e)) and np.all(e > 0)):
        raise InvalidOptionError(
            "a learning-curve exponent needs finite, positive test errors",
            fix="check the run (a test error of 0 cannot be fitted in log scale)",
        )
    x, logs = np.log(p), np.log(e)
    n_seeds = e.shape[1]
    slope, intercept = fit_line(x, logs[:, np.arange(n_seeds)].mean(axis=1))
    residual = logs - (intercept + slope * x)[:, None]
    out = {
        "slope": slope,
        "intercept": intercept,
        "residual_rms_log": float(np.sqrt((residual**2).mean())),
        "n_sizes": len(p),
        "n_seeds": n_seeds,
        "level": level,
        "n_bootstrap": int(n_bootstrap),
        "ci_low": None,
        "ci_high": None,
    }
    if n_seeds > 1 and n_bootstrap > 0:
        interval = bootstrap_interval(
            lambda seeds: fit_line(x, logs[:, seeds].mean(axis=1))[0],
            n_seeds,
            n_bootstrap=int(n_bootstrap),
            level=level,
            seed=seed,
        )
        out["ci_low"], out["ci_high"] = interval.low, interval.high
    return out
