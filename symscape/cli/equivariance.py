"""``symscape equivariance``: learning curves of an equivariant network and of MLP baselines."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_part
from symscape.experiments.equivariance import PROTOCOLS, EquivarianceConfig

__all__ = ["equivariance"]


@click.command("equivariance")
@click.option(
    "--task",
    "tasks",
    type=click.Choice(["energy", "dipole"]),
    multiple=True,
    help="target: a rotation-invariant energy (0e) or a dipole vector (1o); repeatable "
    "[default: the config's, energy]",
)
@config_options(
    EquivarianceConfig, flags={"P": "--P-values"}, exclude=("task",), protocols=PROTOCOLS
)
@run_flags("symscape-equivariance", "equivariance.db", device=True)
def equivariance(tasks, device, executor, out, db, **kwargs):
    """Train the equivariant network, an MLP and an MLP with rotation augmentation on a
    synthetic 3D task with exact rotational symmetry, over training-set sizes P and seeds;
    learning curves with fitted exponents, and each model's equivariance error.

    Uses e3nn, which pip install symscape installs.
    """
    import dataclasses

    from symscape.equivariant import require_e3nn
    from symscape.errors import InvalidOptionError
    from symscape.experiments.equivariance import describe, run, save_results
    from symscape.sweep.runner import Runner

    require_e3nn()  # one line saying how to install it, before any run is stored
    if device not in (None, "cpu"):
        raise InvalidOptionError(
            f"--device {device}: the learning curves run on CPU", fix="drop --device"
        )
    tasks = tuple(dict.fromkeys(tasks))  # each task once, in order
    config = build_config(
        EquivarianceConfig,
        kwargs,
        protocols=PROTOCOLS,
        experiment="equivariance",
        **({"task": tasks[0]} if tasks else {}),
    )
    configs = [dataclasses.replace(config, task=name) for name in tasks] or [config]
    runner = Runner(db or out / "equivariance.db", executor)
    records = [run(config, runner) for config in configs]
    summary = save_results(records, out)
    print_part(describe(summary, lambda path: (out / path).read_bytes()))
    click.echo(f"results in {out}")
