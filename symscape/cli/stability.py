"""``symscape stability``: train or load the zoo, measure D_f, G_f, R_f, draw the figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._output import print_table
from symscape.errors import InvalidOptionError
from symscape.experiments.stability import PROTOCOLS, StabilityConfig

__all__ = ["stability"]


def _checkpoints(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        spec, sep, path = item.partition("=")
        if not sep or not spec.strip() or not path.strip():
            raise InvalidOptionError(
                f"--load {item!r} is not ARCH=PATH", fix="write e.g. --load lenet=weights.pt"
            )
        out[spec.strip()] = path.strip()
    return out


def _zoo_changes(archs, loads, deltas, temps) -> dict:
    """The fields set by the hand-written flags --arch, --load, --delta and --temperature."""
    changes: dict = {}
    checkpoints = _checkpoints(loads)
    if archs:
        changes["architectures"] = tuple(archs)
    elif checkpoints:
        changes["architectures"] = tuple(checkpoints)
    if checkpoints:
        changes["checkpoints"] = checkpoints
    if deltas and temps:
        raise InvalidOptionError(
            "--delta and --temperature are both given", fix="give displacements or temperatures"
        )
    if deltas:
        changes.update(deltas=tuple(deltas), temperatures=None)
    if temps:
        changes.update(temperatures=tuple(temps), deltas=None)
    return changes


def _number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


@click.command()
@config_options(
    StabilityConfig,
    exclude=("architectures", "checkpoints", "deltas", "temperatures"),
    protocols=PROTOCOLS,
    protocol_flags=("--protocol", "--scale"),
    default_protocol="quick",
)
@click.option(
    "--arch",
    "archs",
    multiple=True,
    help="architecture fc, lenet, vgg or resnet18, optionally :WIDTH (resnet18:0.25); repeatable",
)
@click.option(
    "--load",
    "loads",
    multiple=True,
    metavar="ARCH=PATH",
    help="measure the weights of a state-dict file instead of training ARCH; repeatable",
)
@click.option(
    "--delta",
    "deltas",
    type=float,
    multiple=True,
    help="typical displacement in pixels; repeatable",
)
@click.option(
    "--temperature", "temps", type=float, multiple=True, help="temperature T instead; repeatable"
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("symscape-stability"),
    show_default=True,
    help="folder for stability.json and the figures",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
def stability(archs, loads, deltas, temps, out, as_json, **kwargs) -> None:
    """Relative stability toward diffeomorphisms R_f = D_f/G_f of trained classifiers.

    Trains (or, with --load, reads) each architecture for each seed, measures
    D_f, G_f and R_f at initialisation and after training, prints them with
    the test error, and writes stability.json and the figures (R_f vs test
    error with a power-law fit, D_f and G_f vs δ, R_f layer by layer, a
    gallery of deformations) to --out.

    The command starts from the quick protocol (digits at 28×28, four small
    nets, minutes on a CPU) as it always has; flags change it. --protocol
    paper starts from the paper's (CIFAR10 from $SYMSCAPE_DATA, 250 epochs,
    StabilityConfig's defaults). Data-set flags replace the protocol's data
    options key by key.
    """
    from symscape.experiments.stability import run, save_results

    changes = _zoo_changes(archs, loads, deltas, temps)
    config = build_config(
        StabilityConfig, kwargs, protocols=PROTOCOLS, experiment="stability", **changes
    )
    record = run(config)
    summary = save_results(record, out)
    if as_json:
        click.echo(json.dumps(summary, allow_nan=False))
        return
    rows = []
    for entry in record["runs"]:
        reference = record["reference"]["index"]
        init, trained = entry["init"]["output"][reference], entry["trained"]["output"][reference]
        rows.append(
            [
                entry["architecture"],
                entry["seed"],
                f"{entry['trained']['test_error']:.4f}",
                _number(init["R"]),
                _number(trained["R"]),
                _number(trained["D"]),
                _number(trained["G"]),
            ]
        )
    for s in summary["rows"]:
        rows.append(
            [
                s["architecture"],
                "mean",
                f"{s['test_error']:.4f}",
                _number(s["R_init"]),
                _number(s["R_trained"]),
                _number(s["D_trained"]),
                _number(s["G_trained"]),
            ]
        )
    print_table(
        f"stability on {config.dataset}, δ = {summary['reference_delta']:.3g} px, "
        f"{config.n_points} test points, c = {config.c:g} (means: geometric over seeds)",
        ["architecture", "seed", "test error", "R_f init", "R_f trained", "D_f", "G_f"],
        rows,
    )
    fit = summary["fit"]
    if fit.get("a") is not None:
        click.echo(
            f"fit over {fit['n_points']} architectures: test error = {fit['a']:.3g} "
            f"R_f^{fit['b']:.3g}; reported: 0.2 R_f^0.5"
        )
    else:
        click.echo(f"no power-law fit: {fit['reason']}")
    click.echo(f"written to {out}/ (stability.json, {len(summary['figures'])} figure files)")
