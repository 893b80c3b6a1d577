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
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from symscape.errors import InvalidOptionError

__all__ = ["JsonConfig", "dotted"]


class JsonConfig:
    """Mixin for frozen dataclass configs."""

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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidOptionError(
                f"unknown config field(s) {', '.join(unknown)}",
                fix=f"known fields: {', '.join(sorted(known))}",
            )
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        return cls(**{k: _canonical(v, types[k]) for k, v in values.items()})


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
