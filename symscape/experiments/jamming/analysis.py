"""The analysis of a jamming record: the line N*(P) and the gap exponents θ and γ.

Pure numpy: functions of the numbers a search and a jammed minimum give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, slope_stderr
from symscape.analysis import fit_line as _least_squares

__all__ = ["GAP_FRACTIONS", "REPORTED_GAPS", "fit_line", "gap_exponents"]


def fit_line(P: Sequence[float], N: Sequence[float]) -> dict[str, Any] | None:
    """Least squares of ln N* on ln P: slope, intercept and the slope's standard error."""
    x, y = np.log(np.asarray(P, float)), np.log(np.asarray(N, float))
    if len(x) < 2:
        return None
    slope, intercept = _least_squares(x, y, solver="lstsq")
    stderr = slope_stderr(x, y, slope, intercept)
    return {"slope": slope, "intercept": intercept, "slope_stderr": stderr}


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
