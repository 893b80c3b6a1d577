"""``symscape reproduce``: the main job."""

from __future__ import annotations

from pathlib import Path

import click

from symscape.cli._options import executor_flags, executor_options_of
from symscape.cli._output import print_table
from symscape.experiments import registry

__all__ = ["reproduce"]


@click.command()
@click.option(
    "--scale",
    type=click.Choice(["quick", "paper"]),
    default="quick",
    show_default=True,
    help="quick: embedded data, minutes on a laptop; paper: the papers' data and sizes",
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
    if "data" in summary:
        _print_data(summary, scale)
    if "engine" in summary:
        _print_engine(summary["engine"])
    if "jamming" in summary:
        parts = summary["jamming"].get("datasets", {"": summary["jamming"]})
        for name, part in parts.items():
            stars = part["N_star"]
            click.echo(
                f"jamming{' on ' + name if name else ''}: N* "
                + ", ".join(f"{N:.0f} at P={P}" if N else f"— at P={P}" for P, N in stars.items())
            )
    if "double_descent" in summary:
        dd = summary["double_descent"]
        fits = ", ".join(f"{k} slope {v['slope']:.2f}" for k, v in dd["fits"].items())
        click.echo(f"double descent: N* = {dd['N_star']}; {fits}")
    if "feature_lazy" in summary:
        for part in summary["feature_lazy"]["protocols"]:
            fit = part["alpha_star_fit"]
            slope = "—" if fit is None else f"{fit['slope']:.2f}"
            click.echo(
                f"feature vs lazy on {part['dataset']} ({part['arch']}): α* ~ h^{slope} "
                f"(reported {part['reported']['alpha_star_exponent']}); "
                f"{part['regime']['better']} generalises better"
            )
    if "stability" in summary:
        rows = summary["stability"]["rows"]
        click.echo(
            "stability: "
            + "; ".join(
                f"{r['architecture']} test error {r['test_error']:.3f}, R_f {r['R_trained']:.3g}"
                for r in rows
            )
        )
    if "equivariance" in summary:
        click.echo(
            "equivariance: "
            + "; ".join(
                f"{row['model']} exponent {row['exponent']:.2f}"
                for row in summary["equivariance"]["rows"]
                if row.get("exponent") is not None
            )
        )
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


def _print_data(summary, scale: str) -> None:
    rows = []
    for e in summary["data"]:
        if e["status"] == "ok":
            shape = "×".join(map(str, e["input_shape"]))
            balance = ", ".join(f"{k}:{v}" for k, v in e["class_counts_train"].items())
            rows.append(
                [e["name"], e["kind"], shape, str(e["P"]), str(e["n_test"]), e["labels"], balance]
            )
        else:
            rows.append([e["name"], e["kind"], e["status"], "", "", "", e["reason"]])
    print_table(
        f"data sets ({scale} scale)",
        ["data set", "kind", "input", "P", "n_test", "labels", "train balance / note"],
        rows,
    )


def _print_engine(engine) -> None:
    final = engine["final"]
    click.echo(
        f"training engine: {len(final['t'])} nets of N = {engine['n_weights']} weights, status "
        f"{', '.join(engine['status'])}; test error "
        f"{', '.join(f'{e:.3f}' for e in final['test_error'])}; "
        f"ensemble-mean {final['ensemble_test_error']:.3f} ({engine['wall_time_s']} s)"
    )
