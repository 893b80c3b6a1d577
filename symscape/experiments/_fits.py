"""Power-law fits with bootstrap intervals, shared by the experiments.

>>> fit = fit_exponent([10, 100, 1000], [[2.0, 2.2], [0.2, 0.21], [0.02, 0.019]])
>>> round(fit["slope"], 2), fit["ci_low"] is not None
(-1.02, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["fit_exponent"]


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
    (P, seed) pair, i.e. on the mean of ``ln ε`` at each P. The interval is
    the ``level`` percentile interval of the slopes refitted on ``n_bootstrap``
    resamplings of the seeds with replacement (numpy generator ``seed``); it
    is ``None`` with one seed or ``n_bootstrap = 0``. Needs two sizes and
    finite, positive errors.
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

    def slope_intercept(columns: np.ndarray) -> tuple[float, float]:
        y = logs[:, columns].mean(axis=1)
        centred = x - x.mean()
        slope = float((centred * (y - y.mean())).sum() / (centred**2).sum())
        return slope, float(y.mean() - slope * x.mean())

    n_seeds = e.shape[1]
    slope, intercept = slope_intercept(np.arange(n_seeds))
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
        generator = np.random.default_rng(seed)
        draws = generator.integers(0, n_seeds, size=(int(n_bootstrap), n_seeds))
        slopes = np.array([slope_intercept(d)[0] for d in draws])
        tail = (1 - level) / 2
        out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(slopes, [tail, 1 - tail]))
    return out
