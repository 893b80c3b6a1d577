"""``symscape feature-lazy``: the α × width sweep, the crossover α*(h) and the phase diagram."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_table
from symscape.experiments._output import ci_text
from symscape.experiments.feature_lazy import PROTOCOLS, FeatureLazyConfig

__all__ = ["feature_lazy"]


@click.command("feature-lazy")
@config_options(FeatureLazyConfig, protocols=PROTOCOLS)
@run_flags("symscape-feature-lazy", "feature_lazy.db")
def feature_lazy(executor, out, db, **kwargs):
    """Train F = α (f − f₀) over α × width × seeds; the kernel change, the crossover α*(h)
    against the reported h^−1/2, which regime generalises better, and the phase diagram.

    Defaults: FeatureLazyConfig's (the stripe model, P = 256 points in
    d = 10). Data-set flags given replace those data options (--P 512 alone
    is data = {P: 512}): change the defaults with --protocol quick.stripe --P 512.
    """
    from symscape.experiments.feature_lazy import run, save_results

    config = build_config(FeatureLazyConfig, kwargs, protocols=PROTOCOLS, experiment="feature-lazy")
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
