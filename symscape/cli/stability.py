"""``symscape stability``: train or load the zoo, measure D_f, G_f, R_f, draw the figures."""

from __future__ import annotations

import json

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._options import run_flags
from symscape.cli._output import print_part
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
@run_flags("symscape-stability", "stability.db")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
def stability(archs, loads, deltas, temps, executor, out, db, as_json, **kwargs) -> None:
    """Relative stability toward diffeomorphisms R_f = D_f/G_f of trained classifiers.

    Trains (or, with --load, reads) each architecture for each seed, measures
    D_f, G_f and R_f at initialisation and after training, prints them with
    the test error, and writes stability.json and the figures (R_f vs test
    error with a power-law fit, D_f and G_f vs δ, R_f layer by layer, a
    gallery of deformations) to --out. Each network is one run of the sweep
    store --db (default OUT/stability.db) on --executor: a rerun resumes
    without training again the networks the store holds.

    The command starts from the quick protocol (digits at 28×28, four small
    nets, minutes on a CPU) as it always has; flags change it. --protocol
    paper starts from the paper's (CIFAR10 from $SYMSCAPE_DATA, 250 epochs,
    StabilityConfig's defaults). Data-set flags replace the protocol's data
    options key by key.
    """
    from symscape.experiments.stability import describe, run, save_results
    from symscape.sweep.runner import Runner

    changes = _zoo_changes(archs, loads, deltas, temps)
    config = build_config(
        StabilityConfig, kwargs, protocols=PROTOCOLS, experiment="stability", **changes
    )
    record = run(config, Runner(db or out / "stability.db", executor))
    summary = save_results(record, out)
    if as_json:
        click.echo(json.dumps(summary, allow_nan=False))
        return
    print_part(describe(summary, lambda path: (out / path).read_bytes()))
    click.echo(f"written to {out}/ (stability.json, {len(summary['figures'])} figure files)")
