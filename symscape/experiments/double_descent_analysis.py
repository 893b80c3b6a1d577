"""The analysis of double descent: per-width statistics, N*, and the exponents in h and in N.

SCIENCE.md §2 and §0. From the test outputs ``f`` (``[E, n_test]``) of E seeds
at each width h (N weights):

* the fitted fraction counts an undecided run (its budget reached with
  N_Δ > 0) as *not fitted*, as the authors count it; the undecided fraction
  is kept beside it; a run whose loss stopped moving with N_Δ > 0 is decided
  (jammed);
* N* is where the jamming minimiser's bisection in width located it (the
  flow approaches a zero loss ever more slowly near N*, so its own runs there
  crawl past any budget, undecided), else where the flow's fitted fraction
  crosses 1/2, interpolated linearly in ln N between the two widths around
  the crossing; the lowest N* the undecided runs allow (counted as fitted)
  is kept beside it;
* the exponents are fitted on the widths with N ≥ ``fit_from`` · N* where
  every seed fitted: against h first (‖f − f̄‖ ~ h^−1/2, ε − ε̄ ~ h^−1), then
  against N, where the theory's exponent is the one in h divided by the
  measured m = d ln N / d ln h over the fit range (−1/4 and −1/2 when
  N ∝ h², m = 2);
* the error gap ε − ε̄ has a statistical floor: a test error ε measured on
  n points has sampling standard deviation √(ε(1−ε)/n) (:func:`error_floor`);
  the gap, measured on the same n points for the members and their mean, has
  the paired standard deviation √(Var_x d(x)/n), d(x) the members' mean error
  at x minus the ensemble's (:func:`gap_floor`). A gap within two floors at a
  fitted width makes its exponent "not testable at this scale".

>>> round(error_floor(0.1, 1000), 6)  # √(0.1·0.9/1000)
0.009487
>>> round(local_exponent([10, 20, 40], [100, 400, 1600]), 6)  # N ∝ h²
2.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, fit_line, fit_ranges, paired_floor
from symscape.train.losses import error_rate, misclassified

__all__ = [
    "DECIDED",
    "IN_H",
    "N_SQUARED_TOL",
    "REPORTED",
    "analyse",
    "crossing_n_star",
    "error_floor",
    "fit_starts",
    "gap_floor",
    "local_exponent",
    "lowest_n_star",
    "power_law",
    "theory_in_n",
]

IN_H = {"fluctuation": -0.5, "error_gap": -1.0}
"""The theory's exponents in the width h: ‖f − f̄‖ ~ h^−1/2, ε − ε̄ ~ h^−1."""

REPORTED = {"fluctuation": -0.25, "error_gap": -0.5}
"""The papers' exponents in N, N^−1/4 and N^−1/2: they hold where N ∝ h²."""

DECIDED = ("fitted", "jammed", "plateau")
"""The outcomes of a decided run; any other (its budget reached with N_Δ > 0) is undecided
and counts as not fitted. Here ``"plateau"`` is decided: double descent sets the window on
the gradient flow only, whose loss never rises, so a loss that stopped falling has stopped
(elsewhere, e.g. feature vs lazy, a plateau of another dynamics stays undecided)."""

N_SQUARED_TOL = 0.1
"""|d ln N / d ln h − 2| up to which N ∝ h² holds (the reported N^−1/4, N^−1/2 apply)."""


def error_floor(error: float, n_test: int, seeds: int = 1) -> float:
    """The sampling standard deviation of a test error ε on ``n_test`` points, √(ε(1−ε)/n).

    ``seeds`` is kept for old callers and ignored: the seeds are measured on the same
    test points, so averaging them does not shrink the test set's sampling noise.
    """
    del seeds
    return math.sqrt(max(error * (1 - error), 0.0) / n_test)


def gap_floor(f: np.ndarray, y: np.ndarray) -> float:
    """The paired sampling standard deviation of ε − ε̄ on the test set: √(Var_x d(x) / n),
    d(x) = (1/E) Σ_i wrong_i(x) − wrong_ens(x), for member outputs ``f`` ``[E, n(, k)]``.

    >>> f = np.array([[1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]])
    >>> round(gap_floor(f, np.ones(4)), 6)  # d = (0, 1/2, 1/2, 0) - ensemble errors (0,0,0,0)
    0.125
    """
    f = np.asarray(f, dtype=np.float64)
    return paired_floor(misclassified(f, y), misclassified(f.mean(0)[None], y))


