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
import re

from symscape.errors import InvalidOptionError

__all__ = ["check_integer", "parse_memory", "parse_numbers", "parse_seeds"]


def check_integer(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= {minimum}", fix=f"use {name} >= {minimum}"
        )
    return int(value)


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from text: ``"0,1,5"`` or ``"0-7"`` (inclusive) or a mix: ``"0-3,10"``.

    >>> parse_seeds("0-3,10")
    (0, 1, 2, 3, 10)
    """
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise InvalidOptionError(
                f"seeds {text!r}: {part!r} is not a seed or a range",
                fix="write e.g. 0-7 or 0,1,2",
            )
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low:
            raise InvalidOptionError(f"seeds range {part!r} is empty", fix="write low-high")
        seeds.extend(range(low, high + 1))
    return tuple(seeds)


def parse_numbers(text: str, flag: str, kind: type = float) -> tuple:
    """A comma-separated list of numbers from a command-line flag.

    >>> parse_numbers("2,4.5", "--widths")
    (2.0, 4.5)
    >>> parse_numbers("32,x", "--P-values", int)
    Traceback (most recent call last):
    ...
    symscape.errors.InvalidOptionError: --P-values '32,x' is not a list of ints; write e.g. 1,2,4
    """
    try:
        return tuple(kind(part) for part in text.split(","))
    except ValueError:
        raise InvalidOptionError(
            f"{flag} {text!r} is not a list of {kind.__name__}s", fix="write e.g. 1,2,4"
        ) from None


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def parse_memory(value, name: str = "memory") -> int:
    """A memory size in bytes, from an integer or text such as ``"512MB"`` or ``"2GiB"``.

    >>> parse_memory("2GiB"), parse_memory("1.5 GB"), parse_memory(4096)
    (2147483648, 1500000000, 4096)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        size = int(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        unit = match[2].lower() if match else None
        if unit not in _UNITS:
            raise InvalidOptionError(
                f"{name}={value!r} is not a memory size",
                fix="write e.g. 512MB, 2GiB or a byte count",
            )
        size = int(float(match[1]) * _UNITS[unit])
    if size < 1:
        raise InvalidOptionError(f"{name}={value!r} must be positive", fix="write e.g. 2GiB")
    return size
