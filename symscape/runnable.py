"""What a sweep can run: a config type and a pure run function (the ground floor).

An :class:`Experiment` is declared by the layer that owns the run (``train``
by :mod:`symscape.train.experiment`, one learning-curve point by
:mod:`symscape.experiments.equivariance`, ...); the sweep layer
(:mod:`symscape.sweep`) only sees this interface and finds a declaration by
its import path, so that nothing below the experiments imports one.

>>> import dataclasses
>>> from symscape.config import JsonConfig
>>> @dataclasses.dataclass(frozen=True)
... class Square(JsonConfig):
...     x: float = 1.0
>>> square = Experiment("square", Square, lambda config: {"y": config.x**2})
>>> square.run(Square(x=3.0)), square.status({"y": 9.0})
({'y': 9.0}, 'done')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from symscape.config import JsonConfig
from symscape.errors import InvalidOptionError

__all__ = ["Experiment", "Record"]

Record = dict[str, Any]


def _done(record: Record) -> str:
    return "done"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A run function and its config, as a sweep sees them.

    Parameters
    ----------
    name:
        The name stored with every run.
    config:
        The frozen config dataclass; ``config.from_dict`` validates a run.
    run:
        ``run(config) -> record``: a dict of JSON values and numpy arrays
        (nested dicts allowed). Pure: the same config gives the same record.
    seed_field:
        The config's tuple-of-seeds field, or ``None`` when runs have no seeds.
    split:
        ``split(record, config) -> [record per seed]`` for a packed run; needed
        when ``seed_field`` is set.
    status:
        ``status(record) -> "done" | "diverged"`` of a per-seed record.
    """

    name: str
    config: type[JsonConfig]
    run: Callable[[Any], Record]
    seed_field: str | None = None
    split: Callable[[Record, Any], list[Record]] | None = None
    status: Callable[[Record], str] = _done

    def __post_init__(self):
        if self.seed_field is not None and self.split is None:
            raise InvalidOptionError(
                f"experiment {self.name!r} has a seed field but no split function",
                fix="give split(record, config) -> one record per seed",
            )
