"""Ray tasks as an executor: on a local Ray instance or an existing cluster.

Each unit is one Ray task (no retries); its outcomes come back to the
driver as the task's result, and a task that fails (a worker crash, a lost
node) fails its unit.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from symscape.errors import MissingDependencyError
from symscape.sweep.executors.base import (
    Executor,
    ExecutorError,
    Finished,
    _failed,
    default_workers,
)
from symscape.sweep.records import Outcome
from symscape.sweep.spec import Unit
from symscape.sweep.work import execute_unit

__all__ = ["RayExecutor"]


class RayExecutor(Executor):
    """Ray tasks: a local instance of ``workers`` CPUs, or the cluster at ``address``."""

    name = "ray"

    @staticmethod
    def preflight(**options):
        """Ray, imported, or the one-line error saying how to install it (before any run)."""
        try:
            import ray
        except ImportError:
            raise MissingDependencyError(
                "the ray executor needs Ray", fix="pip install 'symscape[ray]'"
            ) from None
        return ray

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_run: float = 1,
        gpus_per_run: float = 0,
        threads: int = 1,
    ):
        ray = self.preflight()
        self.ray = ray
        self.started_ray = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if address:
                options["address"] = address
            else:
                options["num_cpus"] = workers or default_workers()
            try:
                ray.init(**options)
            except Exception as err:
                where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
                raise ExecutorError(
                    f"cannot start or reach {where}: {type(err).__name__}: {err}",
                    fix="start one with 'ray start --head', or drop --address for a local one",
                ) from None
            self.started_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.limit = max(2, int(2 * cpus / max(cpus_per_run, 1e-9)))
        self.remote = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)(
            _ray_unit
        )
        self.threads = threads
        self.refs: dict[Any, tuple[Unit, float]] = {}

    def has_room(self) -> bool:
        return len(self.refs) < self.limit

    def in_flight(self) -> int:
        return len(self.refs)

    def submit(self, unit: Unit) -> None:
        self.refs[self.remote.remote(unit, self.threads)] = (unit, time.time())

    def wait(self, timeout: float) -> Finished:
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=timeout)
        if not ready:
            ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=0)
        finished: Finished = []
        for ref in ready:
            unit, started = self.refs.pop(ref)
            try:
                outcomes = self.ray.get(ref)
            except Exception as err:  # a worker crash or a lost node: the unit fails
                outcomes = _failed(unit, f"Ray task failed: {err}", started)
            finished.extend(outcomes)
        return finished

    def close(self, abort: bool = False) -> None:
        if abort:
            for ref in self.refs:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)
        self.refs.clear()
        if self.started_ray:
            self.ray.shutdown()


def _ray_unit(unit: Unit, threads: int) -> list[Outcome]:
    import torch

    torch.set_num_threads(threads)
    return execute_unit(unit)
