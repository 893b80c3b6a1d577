"""The analysis of a jamming record: the line N*(P) and the gap exponents θ and γ.

Pure numpy: functions of the numbers a search and a jammed minimum give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, slope_stderr
from symscape.analysis import fit_line as _least_squares

__all__ = [
    "GAP_FRACTIONS",
    "REPORTED_GAPS",
    "capacity_line",
    "crossing",
    "fit_line",
    "gap_exponents",
]


def fit_line(P: Sequence[float], N: Sequence[float]) -> dict[str, Any] | None:
    """Least squares of ln N* on ln P: slope, intercept and the slope's standard error."""
    x, y = np.log(np.asarray(P, float)), np.log(np.asarray(N, float))
    if len(x) < 2:
        return None
    slope, intercept = _least_squares(x, y, solver="lstsq")
    stderr = slope_stderr(x, y, slope, intercept)
    return {"slope": slope, "intercept": intercept, "slope_stderr": stderr}


def crossing(P: Sequence[float], fitted: Sequence[float]) -> float | None:
    """Where the fitted fraction crosses 1/2, interpolated linearly in ln P.

    ``P`` increasing; the crossing lies after the last point of the run of
    fractions ≥ 1/2 that starts at the smallest P (a later, noisy rise above
    1/2 does not move it). ``None`` when the first fraction is already below
    1/2 or every fraction is at or above it.

    >>> round(crossing([10, 20, 40], [1.0, 0.75, 0.25]), 3)  # √(20 · 40)
    28.284
    >>> crossing([10, 20], [1.0, 0.5]) is None
    True
    """
    f = np.asarray(fitted, float)
    below = np.flatnonzero(f < 0.5)
    if not len(below) or below[0] == 0:
        return None
    i = below[0] - 1
    x0, x1 = math.log(P[i]), math.log(P[i + 1])
    t = (f[i] - 0.5) / (f[i] - f[i + 1])
    return float(math.exp(x0 + t * (x1 - x0)))


def _outcome_table(scan: Mapping[str, Any]) -> tuple[list[int], np.ndarray]:
    """The tried P and a [tried, runs] table of 1 (fitted) / 0 (not fitted) of one scan."""
    tried = scan["tried"]
    table = np.array([[o == "fitted" for o in t["outcomes"]] for t in tried], float)
    return [t["P"] for t in tried], table


def capacity_line(
    scans: Sequence[Mapping[str, Any]],
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any] | None:
    """The slope of ln P* against ln N over the scans, and P*/N at each N, with intervals.

    The point estimate fits ln P* = a + b ln N by least squares. The interval
    resamples the runs of each scan with replacement (the same runs at every P
    of a scan: seeds and data draws are shared along it; with several data
    draws, ``draws`` of them, the draws are resampled as clusters, since the
    seeds of one draw share its data), recomputes each
    P* by :func:`crossing` and refits: a percentile bootstrap of the seed
    noise of the crossing. A draw where some crossing leaves the tried range
    is dropped (``dropped`` counts them). Needs two scans with a located P*;
    with two, the slope has no residual check (``points`` says how many).
    N* ∝ P (slope 1) and a constant P*/N are the same law.
    """
    located = [s for s in scans if s.get("P_star") is not None]
    out: dict[str, Any] = {"points": len(located)}
    if not located:
        return None
    N = np.array([s["N"] for s in located], float)
    P = np.array([s["P_star"] for s in located], float)
    tables = [_outcome_table(s) for s in located]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        values = []
        for (tried, table), scan in zip(tables, located, strict=True):
            clusters = scan.get("draws", 1)
            if clusters > 1:
                size = table.shape[1] // clusters
                chosen = rng.integers(0, clusters, clusters)
                cols = (chosen[:, None] * size + np.arange(size)).ravel()
            else:
                cols = rng.integers(0, table.shape[1], table.shape[1])
            values.append(crossing(tried, table[:, cols].mean(axis=1)))
        if None not in values:
            draws.append(values)
    draws_arr = np.array(draws, float).reshape(len(draws), len(located))
    q = ((1 - level) / 2 * 100, (1 + level) / 2 * 100)
    ratios = []
    for i in range(len(located)):
        low, high = np.percentile(draws_arr[:, i] / N[i], q) if len(draws) else (None, None)
        ratios.append(
            {
                "N": int(N[i]),
                "P_star": float(P[i]),
                "ratio": float(P[i] / N[i]),
                "ci_low": None if low is None else float(low),
                "ci_high": None if high is None else float(high),
            }
        )
    out.update(ratios=ratios, dropped=n_bootstrap - len(draws), n_bootstrap=n_bootstrap)
    if len(located) < 2 or len(set(N)) < 2:
        out.update(slope=None, ci_low=None, ci_high=None)
        return out
    x = np.log(N)
    slope, intercept = _least_squares(x, np.log(P))
    slopes = [_least_squares(x, np.log(d))[0] for d in draws_arr]
    low, high = np.percentile(slopes, q) if slopes else (None, None)
    out.update(
        slope=slope,
        intercept=intercept,
        ci_low=None if low is None else float(low),
        ci_high=None if high is None else float(high),
    )
    return out


