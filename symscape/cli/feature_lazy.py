"""``symscape feature-lazy``: the α × width sweep, the crossover α*(h) and the phase diagram."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_part
from symscape.experiments.feature_lazy import PROTOCOLS, FeatureLazyConfig

__all__ = ["feature_lazy"]


@click.command("feature-lazy")
@config_options(FeatureLazyConfig, protocols=PROTOCOLS)
@run_flags("symscape-feature-lazy", "feature_lazy.db")
def feature_lazy(executor, out, db, **kwargs):
    """Train F = α (f − f₀) over α × width × seeds; the kernel change, the crossover α*(h)
    against the reported h^−1/2 (from cells where every seed fitted), which regime
    generalises better, and the phase diagram with the jamming line at each α.

    Defaults: FeatureLazyConfig's (the stripe model, P = 256 points in
    d = 10). Data-set flags given replace those data options (--P 512 alone
    is data = {P: 512}); --protocol quick.mnist starts from the quick protocol
    (MNIST-5k parity on 10 whitened PCA components), changed by the flags given.
    """
    from symscape.experiments.feature_lazy import describe, run, save_results
    from symscape.sweep.runner import Runner

    config = build_config(FeatureLazyConfig, kwargs, protocols=PROTOCOLS, experiment="feature-lazy")
    record = run(config, Runner(db or out / "feature_lazy.db", executor))
    summary = save_results(record, out)
    print_part(describe({"protocols": [summary]}, lambda path: (out / path).read_bytes()))
    click.echo(f"results in {out}")
