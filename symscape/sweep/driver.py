"""The sweep driver: the one process that schedules units and writes the store.

``run_sweep(spec, db)`` (``spec`` may be several specs, trained as one queue,
so that the workers train the units of each side by side):

1. expands and validates the spec (nothing runs if any run is invalid);
2. takes the store's driver lease (a second live driver is refused), ingests
   result files that SLURM jobs left in the sweep's folder, and puts back to
   ``pending`` the runs a killed driver left ``running``;
3. inserts the spec's new runs as ``pending``, and schedules those not done,
   packed into ensembles: a ``failed`` run is not a result, so it is run
   again (unless ``retry_failed=False``, which leaves it failed);
4. commits every finished run as it arrives; on Ctrl-C, stops the workers
   and leaves the unfinished runs ``pending``, so a rerun resumes.

The sweep's folder is ``<db>.d/`` (SLURM job logs and result files).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symscape.sweep.executors import Executor, ingest_folder, make_executor
from symscape.sweep.records import Outcome
from symscape.sweep.spec import SweepSpec
from symscape.sweep.store import Store

__all__ = ["SweepReport", "run_sweep", "sweep_folder"]


def sweep_folder(db: str | Path) -> Path:
    """The folder beside a store for SLURM job logs and result files."""
    db = Path(db)
    return db.with_name(db.name + ".d")


@dataclasses.dataclass
class SweepReport:
    """What a call of :func:`run_sweep` did."""

    total: int  # distinct runs in the spec(s)
    skipped: int  # already finished before this call
    counts: dict[str, int]  # statuses of the spec's runs at the end
    ran: int  # runs finished by this call
    units: int  # computations they were packed into
    wall_time: float
    interrupted: bool = False
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    retried: int = 0  # runs that had failed before this call and were run again

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.counts.get("failed", 0) == 0

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c.get('done', 0)} done"]
        if c.get("diverged"):
            parts.append(f"{c['diverged']} diverged")
        parts.append(f"{c.get('failed', 0)} failed")
        left = c.get("pending", 0) + c.get("running", 0)
        if left:
            parts.append(f"{left} not run")
        head = "interrupted" if self.interrupted else "finished"
        retried = f" (retried {self.retried} that had failed)" if self.retried else ""
        return (
            f"sweep {head}: {self.total} runs: {', '.join(parts)}; this call ran {self.ran}"
            f"{retried} in {self.units} computation(s) and skipped {self.skipped} finished, "
            f"in {self.wall_time:.1f} s"
        )


class Progress:
    """Counts for the display: a rich bar on a terminal, else a line every ``every`` s."""

    def __init__(self, total: int, done: int, interactive: bool, every: float = 30.0, out=None):
        self.total, self.done, self.failed, self.running = total, done, 0, 0
        self.first_done, self.started = done, time.time()
        self.interactive, self.every, self.last = interactive, every, time.time()
        self.out = out or sys.stderr
        self.bar: Any = None

    def __enter__(self) -> Progress:
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                TextColumn(
                    "{task.completed}/{task.total} done, {task.fields[failed]} failed, "
                    "{task.fields[running]} running"
                ),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(
                "sweep", total=self.total, completed=self.done, failed=0, running=0
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def eta(self) -> str:
        rate = (self.done - self.first_done) / max(time.time() - self.started, 1e-9)
        left = self.total - self.done - self.failed
        if rate <= 0:
            return "?"
        seconds = left / rate
        return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"

    def update(self, finished: int = 0, failed: int = 0, running: int | None = None) -> None:
        self.done += finished
        self.failed += failed
        if running is not None:
            self.running = running
        if self.bar is not None:
            self.bar.update(
                self.task,
                completed=self.done + self.failed,
                failed=self.failed,
                running=self.running,
            )
        elif time.time() - self.last >= self.every:
            self.line()

    def line(self) -> None:
        self.last = time.time()
        print(
            f"sweep: {self.done}/{self.total} done, {self.failed} failed, {self.running} running, "
            f"ETA {self.eta()}",
            file=self.out,
            flush=True,
        )


def run_sweep(
    spec: SweepSpec | Sequence[SweepSpec],
    db: str | Path,
    executor: str | Executor = "pool",
    workers: int | None = None,
    retry_failed: bool = True,
    interactive: bool = False,
    report_every: float = 30.0,
    executor_options: dict[str, Any] | None = None,
) -> SweepReport:
    """Run every unfinished run of ``spec`` (one spec or several) into the store ``db`` (see
    the module docstring)."""
    started = time.time()
    specs = [spec] if isinstance(spec, SweepSpec) else list(spec)
    per_spec, seen = [], set()
    for one in specs:  # a run two specs share is one run, of the first spec that has it
        fresh = [run for run in one.runs() if run.key not in seen]
        seen.update(run.key for run in fresh)
        per_spec.append((one, fresh))
    runs = [run for _, fresh in per_spec for run in fresh]
    keys = [run.key for run in runs]
    store = Store(db)
    folder = sweep_folder(db)
    pool: Executor | None = None
    ran = retried = 0
    units: list = []
    interrupted = False
    try:
        store.acquire(command=" ".join(sys.argv))
        _ingest(store, folder / "outbox")
        store.reclaim()
        for one, fresh in per_spec:
            store.add_runs(fresh, one.name)
        statuses = store.statuses(keys)
        wanted = {"pending", "failed"} if retry_failed else {"pending"}
        todo = [(one, [r for r in fresh if statuses[r.key] in wanted]) for one, fresh in per_spec]
        retried = sum(statuses[r.key] == "failed" for _, runs_of in todo for r in runs_of)
        skipped = len(runs) - sum(len(runs_of) for _, runs_of in todo)
        units = [unit for one, runs_of in todo for unit in one.units(runs_of)]
        queue = deque(units)
        if queue:
            pool = (
                executor
                if isinstance(executor, Executor)
                else make_executor(executor, folder, workers, **(executor_options or {}))
            )
        finished = sum(statuses[k] in ("done", "diverged") for k in keys)
        with Progress(len(runs), finished, interactive, report_every) as progress:
            try:
                running = 0
                while queue or (pool is not None and pool.in_flight()):
                    while queue and pool.has_room():
                        unit = queue.popleft()
                        store.mark(unit.keys, "running")
                        pool.submit(unit)
                        running += len(unit)
                    progress.update(running=running)
                    outcomes = pool.wait(timeout=1.0)
                    if outcomes:
                        store.record(outcomes)
                        pool.acknowledge(outcomes)
                        failed = sum(o.status == "failed" for o in outcomes)
                        ran += len(outcomes)
                        running = max(running - len(outcomes), 0)
                        progress.update(len(outcomes) - failed, failed, running)
            except KeyboardInterrupt:
                interrupted = True
                if pool is not None:
                    pool.close(abort=True)
                    pool = None
    finally:
        if pool is not None:
            pool.close()
        store.release()
    counts = dict.fromkeys(("pending", "running", "done", "diverged", "failed"), 0)
    for status in store.statuses(keys).values():
        counts[status] += 1
    failures = store.failures(keys=keys) if counts["failed"] else []
    store.close()
    return SweepReport(
        total=len(runs),
        skipped=skipped,
        counts=counts,
        ran=ran,
        units=len(units),
        wall_time=time.time() - started,
        interrupted=interrupted,
        failures=failures,
        retried=retried,
    )


def _ingest(store: Store, outbox: Path) -> int:
    """Store the result files SLURM jobs left behind, then delete them."""
    found = ingest_folder(outbox)
    if found:
        outcomes: list[Outcome] = [outcome for _, outcome in found]
        store.record(outcomes)
        for path, _ in found:
            path.unlink(missing_ok=True)
    return len(found)
