"""Small checks shared by the public functions that validate their arguments.

>>> from symscape.validation import check_integer
>>> check_integer(3, "layers", 1)
3
>>> check_integer(0, "layers", 1)
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: layers=0 must be an integer >= 1; use layers >= 1
"""

from __future__ import annotations

import numbers

from symscape.errors import InvalidOptionError

__all__ = ["check_integer"]


def check_integer(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= {minimum}", fix=f"use {name} >= {minimum}"
        )
    return int(value)
