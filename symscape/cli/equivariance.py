"""``symscape equivariance``: learning curves of an equivariant network and of MLP baselines."""

from __future__ import annotations

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_table
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
    from symscape.experiments.equivariance import run, save_results

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
    store = db or out / "equivariance.db"
    records = [run(config, store, executor=executor) for config in configs]
    summary = save_results(records, out)
    rows = []
    for row in summary["rows"]:
        low, high = row["exponent_ci"]
        interval = f" [{low:.2f}, {high:.2f}]" if low is not None else ""
        rows.append(
            [
                row["task"],
                row["model"],
                f"{row['test_error'][0]:.3g} → {row['test_error'][-1]:.3g}",
                f"{row['exponent']:.2f}{interval}",
                f"{row['rotation_error']:.2g}",
            ]
        )
    print_table(
        "learning curves (test MSE / test variance)",
        [
            "task",
            "model",
            f"P = {configs[0].P[0]} → {configs[0].P[-1]}",
            "exponent β",
            "rotation error",
        ],
        rows,
    )
    click.echo(f"results in {out}")
