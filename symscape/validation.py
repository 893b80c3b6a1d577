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

import difflib
import math
import numbers
import re
from collections.abc import Iterable, Mapping

from symscape.errors import InvalidOptionError, UnknownNameError

__all__ = [
    "check_finite",
    "check_integer",
    "choose",
    "parse_memory",
    "parse_numbers",
    "parse_seeds",
    "spelling",
]


def check_integer(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= {minimum}", fix=f"use {name} >= {minimum}"
        )
    return int(value)


def spelling(name: str) -> str:
    """How a name is compared: case, hyphens and underscores do not matter.

    >>> spelling("Quadratic-Hinge") == spelling("quadratic_hinge")
    True
    """
    return name.strip().lower().replace("-", "_")


def choose(value, known: Iterable[str], what: str) -> str:
    """The name in ``known`` that ``value`` spells, as ``known`` writes it.

    A command line is typed with hyphens (``quadratic-hinge``), Python with
    underscores (``quadratic_hinge``); both name the same thing, and so does
    any capitalisation. An unknown name lists the known ones.

    >>> choose("quadratic-hinge", ("hinge", "quadratic_hinge"), "loss")
    'quadratic_hinge'
    >>> choose("fashion_mnist", ("mnist", "fashion-mnist"), "data set")
    'fashion-mnist'
    >>> choose("hindge", ("hinge", "mse"), "loss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symscape.errors.UnknownNameError: unknown loss 'hindge'; did you mean 'hinge'? ...mse
    """
    known = tuple(known)
    if isinstance(value, str):
        for name in known:
            if spelling(name) == spelling(value):
                return name
    close = difflib.get_close_matches(str(value), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownNameError(f"unknown {what} {value!r}", fix=f"{hint}use one of {', '.join(known)}")


def check_finite(value, name: str, unlimited: bool = False):
    """``value``, after checking that every number in it (nested in mappings, lists and tuples)
    is finite; ``unlimited``: ``+inf`` is allowed (the field means "no limit").

    >>> check_finite({"P": 10, "noise": 0.1}, "data")
    {'P': 10, 'noise': 0.1}
    >>> check_finite((0.1, float("inf")), "alphas")
    Traceback (most recent call last):
    ...
    symscape.errors.InvalidOptionError: alphas[1]=inf is not a finite number; give a finite value
    """
    if isinstance(value, bool | numbers.Integral) or value is None or isinstance(value, str):
        return value  # an integer is finite, however large
    if isinstance(value, numbers.Real):
        if math.isnan(value) or (math.isinf(value) and not (unlimited and value > 0)):
            fix = "give a finite value" + (", or leave it out for no limit" if unlimited else "")
            raise InvalidOptionError(f"{name}={value!r} is not a finite number", fix=fix)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_finite(item, f"{name}.{key}", unlimited)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_finite(item, f"{name}[{i}]", unlimited)
    return value


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
