"""Config fields declared once: default, help text and constraint.

A config field is declared with :func:`param`, which returns a
``dataclasses.field`` whose metadata holds a :class:`Param`: the help text,
the :class:`Constraint` its values obey and, for a training config, the
dynamics that use it. Everything else is generated from the declaration:
the check at construction (:class:`symscape.config.JsonConfig` runs
``constraint.check`` on every declared field), the command-line flag (its
type, its parser and its ``--help`` line) and the contract tests.

A constraint knows three things, in the spirit of scikit-learn's
``_param_validation``:

- ``check(value, name)``: the value, canonical (a tuple for a list, a
  registry name as the registry writes it), or an
  :class:`~symscape.errors.InvalidOptionError` of one line that names the
  field, the bad value and the fix;
- ``describe()``: what it accepts, for ``--help``;
- ``parse(text, flag)``: the value a command-line string spells.

Numbers are finite unless a constraint says otherwise (``+inf`` only where
an interval's upper end is ``inf``, a field that means "no limit").

>>> Interval(int, 1, None).check(3, "depth")
3
>>> Interval(float, 0, 1, closed="left").check(1.0, "momentum")
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: momentum=1.0 must be in [0, 1); use momentum in [0, 1)
>>> Interval(float, 0, None, closed="neither").describe()
'a number > 0'
>>> Options(("fc", "cnn")).check("CNN", "arch"), Options(("fc", "cnn")).describe()
('cnn', 'one of fc, cnn')
>>> Seeds().parse("0-3,7", "--seeds")
(0, 1, 2, 3, 7)
>>> Items(Interval(float, 0, None, closed="neither")).parse("32,64", "--widths")
(32.0, 64.0)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from symscape.errors import InvalidOptionError
from symscape.validation import check_finite, choose, parse_seeds, spelling

__all__ = [
    "Constraint",
    "Flag",
    "Interval",
    "Items",
    "Options",
    "OrNone",
    "Param",
    "Seeds",
    "Table",
    "Text",
    "declared",
    "param",
]


class Constraint:
    """What a field accepts: ``check``, ``describe``, ``parse`` (see the module docstring)."""

    #: the ``--help`` placeholder of the value
    metavar = "VALUE"

    def check(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def parse(self, text: str, flag: str) -> Any:
        return text

    def invalid(self) -> list[Any]:
        """Values this constraint refuses (for the contract tests)."""
        return [object()]


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """A number of type ``kind`` (``int`` or ``float``) between ``low`` and ``high``.

    ``None`` is an open end; ``closed`` is ``"both"``, ``"left"``, ``"right"``
    or ``"neither"``. An upper end ``math.inf`` that is closed admits ``+inf``
    ("no limit"); every other non-finite number is refused. An integer is
    accepted for a ``float`` interval and kept as it is.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self):
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed={self.closed!r}")

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return "INT" if self.kind is int else "FLOAT"

    def _bound(self) -> str:
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.high is None or (self.high == math.inf and right):
            return f"{'>=' if left else '>'} {self.low:g}" if self.low is not None else ""
        if self.low is None:
            return f"{'<=' if right else '<'} {self.high:g}"
        return f"in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"

    def _inside(self, value) -> bool:
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def _noun(self) -> str:
        return "an integer" if self.kind is int else "a number"

    def convert(self, value: Any) -> Any:
        """A number written as text (``"2"``, ``"inf"``) as the number; anything else as is."""
        if isinstance(value, str):
            try:
                return self.kind(value.strip())
            except ValueError:
                return value
        return value

    def check(self, value: Any, name: str) -> Any:
        value = self.convert(value)
        bound = self._bound()
        if self.kind is int:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                text = f" {bound}" if bound else ""
                raise InvalidOptionError(
                    f"{name}={value!r} must be an integer{text}",
                    fix=f"use {name} {bound}" if bound else "give an integer",
                )
        elif not _real(value):
            raise InvalidOptionError(f"{name}={value!r} is not a number", fix="give a number")
        unlimited = self.high == math.inf and self.closed in ("both", "right")
        check_finite(value, name, unlimited=unlimited)
        if not self._inside(value):
            noun = "an integer " if self.kind is int else ""
            raise InvalidOptionError(
                f"{name}={value!r} must be {noun}{bound}", fix=f"use {name} {bound}"
            )
        return value

    def describe(self) -> str:
        bound = self._bound()
        return f"{self._noun()} {bound}".strip()

    def parse(self, text: str, flag: str) -> Any:
        try:
            return self.kind(text)
        except ValueError:
            raise InvalidOptionError(
                f"{flag} {text!r} is not {self._noun()}", fix=f"give {self.describe()}"
            ) from None

    def invalid(self) -> list[Any]:
        bad: list[Any] = ["text", float("nan")]
        if self.kind is int:
            bad.append(1.5)
        if self.low is not None:
            bad.append(self.low - 1 if self.closed in ("both", "left") else self.low)
        if self.high is not None and self.high != math.inf:
            bad.append(self.high + 1 if self.closed in ("both", "right") else self.high)
        if self.high is None:
            bad.append(float("inf") if self.kind is float else None)
        return [b for b in bad if b is not None]