def local_exponent(widths: Sequence[float], N: Sequence[float]) -> float:
    """m = d ln N / d ln h, the least-squares slope of ln N against ln h."""
    return fit_line(np.log(np.asarray(widths, float)), np.log(np.asarray(N, float)))[0]


def theory_in_n(key: str, m: float) -> float:
    """The exponent in N to compare with where N ∝ h^m: the paper's (N^−1/4, N^−1/2) where
    |m − 2| ≤ :data:`N_SQUARED_TOL`, else the theory's exponent in h divided by m.

    >>> theory_in_n("fluctuation", 1.95), round(theory_in_n("fluctuation", 1.6), 4)
    (-0.25, -0.3125)
    """
    return REPORTED[key] if abs(m - 2) <= N_SQUARED_TOL else IN_H[key] / m


def crossing_n_star(N: Sequence[float], fitted: Sequence[float]) -> tuple[float | None, str]:
    """Where the fitted fraction first reaches 1/2 and stays there, and how it was located.

    Interpolated linearly in ln N between the last width below 1/2 and the
    next; ``(N[0], "at most")`` when every width is at or above 1/2 (N* lies
    below the narrowest width: an upper bound), ``(None, "not reached")`` when
    the widest is below 1/2.

    >>> N, how = crossing_n_star([10, 100, 1000], [0.0, 1.0, 1.0])
    >>> round(N, 6), how  # halfway between ln 10 and ln 100
    (31.622777, 'interpolated')
    >>> crossing_n_star([10, 100], [0.5, 1.0])
    (10.0, 'at most')
    """
    fitted = list(fitted)
    if not fitted or fitted[-1] < 0.5:
        return None, "not reached"
    below = [i for i, f in enumerate(fitted) if f < 0.5]
    if not below:
        return float(N[0]), "at most"
    i = below[-1]
    lo, hi = math.log(N[i]), math.log(N[i + 1])
    frac = (0.5 - fitted[i]) / (fitted[i + 1] - fitted[i])
    return float(math.exp(lo + frac * (hi - lo))), "interpolated"


def _fluctuation(f: np.ndarray, y: np.ndarray) -> float:
    """Mean over members of the root-mean-square distance to the ensemble mean."""
    return float(np.sqrt(((f - f.mean(0)) ** 2).reshape(len(f), -1).mean(-1)).mean())


def _error_gap(f: np.ndarray, y: np.ndarray) -> float:
    """Mean single-network error minus the error of the averaged predictor."""
    # every member's error and the averaged predictor's, in one pass
    errors = misclassified(np.concatenate([f, f.mean(0, keepdims=True)]), y).mean(-1).numpy()
    return float(np.mean(errors[:-1]) - errors[-1])


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "fluctuation": _fluctuation,
    "error_gap": _error_gap,
}


def power_law(x, sets, y, statistic, n_bootstrap: int, level: float = 0.95, seed: int = 0):
    """Slope of ln statistic(f) against ln x; the interval resamples the members.

    Each bootstrap draw resamples the E members (the same draw at every x,
    since the seeds are shared) and recomputes the statistic, ensemble mean
    included. ``None`` when the statistic is not positive at every x (a
    power law cannot be fitted); draws with a non-positive value are dropped
    and counted.
    """
    lx = np.log(np.asarray(x, float))
    values = np.array([statistic(f, y) for f in sets])
    if not np.all(values > 0):
        return None
    slope, intercept = fit_line(lx, np.log(values), solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "values": values.tolist(),
        "n_sizes": len(x),
        "n_seeds": len(sets[0]),
        "n_bootstrap": int(n_bootstrap),
        "level": level,
        "ci_low": None,
        "ci_high": None,
        "dropped": 0,
    }
    if n_bootstrap > 0 and len(sets[0]) > 1:

        def slope_of(draw: np.ndarray) -> float | None:
            sample = np.array([statistic(f[draw], y) for f in sets])
            return fit_line(lx, np.log(sample), solver="polyfit")[0] if np.all(sample > 0) else None

        interval = bootstrap_interval(
            slope_of, len(sets[0]), n_bootstrap=n_bootstrap, level=level, seed=seed
        )
        out["ci_low"], out["ci_high"], out["dropped"] = interval
    return out


def _best(curves) -> float | None:
    """Mean over seeds of each seed's lowest finite test error (None if no seed has one)."""
    best = [
        float(np.min(c[np.isfinite(c)])) for c in map(np.asarray, curves) if np.isfinite(c).any()
    ]
    return float(np.mean(best)) if best else None


