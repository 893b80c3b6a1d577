"""``symscape stability``: train or load the zoo, measure D_f, G_f, R_f, draw the figures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from symscape.cli._options import dataset_flags, dataset_options
from symscape.cli._output import print_table
from symscape.errors import InvalidOptionError

__all__ = ["stability"]

# flag → config field, for the flags that override the protocol only when given
_OVERRIDES = (
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "crop",
    "flip",
    "diffeo_augment",
    "diffeo_delta",
    "n_points",
    "c",
    "estimator",
    "n_bootstrap",
    "threads",
    "device",
)


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


def _config(scale: str, dataset: str | None, data: dict, archs, loads, seeds, deltas, temps, **kw):
    from symscape.experiments.stability import paper_config, quick_config
    from symscape.validation import parse_seeds

    preset = quick_config() if scale == "quick" else paper_config()
    changes = {key: kw[key] for key in _OVERRIDES if kw.get(key) is not None}
    if "dtype" in data:
        changes["dtype"] = data.pop("dtype")
    if dataset is not None and dataset != preset.dataset:
        changes["dataset"] = dataset
        if dataset == "digits":  # 8×8 is too small for the convolutional nets
            data = {"image_size": 28, **data}
        changes["data"] = data
    elif data:
        changes["data"] = {**preset.data, **data}
    checkpoints = _checkpoints(loads)
    if archs:
        changes["architectures"] = tuple(archs)
    elif checkpoints:
        changes["architectures"] = tuple(checkpoints)
    if checkpoints:
        changes["checkpoints"] = checkpoints
    if seeds is not None:
        changes["seeds"] = parse_seeds(seeds)
    if deltas and temps:
        raise InvalidOptionError(
            "--delta and --temperature are both given", fix="give displacements or temperatures"
        )
    if deltas:
        changes.update(deltas=tuple(deltas), temperatures=None)
    if temps:
        changes.update(temperatures=tuple(temps), deltas=None)
    return dataclasses.replace(preset, **changes)


def _number(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


@click.command()
@click.option(
    "--scale",
    type=click.Choice(["quick", "paper"]),
    default="quick",
    show_default=True,
    help="protocol whose settings the other flags change: quick (digits, minutes on a CPU) "
    "or paper (CIFAR10 from $SYMSCAPE_DATA, 250 epochs)",
)
@click.option("--dataset", default=None, help="image data set [default: the protocol's]")
@dataset_flags
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
@click.option("--epochs", type=int, default=None, help="training epochs")
@click.option("--batch-size", type=int, default=None, help="SGD batch size")
@click.option("--lr", type=float, default=None, help="initial learning rate (cosine schedule)")
@click.option("--momentum", type=float, default=None, help="SGD momentum")
@click.option("--weight-decay", type=float, default=None, help="weight decay")
@click.option("--crop/--no-crop", default=None, help="random-crop augmentation")
@click.option("--flip/--no-flip", default=None, help="horizontal-flip augmentation")
@click.option("--diffeo-augment/--no-diffeo-augment", default=None, help="diffeo augmentation")
@click.option("--diffeo-delta", type=float, default=None, help="its displacement in pixels")
@click.option("--seeds", default=None, help="network seeds: 0-2 or 0,1,5 [default: 0-2]")
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
@click.option("--c", type=float, default=None, help="cut-off of the deformations [default: 3]")
@click.option("--n-points", type=int, default=None, help="test points measured [default: 500]")
@click.option(
    "--estimator",
    type=click.Choice(["median", "mean"]),
    default=None,
    help="median (the paper's code) or mean [default: median]",
)
@click.option("--n-bootstrap", type=int, default=None, help="bootstrap replicates")
@click.option("--threads", type=int, default=None, help="torch threads [default: 1]")
@click.option("--device", default=None, help="cpu or cuda")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("symscape-stability"),
    show_default=True,
    help="folder for stability.json and the figures",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
def stability(scale, dataset, archs, loads, seeds, deltas, temps, out, as_json, **kwargs) -> None:
    """Relative stability toward diffeomorphisms R_f = D_f/G_f of trained classifiers.

    Trains (or, with --load, reads) each architecture for each seed, measures
    D_f, G_f and R_f at initialisation and after training, prints them with
    the test error, and writes stability.json and the figures (R_f vs test
    error with a power-law fit, D_f and G_f vs δ, R_f layer by layer, a
    gallery of deformations) to --out.
    """
    from symscape.experiments.stability import run, save_results

    data = dataset_options(kwargs)
    config = _config(scale, dataset, data, archs, loads, seeds, deltas, temps, **kwargs)
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
