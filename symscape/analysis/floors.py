r"""The statistical floor of a difference of two test errors measured on the same test points.

Two error rates ε_a, ε_b measured on the same n i.i.d. test points differ by
the mean over the points of d(x) = ā(x) − b̄(x), where ā(x) is the mean over
the members (seeds) of the 0/1 error indicators of a at x. Its sampling
standard deviation over test sets is the paired one, √(Var_x d(x) / n): the
test points both errors share cancel, and it is far below the unpaired
√(ε(1−ε)/n) when the two predictors err on the same points.

>>> a = [[0, 1, 1, 0]]  # one member, errs at points 2 and 3
>>> b = [[0, 1, 0, 0]]
>>> paired_floor(a, b)  # d = (0, 0, 1, 0): Var_x d = 3/16, over n = 4
0.21650635094610965
>>> paired_floor(a, a)
0.0
"""

from __future__ import annotations

import math

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["paired_floor"]


def paired_floor(a, b) -> float:
    """√(Var_x d(x) / n), d(x) = ā(x) − b̄(x): the sampling standard deviation of
    ε_a − ε_b on the n test points both were measured on. ``a`` and ``b`` are 0/1 error
    indicators ``[..., n]`` (members on the leading axes, averaged at each point; the two
    may have different numbers of members)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-1] or a.shape[-1] == 0:
        raise InvalidOptionError(
            f"error indicators {a.shape} and {b.shape} are not on the same test points",
            fix="pass arrays [..., n] with the same number n of test points last",
        )
    d = a.reshape(-1, a.shape[-1]).mean(0) - b.reshape(-1, b.shape[-1]).mean(0)
    return math.sqrt(float(d.var()) / d.size)
