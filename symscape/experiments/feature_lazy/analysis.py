r"""The analysis of the feature-vs-lazy grid: per-point observables, α*(h), its exponent.

**Crossover criterion.** The kernel change falls from ≫ 1 at small α
(the kernel is rebuilt: feature learning) to ≪ 1 at large α (lazy). For
each width, α*(h) is where the geometric mean over seeds of the kernel
change crosses ``kernel_threshold``, interpolated linearly in log–log between
the two grid values around the first crossing
(:func:`symscape.analysis.crossing`). The exponent of α* ~ h^b is the
least-squares slope in log–log over the widths with a crossing; its interval
resamples the seeds (the same draw at every (h, α)) and recomputes every
crossing.

Pure numpy on what the store holds: no training here.

>>> _ensemble_error(np.array([[[1.0]], [[np.nan]]]), np.array([1.0]))
0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, crossing, nan_geometric_mean, power_law_fit
from symscape.experiments.feature_lazy.config import REPORTED, FeatureLazyConfig
from symscape.train.losses import error_rate

__all__ = ["analyse", "crossing"]


def _ensemble_error(f: np.ndarray, y: np.ndarray) -> float:
    """Error of the mean predictor over the members whose outputs are all finite."""
    alive = np.isfinite(f.reshape(len(f), -1)).all(-1)
    return error_rate(f[alive].mean(0), y) if alive.any() else float("nan")


_geometric_mean = nan_geometric_mean  # the old private name


def _alpha_stars(config, changes: np.ndarray) -> list[float | None]:
    """α*(h) per width from per-seed kernel changes ``[widths, alphas, seeds]``."""
    geometric = nan_geometric_mean(changes)
    return [crossing(config.alphas, row, config.kernel_threshold) for row in geometric]


def _fit_alpha_star(
    config, changes: np.ndarray, min_width: float = 0.0, level: float = 0.95
) -> dict[str, Any] | None:
    """The exponent of α*(h) over the widths ≥ ``min_width`` that cross the threshold."""
    stars = _alpha_stars(config, changes)
    have = [i for i, s in enumerate(stars) if s is not None and config.widths[i] >= min_width]
    if len(have) < 2:
        return None
    widths = np.array(config.widths)
    slope, intercept = power_law_fit(widths[have], [stars[i] for i in have], solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "n_widths": len(have),
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
            sample = _alpha_stars(config, changes[:, :, draw])
            if any(sample[i] is None for i in have):
                return None
            return power_law_fit(widths[have], [sample[i] for i in have], solver="polyfit")[0]

        interval = bootstrap_interval(slope_of, E, n_bootstrap=config.n_bootstrap, level=level)
        out["ci_low"], out["ci_high"], out["dropped"] = interval
    return out


def analyse(
    config: FeatureLazyConfig, rows, outputs, y_test, lazy=None, jamming=None
) -> dict[str, Any]:
    """Every observable of the grid, α*(h) and its exponent, and the regime comparison.

    ``rows[(h, α)]`` are the stored rows of that point (one per seed, in seed
    order) and ``outputs[(h, α)]`` their test outputs ``[E, n_test, k]``;
    ``lazy``, when given, lists the lazy references of each width, and
    ``jamming`` the jamming transition at this P: α* is then fitted on the
    widths ≥ ``fit_from`` · h* only (near jamming the crossover is different).
    """
    points = []
    changes = np.empty((len(config.widths), len(config.alphas), len(config.seeds)))
    for i, width in enumerate(config.widths):
        for j, alpha in enumerate(config.alphas):
            f = outputs[(width, alpha)]
            scalars = [row["scalars"] for row in rows[(width, alpha)]]
            single = np.array([error_rate(member, y_test) for member in f])
            kernel = np.array([s["final"]["kernel_change"] for s in scalars])
            changes[i, j] = kernel
            points.append(
                {
                    "width": width,
                    "alpha": alpha,
                    "N": scalars[0]["n_weights"],
                    "fitted": float(np.mean([s["outcome"] == "fitted" for s in scalars])),
                    "test_error": float(single.mean()),
                    "test_error_std": float(single.std()),
                    "ensemble_test_error": _ensemble_error(f, y_test),
                    "kernel_change": float(nan_geometric_mean(kernel)),
                    "weight_change": float(np.mean([s["final"]["weight_change"] for s in scalars])),
                    "output_variance": float(f.var(0).mean()),
                    "per_seed_error": single.tolist(),
                    "per_seed_kernel_change": kernel.tolist(),
                }
            )
    stars = _alpha_stars(config, changes)
    h_star = (jamming or {}).get("h_star")
    min_width = config.fit_from * h_star if h_star else 0.0
    crossover = [
        {
            "width": w,
            "alpha_star": s,
            "alpha_star_code": None if s is None else s * math.sqrt(w),
        }
        for w, s in zip(config.widths, stars, strict=True)
    ]
    # the output variance over seeds against h, at the largest α (lazy end)
    lazy_end = [p for p in points if p["alpha"] == config.alphas[-1]]
    variance_fit = None
    if len(lazy_end) >= 2 and all(p["output_variance"] > 0 for p in lazy_end):
        slope, _ = power_law_fit(
            [p["width"] for p in lazy_end],
            [p["output_variance"] for p in lazy_end],
            solver="polyfit",
        )
        variance_fit = {"alpha": config.alphas[-1], "slope": slope}
    widest = config.widths[-1]
    by_key = {(p["width"], p["alpha"]): p for p in points}
    feature_error = by_key[(widest, config.alphas[0])]["test_error"]
    lazy_error = by_key[(widest, config.alphas[-1])]["test_error"]
    lazy_source = f"α = {config.alphas[-1]:g}"
    for reference in lazy or []:
        if reference["width"] == widest:
            lazy_error, lazy_source = reference["kernel_flow_error"], "frozen-kernel flow"
    regime = {
        "width": widest,
        "feature_error": feature_error,
        "lazy_error": lazy_error,
        "lazy_source": lazy_source,
        "better": "feature"
        if feature_error < lazy_error
        else "lazy"
        if lazy_error < feature_error
        else "neither",
    }
    return {
        "points": points,
        "crossover": crossover,
        "alpha_star_fit": _fit_alpha_star(config, changes, min_width),
        "jamming": jamming,
        "variance_fit": variance_fit,
        "lazy": lazy or [],
        "regime": regime,
        "reported": REPORTED,
    }
