"""``symscape double-descent``: test error against N through N*, single vs ensemble average."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_part
from symscape.experiments.double_descent import PROTOCOLS, DoubleDescentConfig

__all__ = ["double_descent"]


@click.command("double-descent")
@config_options(DoubleDescentConfig, protocols=PROTOCOLS)
@run_flags("symscape-double-descent", "double_descent.db")
def double_descent(executor, out, db, **kwargs):
    """Train E seeds per width to convergence (gradient flow by default); test error of each
    network and of the ensemble average, the fluctuation ‖f − f̄‖, and their exponents in h
    and in N well beyond N*.

    Defaults: DoubleDescentConfig's (MNIST-5k, parity labels, 10 whitened PCA
    components, P = 200, depth 3). Data-set flags given replace those data
    options (--P 500 alone is data = {P: 500}): change the defaults with
    --protocol quick --P 500.
    """
    from symscape.experiments.double_descent import describe, run, save_results
    from symscape.sweep.runner import Runner

    config = build_config(
        DoubleDescentConfig, kwargs, protocols=PROTOCOLS, experiment="double-descent"
    )
    record = run(config, Runner(db or out / "double_descent.db", executor))
    summary = save_results(record, out)
    print_part(describe(summary, lambda path: (out / path).read_bytes()))
    click.echo(f"results in {out}")
