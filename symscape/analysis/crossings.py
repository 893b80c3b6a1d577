"""Where a falling curve first crosses a threshold, interpolated in log–log.

>>> round(crossing([1.0, 100.0], [10.0, 0.1]), 6)  # the straight line in log-log meets 1 at 10
10.0
"""

from __future__ import annotations

import math

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["crossing"]


def crossing(alphas, values, threshold: float = 1.0) -> float | None:
    """The α where ``values`` (positive, falling with α) first cross ``threshold``.

    Linear interpolation of ``ln values`` against ``ln α`` between the two grid
    points around the first downward crossing; ``None`` when the values never
    go from ``≥ threshold`` to ``< threshold``. Non-finite values (diverged
    runs) are left out, and the crossing is sought between the remaining points.

    >>> round(crossing([0.1, 1.0, 10.0], [100.0, 10.0, 0.1]), 6)
    3.162278
    >>> crossing([0.1, 1.0], [0.5, 0.1]) is None
    True
    """
    values = np.asarray(values, float)
    alphas = np.asarray(alphas, float)
    if alphas.ndim != 1 or alphas.shape != values.shape:
        raise InvalidOptionError(
            f"alphas {alphas.shape} and values {values.shape} must be two lists of one length",
            fix="pass one value per α",
        )
    if not (isinstance(threshold, int | float) and threshold > 0):
        raise InvalidOptionError(
            f"threshold={threshold!r} must be a positive number", fix="pass e.g. threshold=1.0"
        )
    keep = np.isfinite(values)
    la = np.log(alphas[keep])
    lv = np.log(np.maximum(values[keep], 1e-300))
    lt = math.log(threshold)
    for i in range(len(la) - 1):
        if lv[i] >= lt > lv[i + 1]:
            frac = (lv[i] - lt) / (lv[i] - lv[i + 1])
            return float(math.exp(la[i] + frac * (la[i + 1] - la[i])))
    return None
