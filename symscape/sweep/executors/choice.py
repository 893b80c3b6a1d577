"""Choosing an executor by name: :data:`EXECUTORS`, :class:`ExecutorChoice`, :func:`make_executor`.

>>> EXECUTORS
('pool', 'inprocess', 'ray', 'slurm')
>>> ExecutorChoice("pool").name
'pool'
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symscape.errors import InvalidOptionError
from symscape.sweep.executors.base import Executor
from symscape.sweep.executors.local import InProcessExecutor, PoolExecutor
from symscape.sweep.executors.ray_tasks import RayExecutor
from symscape.sweep.executors.slurm import SlurmExecutor

__all__ = ["EXECUTORS", "ExecutorChoice", "make_executor"]

EXECUTORS = ("pool", "inprocess", "ray", "slurm")


@dataclasses.dataclass(frozen=True)
class ExecutorChoice:
    """An executor named with its options, e.g. ``ExecutorChoice("ray", {"address": "auto"})``.

    What the experiments' ``executor`` arguments take besides a bare name,
    so that a command can hand the options of ``--executor ray`` (address,
    GPUs per run) down to every sweep it starts.
    """

    name: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.name not in EXECUTORS:
            raise InvalidOptionError(
                f"unknown executor {self.name!r}", fix=f"use one of {', '.join(EXECUTORS)}"
            )
        if self.name in ("inprocess", "pool"):
            _no_options(self.name, dict(self.options))
            return
        cls = RayExecutor if self.name == "ray" else SlurmExecutor
        known = set(inspect.signature(cls.__init__).parameters) - {"self", "workers", "folder"}
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise InvalidOptionError(
                f"executor {self.name!r} has no option {', '.join(unknown)}",
                fix=f"use among {', '.join(sorted(known))}",
            )
        cls.preflight(**self.options)  # a missing package or sbatch: said before any run


def make_executor(name: str, folder: Path, workers: int | None = None, **options) -> Executor:
    """The executor called ``name``; ``options`` are its keyword arguments."""
    threads = options.pop("threads", 1)
    if name == "inprocess":
        _no_options(name, options)
        return InProcessExecutor(threads=threads)
    if name == "pool":
        _no_options(name, options)
        return PoolExecutor(workers, threads=threads)
    if name == "ray":
        return RayExecutor(workers=workers, threads=threads, **options)
    if name == "slurm":
        return SlurmExecutor(folder, threads=threads, **options)
    raise InvalidOptionError(f"unknown executor {name!r}", fix=f"use one of {', '.join(EXECUTORS)}")


def _no_options(name: str, options: dict[str, Any]) -> None:
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise InvalidOptionError(
            f"executor {name!r} does not take {', '.join(given)}",
            fix="drop them, or choose the ray or slurm executor",
        )
