"""Running an experiment's sweep to completion through the store (shared by the experiments)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["complete", "section_store"]


def section_store(out: str | Path, store: str | Path | None = None) -> Path:
    """The sweep store of a ``symscape reproduce`` section: ``store``, else ``out/symscape.db``."""
    return Path(store) if store is not None else Path(out) / "symscape.db"


def complete(spec, store_path: str | Path, executor="inprocess", what: str = ""):
    """Run every unfinished run of ``spec`` into ``store_path``
    (:class:`~symscape.errors.RunsFailedError` if any failed).

    ``executor`` is an executor's name or a
    :class:`~symscape.sweep.executors.ExecutorChoice` (a name with options).
    A rerun resumes: runs finished in the store are not trained again, failed
    ones are. An interrupted sweep (Ctrl-C) raises :class:`KeyboardInterrupt`
    once the driver has stopped, never hands back unfinished runs.
    ``what`` names the runs in the error (e.g. ``"at width 8"``).
    """
    from symscape.errors import RunsFailedError
    from symscape.sweep import run_sweep
    from symscape.sweep.executors import ExecutorChoice

    options: dict = {}
    if isinstance(executor, ExecutorChoice):
        executor, options = executor.name, dict(executor.options)
    report = run_sweep(spec, Path(store_path), executor=executor, executor_options=options)
    if report.interrupted:  # the driver stopped on Ctrl-C: the store holds unfinished runs
        raise KeyboardInterrupt(f"sweep {spec.name} interrupted; rerun to resume")
    if report.counts["failed"]:
        raise RunsFailedError(report.counts["failed"], report.failures, store_path, what)
    return report
