"""Typed, validated options of the data loaders.

An :class:`Option` knows its type, default, bounds and choices, and turns a
Python value or a command-line string into a checked value, or raises an
:class:`~symscape.errors.InvalidOptionError` that names the option, the bad
value and what would be accepted.

>>> from symscape.data.options import Option
>>> Option("P", int, 100, "training points", minimum=1).parse("250")
250
>>> Option("P", int, 100, "training points", minimum=1).parse(0)
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: P=0 is too small: it must be >= 1; pass a value >= 1
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import torch

from symscape.errors import InvalidOptionError

__all__ = ["Option", "parse_device", "parse_dtype"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a data set.

    ``kind`` is ``int``, ``float``, ``bool``, ``str``, ``"dtype"`` or ``"device"``.
    ``None`` is accepted when ``nullable`` (it means "all" or "off", as the help says).
    """

    name: str
    kind: Any
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False

    def type_name(self) -> str:
        base = self.kind if isinstance(self.kind, str) else self.kind.__name__
        if self.choices:
            base = "|".join(self.choices)
        return f"{base} or none" if self.nullable else base

    def parse(self, value: Any) -> Any:
        """Check ``value`` (a Python value or a command-line string) and return it typed."""
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            if self.nullable:
                return None
            self._fail(value, f"{self.name} cannot be none", f"give a {self.type_name()}")
        if self.kind == "dtype":
            return parse_dtype(value, name=self.name)
        if self.kind == "device":
            return parse_device(value, name=self.name)
        if self.kind is bool:
            return self._parse_bool(value)
        if self.kind is int:
            value = self._parse_int(value)
        elif self.kind is float:
            value = self._parse_float(value)
        elif self.kind is str:
            if not isinstance(value, str):
                self._fail(
                    value, f"{self.name}={value!r} is not a string", f"give a {self.type_name()}"
                )
            value = value.strip()
        if self.choices is not None and value not in self.choices:
            self._fail(
                value,
                f"{self.name}={value!r} is not one of {', '.join(self.choices)}",
                f"choose one of {', '.join(self.choices)}",
            )
        if self.minimum is not None and value < self.minimum:
            self._fail(
                value,
                f"{self.name}={value} is too small: it must be >= {self.minimum:g}",
                f"pass a value >= {self.minimum:g}",
            )
        if self.maximum is not None and value > self.maximum:
            self._fail(
                value,
                f"{self.name}={value} is too large: it must be <= {self.maximum:g}",
                f"pass a value <= {self.maximum:g}",
            )
        return value

    def _parse_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        self._fail(value, f"{self.name}={value!r} is not a boolean", "use true or false")

    def _parse_int(self, value: Any) -> int:
        if isinstance(value, bool):
            self._fail(
                value, f"{self.name}={value!r} is a boolean, not an integer", "give a whole number"
            )
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        self._fail(value, f"{self.name}={value!r} is not an integer", "give a whole number")

    def _parse_float(self, value: Any) -> float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        self._fail(value, f"{self.name}={value!r} is not a number", "give a number such as 0.5")

    def _fail(self, value: Any, problem: str, fix: str):
        raise InvalidOptionError(problem, fix=fix)


def parse_dtype(value: Any, name: str = "dtype") -> torch.dtype:
    """``"float32"``, ``"float64"``, ... or a ``torch.dtype`` → a floating ``torch.dtype``."""
    if isinstance(value, torch.dtype):
        if value.is_floating_point:
            return value
    elif isinstance(value, str) and value.strip().removeprefix("torch.") in _DTYPES:
        return _DTYPES[value.strip().removeprefix("torch.")]
    raise InvalidOptionError(
        f"{name}={value!r} is not a floating dtype", fix=f"use one of {', '.join(_DTYPES)}"
    )


def parse_device(value: Any, name: str = "device") -> torch.device:
    """A device string or ``torch.device``, checked to exist on this machine."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        raise InvalidOptionError(
            f"{name}={value!r} is not a device", fix="use 'cpu', 'cuda' or 'cuda:0'"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidOptionError(
            f"{name}={value!r} asks for CUDA, which this machine does not have",
            fix="use device='cpu'",
        )
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise InvalidOptionError(
            f"{name}={value!r}: there are only {torch.cuda.device_count()} CUDA devices",
            fix="use a smaller index",
        )
    return device
