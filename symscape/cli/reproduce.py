"""``symscape reproduce``: the main job."""

from __future__ import annotations

from pathlib import Path

import click

from symscape.cli._options import executor_flags, executor_options_of
from symscape.cli._output import print_part
from symscape.experiments import registry

__all__ = ["reproduce"]


@click.command()
@click.option(
    "--scale",
    type=click.Choice(registry.SCALES),
    default="quick",
    show_default=True,
    help="quick: embedded data, ≤ 15 min on 2 cores; medium: embedded data, ≤ 2 h on "
    "2 cores, every law that needs no GPU; paper: the papers' data and sizes",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("symscape-results"),
    show_default=True,
    help="results folder",
)
@click.option("--root", default=None, help="data folder (default: $SYMSCAPE_DATA)")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(registry.names()),
    help="run only this section (repeatable) [default: all]",
)
@click.option(
    "--executor",
    type=click.Choice(["inprocess", "pool", "ray", "slurm"]),
    default=None,
    help="where the trainings run [default: each section's own, pool or inprocess]",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="where the networks train: cpu, cuda, cuda:1 (equivariance stays on the CPU)",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="sweep store [default: OUT/symscape.db]; a rerun resumes from it",
)
@click.option(
    "--recompute",
    is_flag=True,
    help="compute every section again, even one the store holds (finished runs are kept)",
)
@executor_flags
def reproduce(
    scale: str,
    out: Path,
    root: str | None,
    only: tuple[str, ...],
    executor: str | None,
    device: str,
    db: Path | None,
    recompute: bool,
    **flags,
) -> None:
    """Regenerate the thesis's results; write them and report.html to the results folder.

    Every training goes through the sweep store (--db): an interrupted
    reproduce, run again, takes the finished sections from the store and
    resumes the others where they stopped.

    A section that fails does not stop the others: the report is written
    with every section that finished, each failed one is named on one line
    with where its traceback was saved, and the exit code is 1. Run the same
    command again to retry the failed sections and runs.
    """
    from symscape.reproduce import reproduce as run
    from symscape.sweep.executors import ExecutorChoice

    options = executor_options_of(executor, flags)
    choice = None if executor is None else ExecutorChoice(executor, options)
    summary = run(
        scale=scale,
        out=out,
        root=root,
        only=only or None,
        executor=choice,
        db=db,
        device=device,
        recompute=recompute,
        log=lambda line: click.echo(line, err=True),
    )
    for name in registry.names():  # the same parts as the report and summary.md
        if name in summary:
            print_part(registry.get(name).describer()(summary[name]))
    click.echo(
        f"results written to {out}/ (report.html, summary.json, summary.md, figures/) "
        f"in {summary['wall_time_s']} s; open {out / 'report.html'} in a browser"
    )
    for name, failure in summary["failed"].items():
        where = failure["traceback"]
        click.echo(
            f"symscape: section {name} failed: {failure['reason']}"
            + (f" (traceback: {out / where})" if where else "")
            + "; rerun the same command to retry it",
            err=True,
        )
    return 1 if summary["failed"] else 0
