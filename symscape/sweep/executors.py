"""Where units run: one small interface, four executors.

=============== ==========================================================
``inprocess``   in the driver's own process, one unit at a time (debugging:
                breakpoints and tracebacks work as usual)
``pool``        a pool of local worker processes (the default: one per
                core, each pinned to ``threads`` torch threads); a worker
                that dies (out of memory, killed) fails its unit, not the
                sweep, and is replaced
``ray``         Ray tasks, on a local instance or an existing cluster
                (``address``); records come back to the driver
``slurm``       SLURM job arrays through submitit; each job writes every
                finished run as its own file (temporary name, then rename)
                into the sweep's folder, which the driver ingests
=============== ==========================================================

An executor takes units (:meth:`Executor.submit`) while it has room and
hands back finished ones (:meth:`Executor.wait`); the driver is the only
writer to the store, whatever the executor. The same unit gives the same
outcome everywhere (timings and host aside).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import inspect
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symscape.errors import (
    DataFormatError,
    InvalidOptionError,
    MissingDependencyError,
    SymscapeError,
)
from symscape.sweep.records import OUTCOME_SUFFIX, Outcome, read_outcome_file
from symscape.sweep.spec import Unit
from symscape.sweep.work import execute_unit, execute_units_to_folder

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorChoice",
    "ExecutorError",
    "InProcessExecutor",
    "PoolExecutor",
    "RayExecutor",
    "SlurmExecutor",
    "ingest_folder",
    "make_executor",
]

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


# ------------------------------------------------------------------ in-process
class InProcessExecutor(Executor):
    """Runs each unit in the driver's process, when :meth:`wait` is called."""

    name = "inprocess"

    def __init__(self, threads: int = 1):
        self.threads = threads
        self.queue: deque[Unit] = deque()

    def submit(self, unit: Unit) -> None:
        self.queue.append(unit)

    def has_room(self) -> bool:
        return not self.queue

    def in_flight(self) -> int:
        return len(self.queue)

    def wait(self, timeout: float) -> Finished:
        if not self.queue:
            return []
        from symscape.runtime import torch_threads

        unit = self.queue[0]
        with torch_threads(self.threads):
            outcomes = execute_unit(unit)
        self.queue.popleft()
        return outcomes


# ------------------------------------------------------------------ local pool
def _die_with_parent() -> None:
    """End this worker when the driver dies, even by SIGKILL (Linux: PR_SET_PDEATHSIG)."""
    parent = os.getppid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the driver died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere (or if prctl failed): notice the new parent
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="symscape-parent-watch").start()


