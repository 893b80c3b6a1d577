"""The percentile bootstrap: resample ``n`` items with replacement, recompute, take quantiles.

A statistic is a function of the indices of one resample (``n`` integers in
``[0, n)``, drawn with replacement); it may return ``None`` for a resample on
which it is undefined, which is then dropped and counted. The interval at
``level`` is the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles (numpy's
linear interpolation) of the values kept.

Note: ``scipy.stats.bootstrap`` computes the same percentile interval, but it
draws its resamples in another order and has no way to drop undefined
resamples; the intervals stored by symscape's experiments come from the draws
below (one ``Generator.integers(0, n, n)`` per resample), which this module
keeps so that the same seed gives the same numbers.

>>> import numpy as np
>>> data = np.array([1.0, 2.0, 3.0, 4.0])
>>> low, high, dropped = bootstrap_interval(lambda i: data[i].mean(), len(data), n_bootstrap=200)
>>> bool(1.0 <= low < 2.5 < high <= 4.0), dropped
(True, 0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["Interval", "bootstrap_interval", "percentile_interval"]


class Interval(NamedTuple):
    """A bootstrap interval; ``low`` and ``high`` are ``None`` when every resample was dropped."""

    low: float | None
    high: float | None
    dropped: int


def _check_level(level: float) -> float:
    if not isinstance(level, int | float) or not 0 < level < 1:
        raise InvalidOptionError(
            f"level={level!r} must be a number between 0 and 1", fix="pass e.g. level=0.95"
        )
    return level


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of ``values``: their ``(1 ∓ level)/2`` quantiles.

    >>> percentile_interval([0.0, 1.0, 2.0, 3.0, 4.0], level=0.5)
    (1.0, 3.0)
    """
    tail = (1 - _check_level(level)) / 2
    if len(values) == 0:
        raise InvalidOptionError("percentile_interval of no values", fix="pass at least one")
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float | None],
    n: int,
    *,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> Interval:
    """Percentile-bootstrap interval of ``statistic`` over ``n_bootstrap`` resamples of ``n`` items.

    Resample ``b`` is ``statistic(rng.integers(0, n, n))``, with ``rng`` the
    numpy generator ``default_rng(seed)`` (or ``seed`` itself when it is a
    ``Generator``, so that several intervals can share one stream). Values
    that are ``None`` are dropped and counted in ``dropped``; the interval is
    :func:`percentile_interval` of the rest, or ``(None, None)`` if none is
    left. With ``n = 1`` every resample is the sample itself.

    >>> data = np.array([0.5, 0.5, 0.5])
    >>> bootstrap_interval(lambda i: float(data[i].sum()), 3, n_bootstrap=10)
    Interval(low=1.5, high=1.5, dropped=0)
    >>> bootstrap_interval(lambda i: None, 3, n_bootstrap=10)
    Interval(low=None, high=None, dropped=10)
    """
    if not callable(statistic):
        raise InvalidOptionError(
            f"statistic={statistic!r} is not callable",
            fix="pass a function of the resampled indices",
        )
    for name, value, minimum in (("n", n, 1), ("n_bootstrap", n_bootstrap, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise InvalidOptionError(
                f"{name}={value!r} must be an integer >= {minimum}", fix=f"pass {name} >= {minimum}"
            )
    _check_level(level)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    values = []
    for _ in range(int(n_bootstrap)):
        value = statistic(rng.integers(0, n, n))
        if value is not None:
            values.append(value)
    dropped = int(n_bootstrap) - len(values)
    if not values:
        return Interval(None, None, dropped)
    return Interval(*percentile_interval(values, level), dropped)
