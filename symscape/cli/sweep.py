"""``symscape sweep run|status``: run a TOML spec into a store; see where a store stands."""

from __future__ import annotations

import contextlib
import signal
import time

import click

from symscape.cli._options import executor_flags, executor_options_of
from symscape.cli._output import print_table
from symscape.errors import failure_reason

__all__ = ["sweep"]


@click.group()
def sweep() -> None:
    """Grids of runs from a TOML spec, stored in a crash-safe SQLite file.

    A rerun of the same spec resumes: finished runs are never run again.
    """


@sweep.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="the store (SQLite)")
@click.option(
    "--executor",
    type=click.Choice(["pool", "inprocess", "ray", "slurm"]),
    default="pool",
    show_default=True,
    help="where runs execute",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="pool processes [default: one per core]"
)
@click.option(
    "--retry-failed/--keep-failed",
    default=True,
    show_default=True,
    help="run the runs that failed before again (a failed run is not a result), or leave them",
)
@click.option("--dry-run", is_flag=True, help="validate, count runs and computations, run nothing")
@click.option(
    "--report-every",
    type=float,
    default=30.0,
    show_default=True,
    help="seconds between progress lines when not on a terminal",
)
@executor_flags
def run(spec, db, executor, workers, retry_failed, dry_run, report_every, **options):
    """Run every unfinished run of SPEC into the store --db.

    Exit code 0 when every run finished, 1 when some failed, 130 on Ctrl-C
    (the store stays resumable).
    """
    from symscape.progress import interactive
    from symscape.sweep import load_spec, run_sweep

    loaded = load_spec(spec)
    options = {k: v for k, v in options.items() if v is not None}
    executor_options = executor_options_of(executor, options)
    runs = loaded.runs()
    if dry_run:
        units = loaded.units(runs)
        click.echo(
            f"{loaded.source}: experiment {loaded.experiment}, {len(runs)} runs "
            f"in {len(units)} computation(s) (packing {'on' if loaded.pack else 'off'})"
        )
        return 0
    with _sigterm_as_interrupt():  # a batch system's TERM stops as cleanly as Ctrl-C
        report = run_sweep(
            loaded,
            db,
            executor=executor,
            workers=workers,
            retry_failed=retry_failed,
            interactive=interactive(),
            report_every=report_every,
            executor_options=executor_options,
        )
    click.echo(report.summary())
    for key, error in report.failures:
        click.echo(f"  failed {key[:12]}: {failure_reason(error)}", err=True)
    if report.failures:
        click.echo(
            f"  tracebacks: symscape results {db} --where status=failed --format json", err=True
        )
    if report.interrupted:
        click.echo("symscape: interrupted; rerun the same command to resume", err=True)
        return 130
    return 0 if report.ok else 1


@contextlib.contextmanager
def _sigterm_as_interrupt():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@sweep.command("status")
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="the store (SQLite)")
def status(db):
    """How many runs of each sweep in --db are done, failed, diverged, running or pending."""
    from symscape.sweep import Store

    with Store(db, create=False) as store:
        rows = []
        for name in store.sweeps():
            c = store.counts(name)
            total = sum(c.values())
            rows.append(
                [name, total, c["done"], c["diverged"], c["failed"], c["running"], c["pending"]]
            )
        # a packed computation is shared by its runs: count it once
        seconds = store.db.execute(
            "SELECT coalesce(sum(duration / coalesce(packed, 1)), 0) FROM runs"
        ).fetchone()[0]
        driver = store.driver()
        failures = store.failures(limit=5)
    print_table(
        f"{db}", ["sweep", "runs", "done", "diverged", "failed", "running", "pending"], rows
    )
    click.echo(f"compute time of stored runs: {seconds:.1f} s")
    if driver:
        age = time.time() - driver["heartbeat"]
        click.echo(f"driver: pid {driver['pid']} on {driver['host']}, last seen {age:.0f} s ago")
    for key, error in failures:
        click.echo(f"failed {key[:12]}: {failure_reason(error)}")