def _worker_main(connection, threads: int) -> None:
    """A pool worker: receive a unit, send its outcomes back, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C does
    _die_with_parent()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            unit = connection.recv()
        except (EOFError, OSError):
            return
        outcomes = execute_unit(unit)
        try:
            connection.send(outcomes)
        except (BrokenPipeError, OSError):  # the driver is gone
            return


class _Worker:
    def __init__(self, context, threads: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, threads), name="symscape-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.unit: Unit | None = None
        self.started = 0.0

    def stop(self, force: bool) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()
        if force and self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=None if force else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class PoolExecutor(Executor):
    """``workers`` local processes (spawned, so no state is inherited from the driver)."""

    name = "pool"

    def __init__(self, workers: int | None = None, threads: int = 1):
        self.workers = workers or default_workers()
        self.threads = threads
        self.context = multiprocessing.get_context("spawn")
        self.pool: list[_Worker] = []

    def _idle(self) -> _Worker | None:
        for worker in list(self.pool):
            if worker.unit is None and not worker.process.is_alive():  # died while idle
                worker.stop(force=True)
                self.pool.remove(worker)
        for worker in self.pool:
            if worker.unit is None:
                return worker
        if len(self.pool) < self.workers:
            self.pool.append(_Worker(self.context, self.threads))
            return self.pool[-1]
        return None

    def has_room(self) -> bool:
        return any(w.unit is None for w in self.pool) or len(self.pool) < self.workers

    def in_flight(self) -> int:
        return sum(w.unit is not None for w in self.pool)

    def submit(self, unit: Unit) -> None:
        worker = self._idle()
        if worker is None:
            raise RuntimeError("no idle worker: check has_room() before submit()")
        worker.unit, worker.started = unit, time.time()
        # if it died just now, wait() sees its sentinel and reports the unit failed
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.connection.send(unit)

    def wait(self, timeout: float) -> Finished:
        busy = [w for w in self.pool if w.unit is not None]
        if not busy:
            return []
        handles = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(multiprocessing.connection.wait(handles, timeout))
        finished: Finished = []
        for worker in busy:
            unit = worker.unit
            if worker.connection in ready:
                try:
                    outcomes = worker.connection.recv()
                except (EOFError, OSError):
                    outcomes = None
                if outcomes is not None:
                    worker.unit = None
                    finished.extend(outcomes)
                    continue
            if worker.connection in ready or worker.process.sentinel in ready:
                worker.process.join(timeout=1)
                code = worker.process.exitcode
                why = (
                    f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
                )
                hint = " (out of memory?)" if code == -signal.SIGKILL else ""
                finished.extend(_failed(unit, f"worker process died ({why}){hint}", worker.started))
                worker.stop(force=True)
                self.pool.remove(worker)
        return finished

    def close(self, abort: bool = False) -> None:
        for worker in self.pool:
            worker.stop(force=abort or worker.unit is not None)
        self.pool.clear()


# ------------------------------------------------------------------ Ray
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


# ------------------------------------------------------------------ SLURM
def ingest_folder(folder: Path) -> list[tuple[Path, Outcome]]:
    """The outcome files in ``folder`` (unreadable ones are reported as failures)."""
    found = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob(f"*{OUTCOME_SUFFIX}")):
        try:
            found.append((path, read_outcome_file(path)))
        except DataFormatError:  # set aside; its run stays pending and runs again
            path.replace(path.with_suffix(".bad"))
    return found


class SlurmExecutor(Executor):
    """SLURM job arrays through submitit; results come back as files in ``folder/outbox``.

    ``cluster="local"`` runs the same jobs as local subprocesses (submitit's
    local executor), which is how the tests exercise this path.
    """

    name = "slurm"

    @staticmethod
    def preflight(runs_per_job: int = 1, cluster: str | None = None, **options):
        """submitit, imported, after the checks that need no cluster: one-line errors before
        any run (submitit missing, ``runs_per_job`` < 1, no ``sbatch`` and no ``cluster``)."""
        try:
            import submitit
        except ImportError:
            raise MissingDependencyError(
                "the slurm executor needs submitit", fix="pip install 'symscape[slurm]'"
            ) from None
        if runs_per_job < 1:
            raise InvalidOptionError(f"runs_per_job={runs_per_job} < 1", fix="use >= 1")
        if cluster is None and shutil.which("sbatch") is None:
            raise ExecutorError(
                "--executor slurm needs SLURM's sbatch on the PATH, and there is none here",
                fix="run the driver on a SLURM login node, or pass --cluster local to try the "
                "set-up on this machine",
            )
        return submitit

    def __init__(
        self,
        folder: str | os.PathLike,
        partition: str | None = None,
        time_min: int = 60,
        gpus_per_task: int = 0,
        cpus_per_task: int = 1,
        array_parallelism: int = 256,
        runs_per_job: int = 1,
        mem_gb: float | None = None,
        cluster: str | None = None,
        threads: int = 1,
    ):
        submitit = self.preflight(runs_per_job=runs_per_job, cluster=cluster)
        self.folder = Path(folder).resolve()  # jobs run elsewhere: no relative paths
        self.outbox = self.folder / "outbox"
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.executor = submitit.AutoExecutor(folder=self.folder / "jobs" / "%j", cluster=cluster)
        parameters: dict[str, Any] = {
            "timeout_min": time_min,
            "cpus_per_task": cpus_per_task,
            "gpus_per_node": gpus_per_task,
            "slurm_array_parallelism": array_parallelism,
            "name": "symscape-sweep",
        }
        if partition:
            parameters["slurm_partition"] = partition
        if mem_gb:
            parameters["mem_gb"] = mem_gb
        self.executor.update_parameters(**parameters)
        self.threads = threads
        self.runs_per_job = runs_per_job
        # units in flight at most: arrays stay below SLURM's usual MaxArraySize (1001)
        self.limit = min(1000 * runs_per_job, max(4 * array_parallelism, 1) * runs_per_job)
        self.buffer: list[Unit] = []
        self.jobs: list[tuple[Any, list[Unit], float]] = []
        self.waiting: dict[str, Unit] = {}  # key -> unit, runs whose file has not come
        self.files: dict[str, Path] = {}

    def submit(self, unit: Unit) -> None:
        self.buffer.append(unit)
        for key in unit.keys:
            self.waiting[key] = unit

    def in_flight(self) -> int:
        return len({id(u) for u in self.waiting.values()})

    def has_room(self) -> bool:
        return self.in_flight() < self.limit

    def _flush(self) -> None:
        if not self.buffer:
            return
        chunks = [
            self.buffer[i : i + self.runs_per_job]
            for i in range(0, len(self.buffer), self.runs_per_job)
        ]
        try:
            with self.executor.batch():
                jobs = [
                    self.executor.submit(
                        execute_units_to_folder, chunk, str(self.outbox), self.threads
                    )
                    for chunk in chunks
                ]
        except Exception as err:
            raise ExecutorError(
                f"submitting {len(chunks)} job(s) failed: {type(err).__name__}: {err}",
                fix="check the partition, time and GPU options against 'sinfo'; finished runs "
                "are kept, rerun to resume",
            ) from None
        now = time.time()
        self.jobs.extend((job, chunk, now) for job, chunk in zip(jobs, chunks, strict=True))
        self.buffer.clear()

    def wait(self, timeout: float) -> Finished:
        self._flush()
        deadline = time.time() + timeout
        while True:
            finished = self._collect()
            if finished or not self.waiting or time.time() >= deadline:
                return finished
            time.sleep(min(0.2, max(0.0, deadline - time.time())))

    def _collect(self) -> Finished:
        finished: Finished = []
        for path, outcome in ingest_folder(self.outbox):
            if outcome.key in self.files:  # read already, not yet acknowledged
                continue
            # a key not waited for is a late file of an earlier driver: stored all the same
            self.waiting.pop(outcome.key, None)
            self.files[outcome.key] = path
            finished.append(outcome)
        # jobs that ended without writing every result: their missing runs fail
        for job, units, started in list(self.jobs):
            missing = [k for u in units for k in u.keys if k in self.waiting]
            if not missing:
                self.jobs.remove((job, units, started))
                continue
            if not job.done():
                continue
            self.jobs.remove((job, units, started))
            error = _job_error(job)
            for unit in units:
                lost = [k for k in unit.keys if k in self.waiting]
                for key in lost:
                    self.waiting.pop(key)
                if lost:
                    finished += _failed(
                        Unit(unit.experiment, unit.config, tuple(lost)), error, started
                    )
        return finished

    def acknowledge(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            path = self.files.pop(outcome.key, None)
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def close(self, abort: bool = False) -> None:
        if abort:
            for job, _, _ in self.jobs:
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
        self.jobs.clear()


def _job_error(job) -> str:
    try:
        job.result()
    except Exception as err:
        return f"SLURM job {job.job_id} ended without a result: {err}"
    return f"SLURM job {job.job_id} ended without writing every result"


# ------------------------------------------------------------------ choosing
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
