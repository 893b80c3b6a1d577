r"""The analysis of the feature-vs-lazy grid: per-cell observables, α*(h), its exponent,
the output-variance slope and the regime comparison, on fitted cells only.

**Fitted cells.** A cell (h, α) counts when every seed fitted (N_Δ = 0; an
undecided seed, budget reached with N_Δ > 0, is not fitted:
:mod:`~symscape.experiments.feature_lazy.cells`).

**Crossover criterion.** The kernel change falls from ≫ 1 at small α
(the kernel is rebuilt: feature learning) to ≪ 1 at large α (lazy). For
each width, α*(h) is where the geometric mean over seeds of the kernel
change first crosses ``kernel_threshold``, interpolated linearly in log–log
between the two grid values around the crossing
(:func:`symscape.analysis.crossing`); both must be fitted cells, else that
width has no α*. The exponent of α* ~ h^b is the least-squares slope in
log–log over the widths with a crossing; its interval resamples the seeds
(the same draw at every (h, α)) and recomputes every crossing.

**Output variance.** ``Var_seeds F(x)`` averaged over test points, at the
largest α on the fitted widths, and in the lazy limit itself (the
frozen-kernel flow, on the widths where every seed fitted); the slope of
its log against ln h, with an interval that resamples the seeds.

**Regime.** At the widest width, the per-seed difference ε_lazy − ε_feature
(the frozen-kernel flow, or the largest α, against the smallest α; the
seeds paired), its bootstrap interval over seeds, and its statistical floor on
the n test points: both errors are measured on the same points, so the floor
is the paired √(Var_x d(x)/n), d(x) the seeds' mean lazy error at x minus
their mean feature error (:func:`~symscape.analysis.paired_floor`), not the
unpaired √(ε(1−ε)/n) of one test error (kept beside it).

Pure numpy on what the store holds: no training here.

>>> _ensemble_error(np.array([[[1.0]], [[np.nan]]]), np.array([1.0]))
0.0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from symscape.analysis import (
    bootstrap_interval,
    crossing,
    fit_ranges,
    nan_geometric_mean,
    paired_floor,
    power_law_fit,
)
from symscape.experiments.feature_lazy.cells import fractions, jamming_line
from symscape.experiments.feature_lazy.config import REPORTED, FeatureLazyConfig
from symscape.train.losses import error_rate, misclassified

__all__ = ["alpha_star_trend", "analyse", "crossing", "variance_fit", "variance_trend"]


def _ensemble_error(f: np.ndarray, y: np.ndarray) -> float:
    """Error of the mean predictor over the members whose outputs are all finite."""
    alive = np.isfinite(f.reshape(len(f), -1)).all(-1)
    return error_rate(f[alive].mean(0), y) if alive.any() else float("nan")


_geometric_mean = nan_geometric_mean  # the old private name


def _fitted_crossing(alphas, values, ok, threshold: float) -> float | None:
    """The first downward crossing of ``threshold``, when both cells around it are fitted."""
    values = np.asarray(values, float)
    finite = [j for j in range(len(values)) if np.isfinite(values[j])]
    for a, b in itertools.pairwise(finite):
        if values[a] >= threshold > values[b]:
            if not (ok[a] and ok[b]):
                return None
            return crossing([alphas[a], alphas[b]], [values[a], values[b]], threshold)
    return None


def _alpha_stars(config, changes: np.ndarray, ok: np.ndarray | None = None) -> list:
    """α*(h) per width from per-seed kernel changes ``[widths, alphas, seeds]``, using
    only the cells where ``ok[width, alpha]`` (every seed fitted; all cells when None)."""
    geometric = nan_geometric_mean(changes)
    ok = np.ones(geometric.shape, bool) if ok is None else ok
    return [
        _fitted_crossing(config.alphas, row, good, config.kernel_threshold)
        for row, good in zip(geometric, ok, strict=True)
    ]


def _fit_alpha_star(
    config,
    changes: np.ndarray,
    min_width: float = 0.0,
    level: float = 0.95,
    ok: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """The exponent of α*(h) over the widths ≥ ``min_width`` that cross the threshold
    between fitted cells."""
    stars = _alpha_stars(config, changes, ok)
    have = [i for i, s in enumerate(stars) if s is not None and config.widths[i] >= min_width]
    if len(have) < 2:
        return None
    widths = np.array(config.widths)
    slope, intercept = power_law_fit(widths[have], [stars[i] for i in have], solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "n_widths": len(have),
        "widths": [float(widths[i]) for i in have],
        "min_width": min_width,
        "n_bootstrap": config.n_bootstrap,
        "level": level,
        "ci_low": None,
        "ci_high": None,
        "dropped": 0,
    }
    E = changes.shape[-1]
    if config.n_bootstrap > 0:

        def slope_of(draw: np.ndarray) -> float | None:
            sample = _alpha_stars(config, changes[:, :, draw], ok)
            if any(sample[i] is None for i in have):
                return None
            return power_law_fit(widths[have], [sample[i] for i in have], solver="polyfit")[0]

        interval = bootstrap_interval(slope_of, E, n_bootstrap=config.n_bootstrap, level=level)
        out["ci_low"], out["ci_high"], out["dropped"] = interval
    return out


_TREND_KEYS = ("slope", "ci_low", "ci_high", "widths")
"""What a trend keeps of each fit."""


def alpha_star_trend(
    config, changes: np.ndarray, min_width: float, ok: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """The exponent of α*(h) against the start of its fit range.

    The fit range is h ≥ k · ``min_width`` for k = 1, 2, 4, … (each set of widths once)
    while at least three widths with a crossing between fitted cells remain
    (:func:`~symscape.analysis.fit_ranges`). α* ~ h^−1/2 is a wide-network law (h far
    above the jamming line): an exponent that settles as the start moves out is a
    finite-size correction, one that keeps drifting is not the law. Informative only: the
    verdict stays on the protocol's range (k = 1), chosen before the data. With no jammed
    width (``min_width`` 0) the ranges start at the narrowest width with a crossing.
    """
    stars = _alpha_stars(config, changes, ok)
    crossed = [w for w, s in zip(config.widths, stars, strict=True) if s is not None]
    if not crossed:
        return []
    start = min_width or crossed[0]
    trend = []
    for k, cut, _ in fit_ranges(crossed, start):
        fit = _fit_alpha_star(config, changes, cut, ok=ok)  # the widths fit_ranges chose
        if fit is not None:
            trend.append({"from": k * start, **{key: fit[key] for key in _TREND_KEYS}})
    return trend


def variance_trend(widths, outputs, *, n_bootstrap: int = 1000) -> list[dict[str, Any]]:
    """:func:`variance_fit` over the widths ≥ k · (the narrowest), k = 1, 2, 4, … (each set
    of widths once, at least three): the output variance's h^−1 is a wide-network law, so
    its slope should settle as the range starts further out. Informative, like
    :func:`alpha_star_trend`."""
    if not len(widths):
        return []
    trend = []
    for k, _, indices in fit_ranges(widths, widths[0]):
        fit = variance_fit(
            [widths[i] for i in indices], [outputs[i] for i in indices], n_bootstrap=n_bootstrap
        )
        if fit is not None:
            trend.append({"from": k * widths[0], **{key: fit[key] for key in _TREND_KEYS}})
    return trend


def _variance(f: np.ndarray) -> float:
    """The output variance over members (axis 0), averaged over test points and outputs."""
    return float(f.var(0).mean())


def variance_fit(
    widths: Sequence[float],
    outputs: Sequence[np.ndarray],
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
) -> dict[str, Any] | None:
    """The slope of ``ln Var_seeds F`` against ``ln h`` over ``widths`` (``outputs[i]`` the
    test outputs ``[E, n_test, k]`` at ``widths[i]``, the seeds in one order at every
    width), with its percentile-bootstrap interval over seeds (one draw for every width).

    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal((64, 50, 1))
    >>> fit = variance_fit([4.0, 16.0, 64.0], [noise / h**0.5 for h in (4, 16, 64)])
    >>> round(fit["slope"], 6), fit["ci_low"] <= fit["slope"] <= fit["ci_high"]
    (-1.0, True)
    """
    if len(widths) < 2:
        return None
    variances = [_variance(f) for f in outputs]
    if not all(v > 0 and math.isfinite(v) for v in variances):
        return None
    slope, intercept = power_law_fit(widths, variances, solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "widths": [float(w) for w in widths],
        "variances": variances,
        "n_widths": len(widths),
        # the local slope between the two widest widths: a law approached as h grows (a
        # correction b/h² to a/h steepens the slope at small h) shows there first
        "local_slope": math.log(variances[-1] / variances[-2]) / math.log(widths[-1] / widths[-2]),
        "ci_low": None,
        "ci_high": None,
    }
    if n_bootstrap > 0:

        def slope_of(draw: np.ndarray) -> float | None:
            sample = [_variance(f[draw]) for f in outputs]
            if not all(v > 0 for v in sample):
                return None
            return power_law_fit(widths, sample, solver="polyfit")[0]

        E = len(outputs[0])
        interval = bootstrap_interval(slope_of, E, n_bootstrap=n_bootstrap, level=level)
        out["ci_low"], out["ci_high"] = interval.low, interval.high
    return out


def _regime(config, feature: np.ndarray, lazy: np.ndarray, source: str, y_test) -> dict:
    """ε_lazy − ε_feature over paired seeds from the test outputs ``[E, n, k]`` of both
    regimes, its interval over seeds, and its paired statistical floor on the n test points
    (with the unpaired √(ε(1−ε)/n) of one test error beside it)."""
    feature_wrong, lazy_wrong = misclassified(feature, y_test), misclassified(lazy, y_test)
    difference = (lazy_wrong.mean(-1) - feature_wrong.mean(-1)).numpy()
    n_test = len(y_test)
    out = {
        "width": config.widths[-1],
        "feature_error": float(feature_wrong.mean()),
        "lazy_error": float(lazy_wrong.mean()),
        "lazy_source": source,
        "difference": float(difference.mean()),
        "ci_low": None,
        "ci_high": None,
        "n_test": n_test,
        "floor": paired_floor(lazy_wrong, feature_wrong),
    }
    mean = (out["feature_error"] + out["lazy_error"]) / 2
    out["unpaired_floor"] = math.sqrt(mean * (1 - mean) / n_test)
    if config.n_bootstrap > 0:
        interval = bootstrap_interval(
            lambda draw: float(difference[draw].mean()),
            len(difference),
            n_bootstrap=config.n_bootstrap,
        )
        out["ci_low"], out["ci_high"] = interval.low, interval.high
    d = out["difference"]
    out["better"] = "lazy" if d < 0 else "feature" if d > 0 else "neither"
    return out


def analyse(
    config: FeatureLazyConfig,
    rows,
    outputs,
    y_test,
    lazy: Sequence[Mapping[str, Any]] | None = None,
    lazy_outputs: Mapping[float, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Every observable of the grid, α*(h) and its exponent, the output-variance slopes,
    the jamming line and the regime comparison.

    ``rows[(h, α)]`` are the stored rows of that cell (one per seed, in seed
    order) and ``outputs[(h, α)]`` their test outputs ``[E, n_test, k]``;
    ``lazy``, when given, lists the lazy references of each width
    (:func:`~symscape.experiments.feature_lazy.grid.run`) and ``lazy_outputs[h]``
    the frozen-kernel flow's test outputs. α* is fitted on the widths
    ≥ ``fit_from`` × the widest jammed width (when ``config.jamming``).
    """
    points = []
    shape = (len(config.widths), len(config.alphas))
    changes = np.empty((*shape, len(config.seeds)))
    fitted = np.empty(shape)
    for i, width in enumerate(config.widths):
        for j, alpha in enumerate(config.alphas):
            f = outputs[(width, alpha)]
            scalars = [row["scalars"] for row in rows[(width, alpha)]]
            single = np.array([error_rate(member, y_test) for member in f])
            kernel = np.array([s["final"]["kernel_change"] for s in scalars])
            changes[i, j] = kernel
            share = fractions([s["outcome"] for s in scalars])
            fitted[i, j] = share["fitted"]
            points.append(
                {
                    "width": width,
                    "alpha": alpha,
                    "N": scalars[0]["n_weights"],
                    **share,
                    "n_delta": float(np.mean([s["final"]["n_delta"] for s in scalars])),
                    "test_error": float(single.mean()),
                    "test_error_std": float(single.std()),
                    "ensemble_test_error": _ensemble_error(f, y_test),
                    "kernel_change": float(nan_geometric_mean(kernel)),
                    "weight_change": float(np.mean([s["final"]["weight_change"] for s in scalars])),
                    "output_variance": _variance(f),
                    "per_seed_error": single.tolist(),
                    "per_seed_kernel_change": kernel.tolist(),
                }
            )
    ok = fitted == 1.0
    line = jamming_line(config.widths, config.alphas, fitted) if config.jamming else None
    jammed = [c["h_jammed"] for c in line or [] if c["h_jammed"] is not None]
    min_width = config.fit_from * max(jammed) if jammed else 0.0
    stars = _alpha_stars(config, changes, ok)
    crossover = [
        {
            "width": w,
            "alpha_star": s,
            "alpha_star_code": None if s is None else s * math.sqrt(w),
        }
        for w, s in zip(config.widths, stars, strict=True)
    ]
    # the output variance over seeds against h: the largest α on fitted cells, and the
    # frozen-kernel flow (the α → ∞ limit) on the widths where all its seeds fitted
    last = len(config.alphas) - 1
    have = [i for i in range(len(config.widths)) if ok[i, last]]
    variance = variance_fit(
        [config.widths[i] for i in have],
        [outputs[(config.widths[i], config.alphas[-1])] for i in have],
        n_bootstrap=config.n_bootstrap,
    )
    if variance is not None:
        variance["alpha"] = config.alphas[-1]
        variance["trend"] = variance_trend(
            [config.widths[i] for i in have],
            [outputs[(config.widths[i], config.alphas[-1])] for i in have],
            n_bootstrap=config.n_bootstrap,
        )
    lazy_variance = None
    if lazy and lazy_outputs:
        done = [ref["width"] for ref in lazy if ref["kernel_flow_fitted"] == 1.0]
        lazy_variance = variance_fit(
            done, [lazy_outputs[w] for w in done], n_bootstrap=config.n_bootstrap
        )
        if lazy_variance is not None:
            lazy_variance["trend"] = variance_trend(
                done, [lazy_outputs[w] for w in done], n_bootstrap=config.n_bootstrap
            )
    widest = config.widths[-1]
    lazy_f, source = outputs[(widest, config.alphas[-1])], f"α = {config.alphas[-1]:g}"
    if lazy_outputs and widest in lazy_outputs:
        lazy_f, source = lazy_outputs[widest], "frozen-kernel flow"
    fitted_errors = [p["test_error"] for p in points if p["fitted"] == 1.0]
    return {
        "points": points,
        "crossover": crossover,
        "alpha_star_fit": _fit_alpha_star(config, changes, min_width, ok=ok),
        "alpha_star_trend": alpha_star_trend(config, changes, min_width, ok=ok),
        "jamming_line": line,
        "variance_fit": variance,
        "lazy_variance_fit": lazy_variance,
        "lazy": list(lazy or []),
        "regime": _regime(config, outputs[(widest, config.alphas[0])], lazy_f, source, y_test),
        "test_error_range": [min(fitted_errors), max(fitted_errors)] if fitted_errors else None,
        "reported": REPORTED,
    }
