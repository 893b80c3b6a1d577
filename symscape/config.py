"""What every run config shares: canonical JSON in and out.

A config is a frozen dataclass validated at construction; this mixin gives
it ``to_dict`` (tuples as lists), ``to_json`` (canonical: sorted keys, no
spaces — the basis of a run's key) and ``from_dict`` (unknown fields are an
error that lists the known ones; lists become tuples again).

>>> import dataclasses
>>> from symscape.config import JsonConfig
>>> @dataclasses.dataclass(frozen=True)
... class Example(JsonConfig):
...     width: int = 8
...     seeds: tuple[int, ...] = (0, 1)
>>> Example().to_json()
'{"seeds":[0,1],"width":8}'
>>> Example.from_dict({"width": 4, "seeds": [3]})
Example(width=4, seeds=(3,))

``from_dict`` also writes an integer given for a ``float`` field as a float,
so that ``width = 32`` and ``width = 32.0`` are the same run (and the same
run key in a sweep).

Every field declared with :func:`symscape.params.param` (default, help,
constraint) is checked and made canonical by its constraint at
construction, before the config's own ``__post_init__`` (which keeps only
the checks across fields) and again after it (on the values it converted).

>>> from symscape.config import Interval, param
>>> @dataclasses.dataclass(frozen=True)
... class Declared(JsonConfig):
...     depth: int = param(2, "hidden layers", Interval(int, 0, None))
>>> Declared(depth=-1)
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: depth=-1 must be an integer >= 0; use depth >= 0

A field not declared that way gets the older two checks, from two
class-level declarations:

- every number in every field (nested ones too) is finite: ``inf`` and
  ``nan`` are refused, except ``+inf`` in the fields listed in ``UNLIMITED``
  (those that mean "no limit");
- the fields listed in ``NAMES`` (field -> a function giving the known
  names) hold one of the known names, written as the registry writes it:
  ``quadratic-hinge`` and ``Quadratic_Hinge`` both become
  ``quadratic_hinge``, so both spellings are the same run.

>>> @dataclasses.dataclass(frozen=True)
... class Named(JsonConfig):
...     NAMES = {"loss": lambda: ("hinge", "quadratic_hinge")}
...     loss: str = "hinge"
...     alpha: float = 1.0
>>> Named(loss="quadratic-hinge").loss
'quadratic_hinge'
>>> Named(alpha=float("inf"))
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: alpha=inf is not a finite number; give a finite value
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from symscape import params
from symscape.errors import InvalidOptionError
from symscape.params import *  # noqa: F403 - config fields are declared with these
from symscape.validation import check_finite, choose

__all__ = ["JsonConfig", "dotted", *params.__all__]


class _Unlimited:
    """``UNLIMITED`` of a declared config: the fields whose interval admits ``+inf``."""

    def __get__(self, instance, owner) -> tuple[str, ...]:
        if not dataclasses.is_dataclass(owner):
            return ()
        out = []
        for field in dataclasses.fields(owner):
            constraint = getattr(params.declared(field), "constraint", None)
            while isinstance(constraint, params.OrNone):
                constraint = constraint.inner
            if isinstance(constraint, params.Interval) and constraint.high == math.inf:
                out.append(field.name)
        return tuple(out)


class JsonConfig:
    """Mixin for frozen dataclass configs."""

    #: fields holding a registry name (or a tuple of them): field -> the known names
    NAMES: ClassVar[Mapping[str, Callable[[], Sequence[str]]]] = {}
    #: fields in which ``+inf`` means "no limit" (every other number must be finite); for
    #: declared fields, those whose interval's upper end is ``inf``
    UNLIMITED: ClassVar[tuple[str, ...]] = _Unlimited()  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if own is None:  # inherited: JsonConfig's, or a parent's already wrapped
            return

        def __post_init__(self):
            JsonConfig._check_declared(self)
            own(self)
            JsonConfig._check_declared(self)  # again: the values own() converted, e.g. "inf"

        __post_init__.__doc__ = own.__doc__
        cls.__post_init__ = __post_init__

    def __post_init__(self):
        self._check_declared()

    def _check_declared(self) -> None:
        """The declared constraints, and ``NAMES`` and ``UNLIMITED`` (see the module docstring)."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            declaration = params.declared(field)
            if declaration is not None:
                object.__setattr__(
                    self, field.name, declaration.constraint.check(value, field.name)
                )
            else:
                check_finite(value, field.name, unlimited=field.name in self.UNLIMITED)
        for name, known in self.NAMES.items():
            value = getattr(self, name)
            what = "data set" if name == "dataset" else name.replace("_", " ")
            if value is None:
                continue
            if isinstance(value, list | tuple):  # a list of names: each is one "model", ...
                what = what.removesuffix("s")
                chosen: Any = tuple(choose(v, known(), what) for v in value)
            else:
                chosen = choose(value, known(), what)
            object.__setattr__(self, name, chosen)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON values (lists for tuples)."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        """The config of :meth:`to_dict`; an unknown field is an error."""
        return cls(**cls.canonical_values(values))

    @classmethod
    def canonical_values(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """JSON or TOML values as the fields hold them (lists as tuples, an int for a float
        field as a float); an unknown field is an error that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidOptionError(
                f"unknown config field(s) {', '.join(unknown)}",
                fix=f"known fields: {', '.join(sorted(known))}",
            )
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        return {k: _canonical(v, types[k]) for k, v in values.items()}


def _canonical(value: Any, annotation: Any) -> Any:
    """Lists as tuples; an int for a float field as a float."""
    if isinstance(value, list):
        return tuple(value)
    floats = ("float", "float | None", float)
    if annotation in floats and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def dotted(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables flattened to dotted names.

    >>> dotted({"width": 8, "data": {"P": 10, "d": 5}})
    {'width': 8, 'data.P': 10, 'data.d': 5}
    """
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(dotted(value, f"{name}."))
        else:
            out[name] = value
    return out
