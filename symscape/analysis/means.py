"""Geometric means, ``exp(mean(ln v))``: how seeds and models are combined.

:func:`geometric_mean` is strict (one number, ``nan`` if any value is, an
error for negative values); :func:`nan_geometric_mean` is the forgiving one
over an axis (non-finite values left out, zeros floored). On finite values
``≥ floor`` the two give the same bits, and both equal
``scipy.stats.gmean``'s ``exp(mean(log v))``.

>>> geometric_mean([1.0, 4.0])
2.0
>>> float(nan_geometric_mean([1.0, float("nan"), 4.0]))
2.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["geometric_mean", "nan_geometric_mean"]


def geometric_mean(values: Iterable[float]) -> float:
    """``exp(mean(log v))``: how seeds and models are combined. ``nan`` if any value is.

    A zero gives 0; negative values, no values or non-numbers raise
    :class:`~symscape.errors.InvalidOptionError`.

    >>> geometric_mean([2.0, 8.0]), geometric_mean([0.0, 3.0])
    (4.0, 0.0)
    """
    try:
        v = np.asarray([float(u) for u in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            f"geometric_mean needs numbers, got {values!r}", fix="pass a list of floats"
        ) from None
    if v.size == 0:
        raise InvalidOptionError("geometric_mean of no values", fix="pass at least one value")
    if np.isnan(v).any():
        return math.nan
    if (v < 0).any():
        raise InvalidOptionError(
            f"geometric_mean of negative values {v[v < 0].tolist()}",
            fix="pass non-negative values such as D_f, G_f or R_f",
        )
    with np.errstate(divide="ignore"):
        return float(np.exp(np.log(v).mean()))


def nan_geometric_mean(values, axis: int = -1, floor: float = 1e-300) -> np.ndarray:
    """Geometric mean along ``axis`` over the finite values (NaN where there are none).

    Values below ``floor`` (zeros included) count as ``floor``, so that the
    logarithm is finite.

    >>> nan_geometric_mean([[1.0, 4.0], [float("inf"), 0.5], [float("nan")] * 2]).tolist()
    [2.0, 0.5, nan]
    """
    values = np.asarray(values, float)
    logs = np.where(np.isfinite(values), np.log(np.maximum(values, floor)), np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, said so
        return np.exp(np.nanmean(logs, axis=axis))
