r"""The analysis of the stability zoo: means over seeds and the power law across architectures.

Seeds are combined by geometric mean (:func:`_summarise`), with the 95 %
Student interval of the mean of ``ln R_f`` over seeds (:func:`log_interval`;
with one seed, its bootstrap interval over the test points);
the change by training is ``ln R_f(trained)/R_f(init)`` seed by seed, pooled
per family (fully connected, CNN) by :func:`family_changes`. Across
architectures the test error is fitted by ``ε = a R_f^b``
(:func:`fit_power_law`, with the interval of ``b`` from the slope's standard
error), beside the reported law :data:`REPORTED_LAW` (ε ≈ 0.2 √R_f over 15
architectures on CIFAR10), never used in place of a measurement; the
prefactor at the reported exponent is :func:`prefactor_at`, and the
correlations of ``ln ε`` with ``ln R_f`` and ``ln D_f`` carry Fisher
intervals (:func:`correlation`).

>>> fit = fit_power_law([0.2 * r**0.5 for r in (1e-3, 1e-2, 1e-1)], [1e-3, 1e-2, 1e-1])
>>> round(fit["a"], 12), round(fit["b"], 12)
(0.2, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from symscape.analysis import fit_line, geometric_mean, slope_stderr
from symscape.errors import InvalidOptionError

__all__ = [
    "REPORTED_LAW",
    "correlation",
    "family_changes",
    "fit_power_law",
    "log_interval",
    "prefactor_at",
]

LEVEL = 0.95

# ε ≈ a R_f^b across 15 architectures on CIFAR10, as reported (SCIENCE.md §4)
REPORTED_LAW = {"a": 0.2, "b": 0.5}


def _geometric(values: list[float | None]) -> float | None:
    """Geometric mean of finite values; ``None`` (JSON null) when any is missing."""
    if any(v is None for v in values):
        return None
    g = geometric_mean(values)
    return g if math.isfinite(g) else None


def log_interval(logs: Sequence[float], level: float = LEVEL) -> dict[str, Any]:
    """The mean of ``logs`` and its Student interval, ``mean ± t_{n−1} s/√n``.

    ``low`` and ``high`` are ``None`` with fewer than two finite values.

    >>> out = log_interval([0.0, 0.2, 0.4])
    >>> round(out["mean"], 12), round(out["high"] - out["mean"], 3), out["n"]
    (0.2, 0.497, 3)
    """
    x = np.asarray([v for v in logs if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "low": None, "high": None, "n": 1}
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(x)}


def _logs(values: Sequence[float | None]) -> list[float]:
    return [math.log(v) for v in values if v is not None and v > 0 and math.isfinite(v)]


def _geometric_interval(values: Sequence[float | None]) -> list[float | None]:
    """``[low, high]`` of the geometric mean over seeds: :func:`log_interval` of ``ln v``."""
    out = log_interval(_logs(values))
    return [None if out[k] is None else math.exp(out[k]) for k in ("low", "high")]


def _finite_pair(pair: Sequence[float] | None) -> list[float | None]:
    if not pair or not all(v is not None and math.isfinite(v) for v in pair):
        return [None, None]
    return [float(pair[0]), float(pair[1])]


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
        out[f"R_{phase}_seeds"] = [r[phase]["output"][reference]["R"] for r in mine]
        out[f"R_{phase}_interval"] = (
            _geometric_interval(out[f"R_{phase}_seeds"])
            if len(mine) > 1  # one seed: its bootstrap interval over the test points
            else _finite_pair(mine[0][phase]["output"][reference].get("R_interval"))
        )
        per_stage = zip(*[[s["R"] for s in r[phase]["layers"]] for r in mine], strict=True)
        out[f"layers_R_{phase}"] = [_geometric(list(values)) for values in per_stage]
    changes = [
        math.log(t / i) if i and t and i > 0 and t > 0 else None
        for i, t in zip(out["R_init_seeds"], out["R_trained_seeds"], strict=True)
    ]
    out["log_change_seeds"] = changes
    change = log_interval(changes)
    out["log_change"] = change["mean"]
    out["log_change_interval"] = [change["low"], change["high"]]
    return out


FAMILIES = {"fully connected": ("fc", "fc-ntk"), "CNN": ("lenet", "vgg", "resnet18")}


def family_changes(summary: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``ln R_f(trained)/R_f(init)`` of each family of :data:`FAMILIES`, with architectures
    as the unit: each architecture's mean over its seeds, then their mean and Student
    interval over the family's architectures (:func:`log_interval`, n − 1 = architectures
    − 1), so that the spread between architectures is in the interval. A family of one
    architecture has that architecture's interval over its seeds (``unit="seeds"``).
    Families with no network are left out."""
    out = {}
    for family, names in FAMILIES.items():
        rows = [s for s in summary if s["architecture"].partition(":")[0] in names]
        means = [log_interval(s["log_change_seeds"])["mean"] for s in rows]
        means = [m for m in means if m is not None]
        if not means:
            continue
        single = len(means) == 1
        out[family] = {
            **log_interval(rows[0]["log_change_seeds"] if single else means),
            "architectures": [s["architecture"] for s in rows],
            "networks": sum(len(s["log_change_seeds"]) for s in rows),
            "unit": "seeds" if single else "architectures",
        }
    return out


