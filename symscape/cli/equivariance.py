"""``symscape equivariance``: learning curves of an equivariant network and of MLP baselines."""

from __future__ import annotations

import click

from symscape.cli._options import run_flags
from symscape.cli._output import print_table

__all__ = ["equivariance"]


@click.command("equivariance")
@click.option(
    "--task",
    type=click.Choice(["energy", "dipole"]),
    multiple=True,
    help="target: a rotation-invariant energy (0e) or a dipole vector (1o); repeatable "
    "[default: energy]",
)
@click.option(
    "--P-values",
    "P_values",
    default="16,32,64,128",
    show_default=True,
    help="training-set sizes, comma-separated",
)
@click.option("--seeds", default="0-2", show_default=True, help="initialisations per point")
@click.option(
    "--models",
    default="equivariant,mlp,mlp_augmented",
    show_default=True,
    help="comma-separated: equivariant, mlp, mlp_augmented (random rotations)",
)
@click.option("--steps", default=200, show_default=True, type=int, help="full-batch Adam steps")
@click.option("--lr", default=0.01, show_default=True, type=float)
@click.option("--l-max", default=2, show_default=True, type=int)
@click.option("--layers", default=2, show_default=True, type=int)
@click.option("--multiplicity", default=8, show_default=True, type=int)
@click.option("--width", default=64, show_default=True, type=int, help="width of the MLPs")
@click.option("--n-points", default=5, show_default=True, type=int, help="points per cloud")
@click.option("--n-test", default=128, show_default=True, type=int, help="test clouds")
@click.option("--data-seed", default=0, show_default=True, type=int)
@run_flags("symscape-equivariance", "equivariance.db")
def equivariance(
    task,
    P_values,
    seeds,
    models,
    steps,
    lr,
    l_max,
    layers,
    multiplicity,
    width,
    n_points,
    n_test,
    data_seed,
    device,
    executor,
    out,
    db,
):
    """Train the equivariant network, an MLP and an MLP with rotation augmentation on a
    synthetic 3D task with exact rotational symmetry, over training-set sizes P and seeds;
    learning curves with fitted exponents, and each model's equivariance error.

    Uses e3nn, which pip install symscape installs.
    """
    from symscape.equivariant import require_e3nn
    from symscape.errors import InvalidOptionError
    from symscape.experiments.equivariance import EquivarianceConfig, run, save_results
    from symscape.validation import parse_numbers, parse_seeds

    require_e3nn()  # one line saying how to install it, before any run is stored
    if device != "cpu":
        raise InvalidOptionError(
            f"--device {device}: the learning curves run on CPU", fix="drop --device"
        )
    configs = [
        EquivarianceConfig(
            task=name,
            P=parse_numbers(P_values, "--P-values", int),
            seeds=parse_seeds(seeds),
            models=tuple(m.strip() for m in models.split(",") if m.strip()),
            steps=steps,
            lr=lr,
            l_max=l_max,
            layers=layers,
            multiplicity=multiplicity,
            width=width,
            n_points=n_points,
            n_test=n_test,
            data_seed=data_seed,
        )
        for name in dict.fromkeys(task or ("energy",))  # each task once, in order
    ]
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
