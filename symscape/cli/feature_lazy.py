"""``symscape feature-lazy``: the α × width sweep, the crossover α*(h) and the phase diagram."""

from __future__ import annotations

import click

from symscape.cli._options import dataset_flags, dataset_options, run_flags
from symscape.cli._output import print_table
from symscape.experiments._output import ci_text

__all__ = ["feature_lazy"]


@click.command("feature-lazy")
@click.option("--dataset", default="stripe", show_default=True, help="data set name")
@dataset_flags
@click.option("--arch", default="fc", show_default=True, help="fc or cnn")
@click.option("--depth", default=2, show_default=True, type=int)
@click.option("--activation", default="swish", show_default=True)
@click.option("--loss", default="soft_hinge", show_default=True)
@click.option("--widths", default="4,8,16,32,64", show_default=True, help="comma-separated")
@click.option(
    "--alphas",
    default="0.01,0.1,0.3,1,3,10,30,100",
    show_default=True,
    help="α values (the article's convention), comma-separated",
)
@click.option("--seeds", default="0-3", show_default=True, help="seeds per (h, α): one ensemble")
@click.option("--max-steps", default=5000, show_default=True, type=int)
@click.option(
    "--kernel-points",
    default=64,
    show_default=True,
    type=int,
    help="training points on which the NTK's change is measured",
)
@click.option(
    "--kernel-threshold",
    default=1.0,
    show_default=True,
    type=float,
    help="α* is where the kernel change crosses this value",
)
@click.option(
    "--lazy-reference/--no-lazy-reference",
    default=True,
    show_default=True,
    help="also train the frozen-kernel flow (α → ∞) of every width and seed",
)
@click.option(
    "--jamming/--no-jamming",
    default=True,
    show_default=True,
    help="locate the jamming line h* (jamming minimiser, bisection in width)",
)
@click.option(
    "--fit-from",
    default=2.0,
    show_default=True,
    type=float,
    help="fit α*(h) on widths h >= FIT_FROM x h*",
)
@run_flags("symscape-feature-lazy", "feature_lazy.db")
def feature_lazy(
    dataset,
    arch,
    depth,
    activation,
    loss,
    widths,
    alphas,
    seeds,
    max_steps,
    kernel_points,
    kernel_threshold,
    lazy_reference,
    jamming,
    fit_from,
    device,
    executor,
    out,
    db,
    **kwargs,
):
    """Train F = α (f − f₀) over α × width × seeds; the kernel change, the crossover α*(h)
    against the reported h^−1/2, which regime generalises better, and the phase diagram.

    Defaults: the stripe model, P = 256 points in d = 10 (set by the data
    flags, e.g. --P 512 -o d=20).
    """
    from symscape.experiments.feature_lazy import FeatureLazyConfig, run, save_results
    from symscape.validation import parse_numbers, parse_seeds

    data = dataset_options(kwargs)
    dtype = data.pop("dtype", "float64")
    defaults = {"stripe": FeatureLazyConfig().data, "random": FeatureLazyConfig().data}
    data = {**defaults.get(dataset, {"P": 256, "n_test": 1000}), **data}
    config = FeatureLazyConfig(
        dataset=dataset,
        data=data,
        arch=arch,
        depth=depth,
        activation=activation,
        loss=loss,
        widths=parse_numbers(widths, "--widths"),
        alphas=parse_numbers(alphas, "--alphas"),
        seeds=parse_seeds(seeds),
        max_steps=max_steps,
        kernel_points=kernel_points,
        kernel_threshold=kernel_threshold,
        lazy_reference=lazy_reference,
        jamming=jamming,
        fit_from=fit_from,
        dtype=dtype,
        device=device,
    )
    record = run(config, db or out / "feature_lazy.db", executor=executor)
    summary = save_results(record, out)
    rows = [
        [
            f"{c['width']:g}",
            "—" if c["alpha_star"] is None else f"{c['alpha_star']:.3g}",
            "—" if c["alpha_star_code"] is None else f"{c['alpha_star_code']:.3g}",
        ]
        for c in summary["crossover"]
    ]
    print_table("crossover α*(h)", ["h", "α*", "α* √h"], rows)
    fit = summary["alpha_star_fit"]
    if fit:
        interval = ci_text(fit)
        reported = summary["reported"]["alpha_star_exponent"]
        click.echo(f"α* ~ h^b: b = {fit['slope']:.2f}{interval} (reported {reported})")
    else:
        click.echo("α*(h): fewer than two widths cross the threshold; widen --alphas")
    if summary["jamming"] and summary["jamming"]["N_star"]:
        jam = summary["jamming"]
        click.echo(f"jamming line: N* = {jam['N_star']:.0f}, h* = {jam['h_star']:.3g}")
    regime = summary["regime"]
    click.echo(
        f"h = {regime['width']:g}: feature {regime['feature_error']:.3f}, "
        f"lazy {regime['lazy_error']:.3f}: the {regime['better']} regime generalises better"
    )
    click.echo(f"results in {out}")
