"""``symscape reproduce``: the main job."""

from __future__ import annotations

from pathlib import Path

import click

from symscape.cli._output import print_table

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
    type=click.Choice(
        [
            "data",
            "engine",
            "jamming",
            "double_descent",
            "feature_lazy",
            "stability",
            "equivariance",
        ]
    ),
    help="run only this section (repeatable) [default: all]",
)
def reproduce(scale: str, out: Path, root: str | None, only: tuple[str, ...]) -> None:
    """Regenerate the thesis's results and write them to the results folder."""
    from symscape.reproduce import reproduce as run

    summary = run(scale=scale, out=out, root=root, only=only or None)
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
        f"results written to {out}/ (summary.json, summary.md, figures/) "
        f"in {summary['wall_time_s']} s"
    )


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
