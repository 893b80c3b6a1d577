"""``symscape sweep run|status``: run a TOML spec into a store; see where a store stands."""

from __future__ import annotations

import contextlib
import signal
import time

import click

from symscape.cli._output import print_table

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
@click.option("--retry-failed", is_flag=True, help="run failed runs again")
@click.option("--dry-run", is_flag=True, help="validate, count runs and computations, run nothing")
@click.option(
    "--report-every",
    type=float,
    default=30.0,
    show_default=True,
    help="seconds between progress lines when not on a terminal",
)
@click.option("--address", help="ray: address of an existing cluster (e.g. auto)")
@click.option("--cpus-per-run", type=float, help="ray: CPUs per computation [1]")
@click.option("--gpus-per-run", type=float, help="ray: GPUs per computation [0]")
@click.option("--partition", help="slurm: partition")
@click.option("--time-min", type=int, help="slurm: time limit per job in minutes [60]")
@click.option("--gpus-per-task", type=int, help="slurm: GPUs per job [0]")
@click.option("--cpus-per-task", type=int, help="slurm: CPUs per job [1]")
@click.option("--array-parallelism", type=int, help="slurm: jobs of the array at once [256]")
@click.option("--runs-per-job", type=int, help="slurm: computations per job [1]")
@click.option("--mem-gb", type=float, help="slurm: memory per job in GB")
@click.option(
    "--cluster",
    type=click.Choice(["slurm", "local", "debug"]),
    help="slurm: submitit's executor (local: subprocesses, for testing a set-up)",
)
def run(spec, db, executor, workers, retry_failed, dry_run, report_every, **options):
    """Run every unfinished run of SPEC into the store --db.

    Exit code 0 when every run finished, 1 when some failed, 130 on Ctrl-C
    (the store stays resumable).
    """
    from symscape.progress import interactive
    from symscape.sweep import load_spec, run_sweep

    loaded = load_spec(spec)
    options = {k: v for k, v in options.items() if v is not None}
    executor_options = _executor_options(executor, options)
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
        last = [line for line in error.strip().splitlines() if line.strip()]
        click.echo(f"  failed {key[:12]}: {last[-1] if last else '?'}", err=True)
    if report.failures:
        click.echo(
            f"  tracebacks: symscape results {db} --where status=failed --format json", err=True
        )
    if report.interrupted:
        click.echo("symscape: interrupted; rerun the same command to resume", err=True)
        return 130
    return 0 if report.ok else 1


_RAY = {"address", "cpus_per_run", "gpus_per_run"}
_SLURM = {
    "partition",
    "time_min",
    "gpus_per_task",
    "cpus_per_task",
    "array_parallelism",
    "runs_per_job",
    "mem_gb",
    "cluster",
}


@contextlib.contextmanager
def _sigterm_as_interrupt():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _executor_options(executor: str, options: dict) -> dict:
    from symscape.errors import InvalidOptionError

    allowed = {"ray": _RAY, "slurm": _SLURM}.get(executor, set())
    wrong = sorted(set(options) - allowed)
    if wrong:
        flags = ", ".join("--" + name.replace("_", "-") for name in wrong)
        raise InvalidOptionError(
            f"{flags} do(es) not apply to --executor {executor}",
            fix="drop them, or choose the executor they belong to",
        )
    return options


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
        last = [line for line in error.strip().splitlines() if line.strip()]
        click.echo(f"failed {key[:12]}: {last[-1] if last else '?'}")
