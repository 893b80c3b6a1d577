"""The executor interface, and what every executor shares.

An executor takes units (:meth:`Executor.submit`) while it has room
(:meth:`Executor.has_room`) and hands back finished ones
(:meth:`Executor.wait`); the driver commits them to the store, then calls
:meth:`Executor.acknowledge`.
"""

from __future__ import annotations

import abc
import os
import time

from symscape.errors import SymscapeError
from symscape.sweep.records import Outcome
from symscape.sweep.spec import Unit

__all__ = ["Executor", "ExecutorError", "Finished", "default_workers"]

Finished = list[Outcome]


class ExecutorError(SymscapeError, RuntimeError):
    """An executor that cannot start or submit (no cluster, a scheduler error)."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _failed(unit: Unit, error: str, started: float) -> list[Outcome]:
    now = time.time()
    return [
        Outcome(key, "failed", error=error, started=started, finished=now, packed=len(unit))
        for key in unit.keys
    ]


class Executor(abc.ABC):
    """Runs units; the driver submits while :meth:`has_room` and collects with :meth:`wait`."""

    name = "executor"

    @abc.abstractmethod
    def submit(self, unit: Unit) -> None: ...

    @abc.abstractmethod
    def wait(self, timeout: float) -> Finished:
        """Units finished since the last call (waits up to ``timeout`` s for one)."""

    @abc.abstractmethod
    def in_flight(self) -> int: ...

    def has_room(self) -> bool:
        return True

    def acknowledge(self, outcomes: list[Outcome]) -> None:  # noqa: B027 - optional hook
        """Called once ``outcomes`` are committed to the store."""

    def close(self, abort: bool = False) -> None:  # noqa: B027 - optional hook
        """Release workers; ``abort`` stops running units (their runs stay pending)."""
