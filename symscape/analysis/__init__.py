"""Fits, bootstrap intervals, geometric means and crossings: the analysis every experiment shares.

Pure numpy, at the bottom of the layers (it imports nothing from symscape but
:mod:`symscape.errors`). Each computation is written once:

- :func:`fit_line`, :func:`power_law_fit`, :func:`slope_stderr`: least-squares
  lines, in log–log for power laws; :func:`fit_exponent`: a learning-curve
  exponent over a table ``[sizes, seeds]`` with a bootstrap over the seeds;
  :func:`fit_ranges`: fit ranges that start further out, for a law approached asymptotically.
- :func:`bootstrap_interval`, :func:`percentile_interval`: the percentile
  bootstrap of any statistic of a resampling of ``n`` items.
- :func:`geometric_mean`, :func:`nan_geometric_mean`: ``exp(mean(ln v))``.
- :func:`crossing`: where a falling curve first crosses a threshold.
- :func:`paired_floor`: the sampling sd of a difference of two test errors measured on
  the same test points.

>>> from symscape.analysis import power_law_fit
>>> power_law_fit([1.0, 2.0, 4.0], [3.0, 12.0, 48.0])[0]
2.0
"""

from __future__ import annotations

from symscape.analysis.bootstrap import Interval, bootstrap_interval, percentile_interval
from symscape.analysis.crossings import crossing
from symscape.analysis.fits import (
    SOLVERS,
    fit_exponent,
    fit_line,
    fit_ranges,
    power_law_fit,
    slope_stderr,
)
from symscape.analysis.floors import paired_floor
from symscape.analysis.means import geometric_mean, nan_geometric_mean

__all__ = [
    "SOLVERS",
    "Interval",
    "bootstrap_interval",
    "crossing",
    "fit_exponent",
    "fit_line",
    "fit_ranges",
    "geometric_mean",
    "nan_geometric_mean",
    "paired_floor",
    "percentile_interval",
    "power_law_fit",
    "slope_stderr",
]