def _pairs(x: Sequence, y: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """``ln x`` and ``ln y`` over the pairs where both are finite and positive."""
    pairs = [
        (a, b)
        for a, b in zip(x, y, strict=True)
        if a is not None and b is not None and 0 < a < math.inf and 0 < b < math.inf
    ]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    lx, ly = np.log(np.array(pairs, dtype=np.float64)).T
    return lx, ly


def correlation(x: Sequence, y: Sequence, level: float = LEVEL) -> dict[str, Any]:
    """Pearson correlation ``r`` of ``ln x`` and ``ln y`` with its Fisher interval
    ``tanh(atanh r ± z/√(n − 3))`` (``None`` below 4 points; ``r`` is ``None`` below 3).

    >>> out = correlation([1, 2, 4, 8, 16], [1, 2.2, 3.9, 8.5, 15])
    >>> round(out["r"], 3), out["n"], out["low"] < out["r"] < out["high"]
    (0.998, 5, True)
    """
    lx, ly = _pairs(x, y)
    n = len(lx)
    out: dict[str, Any] = {"r": None, "low": None, "high": None, "n": n}
    if n < 3 or np.ptp(lx) == 0 or np.ptp(ly) == 0:
        return out
    r = float(np.corrcoef(lx, ly)[0, 1])
    out["r"] = r
    if n >= 4 and abs(r) < 1:
        z, half = math.atanh(r), stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
        out["low"], out["high"] = math.tanh(z - half), math.tanh(z + half)
    return out


def prefactor_at(errors: Sequence, R: Sequence, b: float, level: float = LEVEL) -> dict:
    """The prefactor ``a`` of ``ε = a R_f^b`` at a fixed exponent ``b``: the geometric
    mean of ``ε / R_f^b`` over architectures, with the Student interval of its log.

    >>> out = prefactor_at([0.2 * r**0.5 for r in (0.01, 0.1, 1.0)], [0.01, 0.1, 1.0], 0.5)
    >>> round(out["a"], 12), out["n"]
    (0.2, 3)
    """
    lr, le = _pairs(R, errors)
    out = log_interval(list(le - b * lr), level)
    return {
        "a": None if out["mean"] is None else math.exp(out["mean"]),
        "low": None if out["low"] is None else math.exp(out["low"]),
        "high": None if out["high"] is None else math.exp(out["high"]),
        "n": out["n"],
        "b": b,
    }


def _correlation(x: list, y: list) -> float | None:
    """Pearson correlation of log x and log y over finite positive pairs (None below 3)."""
    return correlation(x, y)["r"]


def fit_power_law(errors: Sequence[float], R: Sequence[float]) -> dict[str, Any]:
    """Least-squares fit of ``log ε = log a + b log R`` across points ``(R_i, ε_i)``.

    Points with a value that is not finite and positive are left out (their
    count is ``dropped``). Returns ``a``, ``b`` with its 95 % interval
    ``b_ci_low``, ``b_ci_high`` (``b ± t_{n−2}`` times the slope's standard
    error; ``None`` with two points), the number of points used,
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
    stderr = slope_stderr(log_r, log_e, b, log_a)
    half = None
    if stderr is not None:
        half = float(stats.t.ppf(0.5 + LEVEL / 2, int(keep.sum()) - 2) * stderr)
    return {
        "a": math.exp(log_a),
        "b": b,
        "b_ci_low": None if half is None else b - half,
        "b_ci_high": None if half is None else b + half,
        "n_points": int(keep.sum()),
        "dropped": int((~keep).sum()),
        "residual_rms_log": float(np.sqrt((residual**2).mean())),
        "a_reported": REPORTED_LAW["a"],
        "b_reported": REPORTED_LAW["b"],
    }
