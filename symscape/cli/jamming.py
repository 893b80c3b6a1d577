"""``symscape jamming``: locate N*(P), draw the phase diagram, look at the minimum at N*."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_part
from symscape.experiments.jamming import PROTOCOLS, JammingConfig

__all__ = ["jamming"]


@click.command()
@config_options(JammingConfig, protocols=PROTOCOLS)
@run_flags("symscape-jamming", "jamming.db")
def jamming(executor, out, db, **kwargs):
    """Find N*(P) by bisection over the width, E seeds per width trained as one ensemble.

    Writes jamming.json (every width tried, N*, the fitted slope, the gaps and
    Hessian at the jammed minimum closest to N*) and the figures to --out.
    Flags not given keep JammingConfig's defaults (random data, d = 10,
    100 test points) or those of --protocol / --config; data-set flags
    given replace the default data options (e.g. --d 20: data = {d: 20}).
    """
    from symscape.errors import InvalidOptionError
    from symscape.experiments.jamming import describe, run, save_results
    from symscape.sweep.runner import Runner

    if kwargs.get("P") is not None:
        raise InvalidOptionError("--P is not used here", fix="give the sizes as --P-values 32,64")
    config = build_config(JammingConfig, kwargs, protocols=PROTOCOLS, experiment="jamming")
    record = run(config, Runner(db or out / "jamming.db", executor))
    summary = save_results(record, out)
    print_part(describe(summary, lambda path: (out / path).read_bytes()))
    click.echo(f"results in {out}: {', '.join(summary['figures'][::2])}, jamming.json")