REPORTED_GAPS = {"theta": 0.3, "gamma": 0.2}


def _cdf_slope(values: np.ndarray, fraction: float, below: int = 0) -> float | None:
    """The exponent s of C(v) ~ v^s near 0, from the smallest ``fraction`` of ``values`` > 0.

    Maximum likelihood for a power law below the cut-off v_c (the largest
    value kept; Hill's estimator): ŝ = (m − 1) / Σ_{i<m} ln(v_c / v_i) over the
    m smallest values. ``below`` more values of that side lie under the smallest
    one (too close to the margin to be told apart): they count in the fraction,
    not in the fit.
    """
    v = np.sort(values[values > 0])
    m = int((len(v) + below) * fraction) - below
    if m < 3 or v[0] == v[m - 1]:
        return None
    logs = np.log(v[m - 1] / v[: m - 1])
    return float((m - 1) / logs.sum())


GAP_FRACTIONS = (0.1, 0.25, 0.5)


def gap_exponents(
    gaps,
    fraction: float = 0.25,
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    tol: float = 0.0,
) -> dict[str, Any]:
    """θ and γ from the gaps at jammed minima, with bootstrap intervals.

    On the unsatisfied side, P(Δ) ~ Δ^θ as Δ → 0⁺, so the cumulative
    distribution C(Δ) ~ Δ^{1+θ}; on the satisfied side P(−Δ) ~ (−Δ)^{−γ}, so
    C(−Δ) ~ (−Δ)^{1−γ} (SCIENCE.md §1). Each exponent comes from the
    maximum-likelihood exponent of C over the smallest ``fraction`` of that
    side's gaps (at least 3 of them, else ``None``; :func:`_cdf_slope`). The
    laws hold only as Δ → 0: a large fraction reaches into the bulk and biases
    the estimate, a small one has few points; ``drift`` gives the estimate at
    each of ``GAP_FRACTIONS`` to show how much it depends on that choice.
    Gaps with |Δ| ≤ ``tol`` (at the margin to rounding) count in C but are
    not fitted.

    ``gaps`` is one array, or a list of arrays, one per jammed minimum (seed).
    The gaps of one minimum are correlated, so with several minima the
    interval resamples the minima (a cluster bootstrap); with one, it
    resamples its gaps and is too narrow (``"resampled": "gaps"`` says so).
    ``n_bootstrap`` draws from the numpy generator ``seed``.

    >>> rng = np.random.default_rng(0)
    >>> unsat = rng.random(4000) ** (1 / 1.3)          # density ∝ Δ^0.3 on (0, 1)
    >>> sat = -(rng.random(4000) ** (1 / 0.8))        # density ∝ |Δ|^-0.2
    >>> fit = gap_exponents(np.concatenate([unsat, sat]), n_bootstrap=50)
    >>> round(fit["theta"]["value"], 1), round(fit["gamma"]["value"], 1)
    (0.3, 0.2)
    """
    if isinstance(gaps, np.ndarray) or not isinstance(gaps, Sequence):
        clusters = [np.asarray(gaps, float)]
    else:
        clusters = [np.asarray(g, float) for g in gaps]
    clusters = [g[np.isfinite(g)] for g in clusters]
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "fraction": fraction,
        "reported": REPORTED_GAPS,
        "minima": len(clusters),
        "resampled": "minima" if len(clusters) > 1 else "gaps",
    }

    def estimate(parts, sign: float, frac: float) -> float | None:
        values = np.concatenate([sign * g for g in parts]) if parts else np.empty(0)
        below = int(((values > 0) & (values <= tol)).sum())
        slope = _cdf_slope(values[values > tol], frac, below)
        if slope is None:
            return None
        return slope - 1 if sign > 0 else 1 - slope

    for name, sign in (("theta", 1.0), ("gamma", -1.0)):
        n = int(sum(((sign * g) > tol).sum() for g in clusters))
        value = estimate(clusters, sign, fraction)
        entry: dict[str, Any] = {"n": n, "value": value, "ci_low": None, "ci_high": None}
        entry["drift"] = {str(f): estimate(clusters, sign, f) for f in GAP_FRACTIONS}
        if value is not None and n_bootstrap > 0:

            def resampled(draw: np.ndarray, sign: float = sign) -> float | None:
                if len(clusters) > 1:
                    return estimate([clusters[i] for i in draw], sign, fraction)
                return estimate([clusters[0][draw]], sign, fraction)

            n = len(clusters) if len(clusters) > 1 else len(clusters[0])
            interval = bootstrap_interval(
                resampled, n, n_bootstrap=n_bootstrap, level=level, seed=rng
            )
            entry["ci_low"], entry["ci_high"] = interval.low, interval.high
        out[name] = entry
    return out
