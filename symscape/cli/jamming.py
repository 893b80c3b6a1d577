"""``symscape jamming``: locate N*(P), draw the phase diagram, look at the minimum at N*."""

from __future__ import annotations

import click

from symscape.cli._options import dataset_flags, dataset_options, run_flags
from symscape.cli._output import print_table

__all__ = ["jamming"]


@click.command()
@click.option("--dataset", default="random", show_default=True, help="data set name")
@dataset_flags
@click.option(
    "--P-values",
    "P_values",
    default="32,64,128",
    show_default=True,
    help="training-set sizes, comma-separated",
)
@click.option("--arch", default="fc", show_default=True, help="fc or cnn")
@click.option("--depth", default=2, show_default=True, type=int)
@click.option("--activation", default="swish", show_default=True)
@click.option("--width-min", default=1.0, show_default=True, type=float)
@click.option("--width-max", default=32.0, show_default=True, type=float)
@click.option("--bisections", default=6, show_default=True, type=int)
@click.option("--seeds", default="0-7", show_default=True, help="seeds per width (one ensemble)")
@click.option(
    "--max-steps",
    default=20_000,
    show_default=True,
    type=int,
    help="gradient evaluations per ensemble at most",
)
@run_flags("symscape-jamming", "jamming.db")
def jamming(
    dataset,
    P_values,
    arch,
    depth,
    activation,
    width_min,
    width_max,
    bisections,
    seeds,
    max_steps,
    device,
    executor,
    out,
    db,
    **kwargs,
):
    """Find N*(P) by bisection over the width, E seeds per width trained as one ensemble.

    Writes jamming.json (every width tried, N*, the fitted slope, the gaps and
    Hessian at the jammed minimum closest to N*) and the figures to --out.
    """
    from symscape.errors import InvalidOptionError
    from symscape.experiments.jamming import JammingConfig, run, save_results
    from symscape.validation import parse_numbers, parse_seeds

    data = dataset_options(kwargs)
    dtype = data.pop("dtype", "float64")
    if "P" in data:
        raise InvalidOptionError("--P is not used here", fix="give the sizes as --P-values 32,64")
    if dataset in ("random", "teacher", "stripe"):
        data = {"d": 10, "n_test": 100, **data}
    sizes = parse_numbers(P_values, "--P-values", int)
    config = JammingConfig(
        dataset=dataset,
        data=data,
        P_values=sizes,
        arch=arch,
        depth=depth,
        activation=activation,
        seeds=parse_seeds(seeds),
        width_min=width_min,
        width_max=width_max,
        bisections=bisections,
        max_steps=max_steps,
        dtype=dtype,
        device=device,
    )
    record = run(config, db or out / "jamming.db", executor=executor)
    summary = save_results(record, out)
    rows = []
    for search in record["searches"]:
        bracket = search["bracket"] or search["outside"]
        star = f"{search['N_star']:.1f}" if search["N_star"] else "—"
        rows.append([search["P"], star, bracket, len(search["tried"])])
    print_table("jamming: N* where half of the seeds fit", ["P", "N*", "bracket", "widths"], rows)
    if summary["line"]:
        click.echo(f"N* ∝ P^{summary['line']['slope']:.2f}")
    click.echo(f"results in {out}: {', '.join(summary['figures'][::2])}, jamming.json")
