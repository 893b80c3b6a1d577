"""``symscape double-descent``: test error against N through N*, single vs ensemble average."""

from __future__ import annotations

import click

from symscape.cli._options import dataset_flags, dataset_options, run_flags
from symscape.cli._output import print_table
from symscape.experiments._output import ci_text

__all__ = ["double_descent"]


@click.command("double-descent")
@click.option("--dataset", default="digits", show_default=True, help="data set name")
@dataset_flags
@click.option("--arch", default="fc", show_default=True, help="fc or cnn")
@click.option("--depth", default=2, show_default=True, type=int)
@click.option("--activation", default="swish", show_default=True)
@click.option(
    "--widths",
    default="1,1.5,2,3,4,6,8,12,16,32,64",
    show_default=True,
    help="widths, comma-separated (fractional widths allowed)",
)
@click.option("--seeds", default="0-7", show_default=True, help="seeds per width (one ensemble)")
@click.option("--max-steps", default=10_000, show_default=True, type=int)
@click.option(
    "--fit-from",
    default=2.0,
    show_default=True,
    type=float,
    help="fit the exponents on N >= FIT_FROM x N*",
)
@run_flags("symscape-double-descent", "double_descent.db")
def double_descent(
    dataset,
    arch,
    depth,
    activation,
    widths,
    seeds,
    max_steps,
    fit_from,
    device,
    executor,
    out,
    db,
    **kwargs,
):
    """Train E seeds per width to their end point; test error of each network and of the
    ensemble average, the fluctuation ‖f − f̄‖, and their exponents beyond N*.

    Defaults: digits, parity labels, 10 PCA components, P = 200 (set by the
    data flags, e.g. --P 500 --labels halves).
    """
    from symscape.experiments.double_descent import DoubleDescentConfig, run, save_results
    from symscape.validation import parse_numbers, parse_seeds

    data = dataset_options(kwargs)
    dtype = data.pop("dtype", "float64")
    if dataset == "digits":  # the config's default protocol, with the flags' changes
        data = {**DoubleDescentConfig().data, **data}
    elif dataset in ("random", "teacher", "stripe"):
        data = {"P": 200, "n_test": 1000, "d": 10, **data}
    sizes = parse_numbers(widths, "--widths")
    config = DoubleDescentConfig(
        dataset=dataset,
        data=data,
        arch=arch,
        depth=depth,
        activation=activation,
        widths=sizes,
        seeds=parse_seeds(seeds),
        max_steps=max_steps,
        fit_from=fit_from,
        dtype=dtype,
        device=device,
    )
    record = run(config, db or out / "double_descent.db", executor=executor)
    summary = save_results(record, out)
    rows = [
        [
            p["N"],
            f"{p['fitted']:.2f}",
            f"{p['test_error']:.4f}",
            f"{p['ensemble_test_error']:.4f}",
            f"{p['fluctuation']:.3g}",
        ]
        for p in summary["points"]
    ]
    print_table(
        f"double descent (N* = {summary['N_star']})",
        ["N", "fitted", "test error", "ensemble", "‖f − f̄‖"],
        rows,
    )
    for name, fit in summary["fits"].items():
        interval = ci_text(fit)
        click.echo(
            f"{name}: slope {fit['slope']:.2f}{interval} (reported {summary['reported'][name]})"
        )
    click.echo(f"results in {out}")