def _point(width, rows, f, y_test, early) -> dict[str, Any]:
    """The statistics of one width (``f``: its seeds' test outputs)."""
    mean = f.mean(0)
    single = np.array([error_rate(f[i], y_test) for i in range(len(f))])
    fluctuation = np.sqrt(((f - mean) ** 2).reshape(len(f), -1).mean(-1))
    outcomes = [row["scalars"]["outcome"] for row in rows]
    error = float(single.mean())
    return {
        "width": width,
        "N": rows[0]["scalars"]["n_weights"],
        # an undecided run (budget reached, N_Δ > 0) is not fitted, as the authors count it
        "fitted": sum(o == "fitted" for o in outcomes) / len(outcomes),
        # decided: fitted, or stopped with N_Δ > 0 (jammed: the minimiser's convergence, or
        # "plateau": the loss stopped moving over the window, the authors' rule)
        "undecided": sum(o not in DECIDED for o in outcomes) / len(outcomes),
        "test_error": error,
        "test_error_std": float(single.std()),
        "error_floor": error_floor(error, len(y_test)),
        "gap_floor": gap_floor(f, y_test),
        "ensemble_test_error": error_rate(mean, y_test),
        "fluctuation": float(fluctuation.mean()),
        "output_norm": float(np.sqrt((f**2).reshape(len(f), -1).mean(-1)).mean()),
        "early_stopping_error": None if early is None else _best(early),
        "per_seed_error": single.tolist(),
        "per_seed_fluctuation": fluctuation.tolist(),
    }


