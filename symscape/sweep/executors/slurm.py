"""SLURM job arrays through submitit as an executor.

Each job runs a chunk of units and writes every finished run as its own
file (temporary name, then rename) into the sweep's outbox folder, which the
driver ingests (:func:`ingest_folder`); a job that ends without writing
every result fails its missing runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from symscape.errors import DataFormatError, InvalidOptionError, MissingDependencyError
from symscape.sweep.executors.base import Executor, ExecutorError, Finished, _failed
from symscape.sweep.records import OUTCOME_SUFFIX, Outcome, read_outcome_file
from symscape.sweep.spec import Unit
from symscape.sweep.work import execute_units_to_folder

__all__ = ["SlurmExecutor", "ingest_folder"]


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