@dataclasses.dataclass(frozen=True)
class Options(Constraint):
    """One of known names (a sequence, or a function giving it), written as it is known.

    Case, hyphens and underscores do not matter (:func:`symscape.validation.choose`);
    ``what`` names the thing in messages (default: the field name).
    """

    known: Sequence[str] | Callable[[], Sequence[str]]
    what: str | None = None
    metavar = "NAME"

    def names(self) -> tuple[str, ...]:
        return tuple(self.known() if callable(self.known) else self.known)

    def check(self, value: Any, name: str) -> str:
        return choose(value, self.names(), self.what or name.replace("_", " "))

    def describe(self) -> str:
        return f"one of {', '.join(self.names())}"

    def invalid(self) -> list[Any]:
        return ["no-such-name", 3]


@dataclasses.dataclass(frozen=True)
class Flag(Constraint):
    """``True`` or ``False``."""

    def check(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise InvalidOptionError(f"{name}={value!r} is not true or false", fix="give a bool")
        return value

    def describe(self) -> str:
        return "true or false"

    def invalid(self) -> list[Any]:
        return [1, "yes"]


@dataclasses.dataclass(frozen=True)
class Text(Constraint):
    """A string; ``validate(value, name)`` checks it further (its result is not kept)."""

    description: str = "text"
    validate: Callable[[Any, str], Any] | None = None
    canonical: Callable[[str], str] | None = None
    metavar = "TEXT"

    def check(self, value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise InvalidOptionError(f"{name}={value!r} is not text", fix=f"give {self.describe()}")
        if self.validate is not None:
            self.validate(value, name)
        return self.canonical(value) if self.canonical is not None else value

    def describe(self) -> str:
        return self.description

    def invalid(self) -> list[Any]:
        return [3] + (["no-such-value"] if self.validate or self.canonical else [])


@dataclasses.dataclass(frozen=True)
class Table(Constraint):
    """A table of options (names to JSON values), every number in it finite."""

    description: str = "a table of options"

    def check(self, value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidOptionError(
                f"{name}={value!r} is not a table", fix=f"give {name} as a mapping of options"
            )
        return dict(check_finite(value, name))

    def describe(self) -> str:
        return self.description

    def invalid(self) -> list[Any]:
        return [3, {"x": float("nan")}]


@dataclasses.dataclass(frozen=True)
class Items(Constraint):
    """A tuple of values, each obeying ``item`` (a single value is a tuple of one).

    ``at_least`` values (``why`` says why, in the message), ``distinct``: none
    twice, ``sort``: kept sorted. On the command line: comma-separated.
    """

    item: Constraint
    at_least: int = 1
    distinct: bool = False
    sort: bool = False
    why: str | None = None

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return f"{self.item.metavar},..."

    def check(self, value: Any, name: str) -> tuple:
        if isinstance(value, str | numbers.Number):
            value = (value,)
        if not isinstance(value, Sequence):
            raise InvalidOptionError(f"{name}={value!r} is not a list", fix=f"pass {name}=[...]")
        if not value and self.at_least:
            raise InvalidOptionError(
                f"{name} is empty, not a non-empty list", fix=f"pass {name}=[...]"
            )
        if isinstance(self.item, Interval):
            value = [self.item.convert(item) for item in value]
        for i, item in enumerate(value):
            if _real(item):
                check_finite(item, f"{name}[{i}]")
        out = tuple(self.item.check(item, name) for item in value)
        if self.distinct and len(set(out)) != len(out):
            raise InvalidOptionError(f"{name}={list(out)} lists one twice", fix="give each once")
        if len(out) < self.at_least:
            why = self.why or f"needs at least {self.at_least} values"
            raise InvalidOptionError(
                f"{name}={list(out)}: {why}", fix=f"give {self.at_least} or more values"
            )
        return tuple(sorted(out)) if self.sort else out

    def describe(self) -> str:
        many = f"at least {self.at_least} " if self.at_least > 1 else ""
        each = "distinct " if self.distinct else ""
        return f"{many}{each}comma-separated values, each {self.item.describe()}"

    def parse(self, text: str, flag: str) -> tuple:
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(self.item, Interval):
            try:
                return tuple(self.item.kind(part) for part in parts)
            except ValueError:
                raise InvalidOptionError(
                    f"{flag} {text!r} is not a list of {self.item.kind.__name__}s",
                    fix="write e.g. 1,2,4",
                ) from None
        return tuple(self.item.parse(part, flag) for part in parts)

    def invalid(self) -> list[Any]:
        empty = [()] if self.at_least else []
        return [*empty, *((b,) for b in self.item.invalid())]


@dataclasses.dataclass(frozen=True)
class Seeds(Items):
    """Seeds: integers >= 0; on the command line ``0-7``, ``0,1,5`` or a mix."""

    item: Constraint = dataclasses.field(default_factory=lambda: Interval(int, 0, None))
    metavar = "SEEDS"  # type: ignore[assignment]

    def check(self, value: Any, name: str) -> tuple:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise InvalidOptionError(
                f"{name}={value!r} must be a non-empty list of integers >= 0",
                fix=f"e.g. {name}=[0, 1, 2]",
            )
        return super().check(value, name)

    def describe(self) -> str:
        many = f"at least {self.at_least} " if self.at_least > 1 else ""
        return f"{many}seeds >= 0: 0-7, 0,1,5 or a mix"

    def parse(self, text: str, flag: str) -> tuple:
        return parse_seeds(text)


@dataclasses.dataclass(frozen=True)
class OrNone(Constraint):
    """``None`` (meaning ``meaning``) or a value of ``inner``; ``none`` on the command line."""

    inner: Constraint
    meaning: str = "none"

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return self.inner.metavar

    def check(self, value: Any, name: str) -> Any:
        return None if value is None else self.inner.check(value, name)

    def describe(self) -> str:
        return f"{self.inner.describe()}, or none ({self.meaning})"

    def parse(self, text: str, flag: str) -> Any:
        return None if spelling(text) == "none" else self.inner.parse(text, flag)

    def invalid(self) -> list[Any]:
        return self.inner.invalid()


@dataclasses.dataclass(frozen=True)
class Param:
    """A field's declaration: its help text, its constraint, the dynamics that use it."""

    help: str
    constraint: Constraint
    dynamics: tuple[str, ...] = ()


def param(
    default: Any,
    help: str,
    constraint: Constraint,
    *,
    dynamics: Iterable[str] = (),
) -> Any:
    """A dataclass field declared once: ``default``, ``help`` and ``constraint``.

    A mutable default (a dict) is copied for each instance. ``dynamics``: the
    dynamics that use the field (a training config's fields that only some
    dynamics read).
    """
    metadata = {"param": Param(help, constraint, tuple(dynamics))}
    if isinstance(default, Mapping):
        frozen = dict(default)
        return dataclasses.field(default_factory=lambda: dict(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def declared(field: dataclasses.Field) -> Param | None:
    """The :class:`Param` a field was declared with, or ``None``."""
    return field.metadata.get("param")