def _floor_reason(points: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the error gap's exponent cannot be tested: a gap within two floors, else None."""
    for p in points:
        gap = p["test_error"] - p["ensemble_test_error"]
        floor = p.get("gap_floor", p["error_floor"])
        if gap <= 2 * floor:
            return (
                f"ε − ε̄ = {gap:.4f} at h = {p['width']:g} is within the statistical floor "
                f"(2 × {floor:.4f}, the paired sampling sd of the gap on the test set)"
            ).replace("-", "−")
    return None


def fit_starts(
    points, star, outputs, y_test, first: float, n_bootstrap: int, statistic=_fluctuation
) -> list[dict]:
    """The exponent in h of ``statistic`` (the fluctuation by default) against the start of
    its fit range.

    The fit range is N ≥ k·N* for k = ``first``, 2·first, 4·first, … (each set of widths
    once) while at least three widths where every seed fitted remain. The theory's −1/2
    is an asymptote (N ≫ N*), as is the error gap's −1: an exponent that settles as the
    start moves out is a finite-size correction near the peak, one that keeps drifting is
    not the law.
    Informative only: the verdict stays on the protocol's own range (``first``), chosen
    before the data. An error gap's entry says (``untestable``) when the gap at its widest
    width is within its statistical floor, as the protocol's fit does.
    """
    fitted = [p for p in points if p["fitted"] == 1.0]
    trend = []
    for k, _, indices in fit_ranges([p["N"] for p in fitted], first * star):
        h = [fitted[i]["width"] for i in indices]
        fit = power_law(h, [outputs[w] for w in h], y_test, statistic, n_bootstrap)
        if fit is not None:
            floor = _floor_reason([fitted[i] for i in indices]) if statistic is _error_gap else None
            trend.append(
                {"from": first * k, "widths": h, "slope": fit["slope"],
                 "ci_low": fit["ci_low"], "ci_high": fit["ci_high"], "untestable": floor}
            )  # fmt: skip
    return trend


def lowest_n_star(N: Sequence[float], fitted: Sequence[float], undecided: Sequence[float]):
    """The lowest N* the undecided runs allow: counted as fitted, where the fitted fraction
    crosses 1/2 (undecided runs can only lower N*); 0 when, so counted, every width reaches
    1/2 (no lower bound).

    >>> round(lowest_n_star([10, 100, 1000], [0, 0, 1], [0, 1, 0]), 6)
    31.622777
    >>> lowest_n_star([10, 100], [0, 1], [1, 0])
    0.0
    """
    value, how = crossing_n_star(N, [f + u for f, u in zip(fitted, undecided, strict=True)])
    return 0.0 if how == "at most" else value


def _n_star(points, search) -> dict[str, Any]:
    """N*, how it was located, the range of N* the data allow (``N_star_lowest``: the lowest
    the undecided runs allow; ``N_star_highest``: the top of the bisection's bracket), and
    the flow's own crossing: from the minimiser's bisection (``search``) when it ran, else
    from the flow's fitted fractions.

    A bisection whose bracket did not hold the transition bounds N*: below its narrowest
    width (``"at most"``: the minimiser fitted half its seeds there already) or above its
    widest (``"at least"``: it did not, where the flow did). The flow's crossing, biased
    upward by its undecided runs, is never used in its place.
    """
    N = [p["N"] for p in points]
    fitted = [p["fitted"] for p in points]
    flow, how = crossing_n_star(N, fitted)
    out = {
        "N_star": flow,
        "N_star_located": how,
        "N_star_lowest": None
        if flow is None
        else lowest_n_star(N, fitted, [p["undecided"] for p in points]),
        "N_star_highest": flow,
        "N_star_flow": flow,
        "N_star_search": search,
    }
    if search is None:
        return out
    tried = sorted(search["tried"], key=lambda t: t["N"])
    Ns = [t["N"] for t in tried]
    if search["N_star"] is None:  # the bracket did not hold the transition: a bound
        below = search.get("outside") == "below width_min"
        bound = float(Ns[0] if below else Ns[-1])
        out.update(
            N_star=bound,
            N_star_located="at most" if below else "at least",
            N_star_lowest=None,
            N_star_highest=None,
        )
        return out
    # the bisection leaves every tried width below its bracket under 1/2 and every one
    # above it at or over: the crossing is interpolated inside the bracket, as the flow's
    star = crossing_n_star(Ns, [t["fitted"] for t in tried])[0]
    low, high = search["bracket"]
    lowest = lowest_n_star(
        Ns, [t["fitted"] for t in tried], [t["undecided_fraction"] for t in tried]
    )
    out.update(
        N_star=star,
        N_star_located="bisection",
        # the data allow any N* in the bracket, and lower where undecided runs could fit
        N_star_lowest=min(lowest, float(low)),
        N_star_highest=float(high),
    )
    return out


def analyse(config, rows, outputs, y_test, early=None, search=None) -> dict[str, Any]:
    """Per width: errors, ensemble error, fluctuation, output norm; N*; fitted exponents.

    ``rows[w]`` are the stored rows of width w (one per seed, in seed order)
    and ``outputs[w]`` their test outputs ``[E, n_test(, k)]``; ``early[w]``,
    when given, each seed's test error along training (``[E, R]``, the
    recorded steps; NaN where the network had diverged), whose minimum is the
    early-stopped test error. That minimum is chosen on the test set itself
    (oracle early stopping, as in the paper's figure): a lower bound on what a
    validation split would give. ``config`` gives ``widths``, ``fit_from`` and
    ``n_bootstrap``. ``search``, when given, is the jamming minimiser's bisection
    (:func:`~symscape.experiments.double_descent.locate_n_star`): where it located N*,
    that N* is the experiment's; the flow's own crossing is kept as ``N_star_flow``.
    """
    points = [
        _point(w, rows[w], outputs[w], y_test, None if early is None else early[w])
        for w in config.widths
    ]
    where = _n_star(points, search)
    star = where["N_star"]
    fits: dict[str, Any] = {}
    fit_widths: list[float] = []
    m = None
    if star is not None:
        beyond = [p for p in points if p["N"] >= config.fit_from * star and p["fitted"] == 1.0]
        fit_widths = [p["width"] for p in beyond]
        if len(beyond) >= 2:
            h = [p["width"] for p in beyond]
            N = [p["N"] for p in beyond]
            m = local_exponent(h, N)
            sets = [outputs[w] for w in h]
            floor = _floor_reason(beyond)
            for key, statistic in STATISTICS.items():
                for suffix, x, reported in (("_h", h, IN_H[key]), ("", N, theory_in_n(key, m))):
                    fit = power_law(x, sets, y_test, statistic, config.n_bootstrap)
                    if fit is None:
                        continue
                    fit["reported"] = reported
                    fit["untestable"] = floor if key == "error_gap" else None
                    fits[key + suffix] = fit
    trend, gap_trend = [], []
    if star is not None:
        trend = fit_starts(points, star, outputs, y_test, config.fit_from, config.n_bootstrap)
        gap_trend = fit_starts(
            points, star, outputs, y_test, config.fit_from, config.n_bootstrap, _error_gap
        )
    return {
        "points": points,
        **where,
        "fit_widths": fit_widths,
        "dlnN_dlnh": m,
        "fits": fits,
        "fit_starts": trend,
        "gap_fit_starts": gap_trend,
        "reported": {key: fit["reported"] for key, fit in fits.items()},
    }
