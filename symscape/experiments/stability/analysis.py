r"""The analysis of the stability zoo: means over seeds and the power law across architectures.

Seeds are combined by geometric mean (:func:`_summarise`); across
architectures the test error is fitted by ``ε = a R_f^b``
(:func:`fit_power_law`), beside the reported law :data:`REPORTED_LAW`
(ε ≈ 0.2 √R_f over 15 architectures on CIFAR10), never used in place of a
measurement.

>>> fit = fit_power_law([0.2 * r**0.5 for r in (1e-3, 1e-2, 1e-1)], [1e-3, 1e-2, 1e-1])
>>> round(fit["a"], 12), round(fit["b"], 12)
(0.2, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from symscape.analysis import fit_line, geometric_mean
from symscape.errors import InvalidOptionError

__all__ = ["REPORTED_LAW", "fit_power_law"]

# ε ≈ a R_f^b across 15 architectures on CIFAR10, as reported (SCIENCE.md §4)
REPORTED_LAW = {"a": 0.2, "b": 0.5}


def _geometric(values: list[float | None]) -> float | None:
    """Geometric mean of finite values; ``None`` (JSON null) when any is missing."""
    if any(v is None for v in values):
        return None
    g = geometric_mean(values)
    return g if math.isfinite(g) else None


def _summarise(runs: list[dict], spec: str, reference: int) -> dict:
    mine = [r for r in runs if r["architecture"] == spec]
    out: dict[str, Any] = {
        "architecture": spec,
        "seeds": [r["seed"] for r in mine],
        "n_parameters": mine[0]["n_parameters"],
        "test_errors": [r["trained"]["test_error"] for r in mine],
        "test_error": float(np.mean([r["trained"]["test_error"] for r in mine])),
        "stages": mine[0]["stages"],
    }
    for phase in ("init", "trained"):
        curves = {}
        for key in ("D", "G", "R"):
            per_t = zip(*[[s[key] for s in r[phase]["output"]] for r in mine], strict=True)
            curves[key] = [_geometric(list(values)) for values in per_t]
        out[phase] = curves
        for key in ("D", "G", "R"):
            out[f"{key}_{phase}"] = curves[key][reference]
        per_stage = zip(*[[s["R"] for s in r[phase]["layers"]] for r in mine], strict=True)
        out[f"layers_R_{phase}"] = [_geometric(list(values)) for values in per_stage]
    return out


def _correlation(x: list, y: list) -> float | None:
    """Pearson correlation of log x and log y over finite positive pairs (None below 3)."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a and b and a > 0 and b > 0]
    if len(pairs) < 3:
        return None
    lx, ly = np.log(np.array(pairs, dtype=np.float64)).T
    if np.ptp(lx) == 0 or np.ptp(ly) == 0:
        return None
    return float(np.corrcoef(lx, ly)[0, 1])


def fit_power_law(errors: Sequence[float], R: Sequence[float]) -> dict[str, Any]:
    """Least-squares fit of ``log ε = log a + b log R`` across points ``(R_i, ε_i)``.

    Points with a value that is not finite and positive are left out (their
    count is ``dropped``). Returns ``a``, ``b``, the number of points used,
    the root-mean-square residual in ``ln ε``, and the reported law
    (``a_reported = 0.2``, ``b_reported = 0.5``) beside them for comparison.
    Needs two points with different R_f.
    """
    try:
        e = np.asarray([np.nan if v is None else float(v) for v in errors], dtype=np.float64)
        r = np.asarray([np.nan if v is None else float(v) for v in R], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            "fit_power_law needs two lists of numbers", fix="pass test errors and R_f values"
        ) from None
    if e.ndim != 1 or e.shape != r.shape:
        raise InvalidOptionError(
            f"errors ({e.size}) and R ({r.size}) must be two lists of the same length",
            fix="pass one test error per R_f",
        )
    keep = np.isfinite(e) & np.isfinite(r) & (e > 0) & (r > 0)
    log_r, log_e = np.log(r[keep]), np.log(e[keep])
    if keep.sum() < 2 or np.ptp(log_r) == 0:
        raise InvalidOptionError(
            f"a power law needs two points with positive, different R_f and positive errors; "
            f"got {int(keep.sum())} usable of {e.size}",
            fix="measure more architectures (a test error of 0 cannot be fitted in log scale)",
        )
    b, log_a = fit_line(log_r, log_e)
    residual = log_e - (log_a + b * log_r)
    return {
        "a": math.exp(log_a),
        "b": b,
        "n_points": int(keep.sum()),
        "dropped": int((~keep).sum()),
        "residual_rms_log": float(np.sqrt((residual**2).mean())),
        "a_reported": REPORTED_LAW["a"],
        "b_reported": REPORTED_LAW["b"],
    }
