"""``symscape train``: train an ensemble from flags and print each member's final state."""

from __future__ import annotations

import dataclasses
import json

import click

from symscape.cli._options import dataset_flags, dataset_options
from symscape.cli._output import print_table
from symscape.validation import parse_seeds

__all__ = ["train"]

# fields given their own flags below, not generated from the config
_EXPLICIT = {"dataset", "data", "seeds", "dtype", "device"}
_TYPES = {"int": int, "float": float, "str": str, "int | None": int, "float | None": float}


def _config_flags(command):
    from symscape.train import TrainConfig

    for field in reversed(dataclasses.fields(TrainConfig)):
        if field.name in _EXPLICIT:
            continue
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        if field.type == "bool":
            decl = f"{flag}/--no-{field.name.replace('_', '-')}"
            command = click.option(decl, field.name, default=None, help=f"[default: {default}]")(
                command
            )
        else:
            command = click.option(
                flag,
                field.name,
                type=_TYPES[field.type],
                default=None,
                help=f"[default: {default}]",
            )(command)
    return command


@click.command()
@click.option("--dataset", default="random", show_default=True, help="data set name")
@dataset_flags
@_config_flags
@click.option("--seeds", default="0", show_default=True, help="ensemble seeds: 0-7 or 0,3,5")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda")
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def train(dataset: str, seeds: str, device: str, as_json: bool, **kwargs) -> None:
    """Train an ensemble of networks (one batched computation) and print the outcome.

    Every field of the training config is a flag (--width, --alpha, --loss,
    --dynamics, --max-steps, ...); the data-set flags choose the data.
    """
    from symscape.train import TrainConfig
    from symscape.train import train as run_training

    data = dataset_options(kwargs)
    dtype = data.pop("dtype", "float64")
    fields = {key: value for key, value in kwargs.items() if value is not None}
    if dataset in ("random", "teacher", "stripe"):  # keep the config default's size
        data = {"P": 100, "n_test": 100, **data}
    config = TrainConfig(
        dataset=dataset, data=data, seeds=parse_seeds(seeds), dtype=dtype, device=device, **fields
    )
    result = _run_with_progress(run_training, config)
    final = result["final"]
    summary = {
        "config": result["config"],
        "n_weights": result["n_weights"],
        "n_parameters": result["n_parameters"],
        "P": result["P"],
        "status": result["status"],
        "stop_step": result["stop_step"],
        "final": {k: v for k, v in final.items() if k != "margin_quantiles"},
        "wall_time": result["wall_time"],
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    rows = []
    for i, seed in enumerate(config.seeds):
        rows.append(
            [
                seed,
                result["status"][i],
                result["stop_step"][i],
                f"{final['t'][i]:.4g}",
                f"{final['loss'][i]:.3e}",
                final["n_delta"][i],
                f"{final['train_error'][i]:.3f}",
                f"{final['test_error'][i]:.3f}",
                f"{final['weight_change'][i]:.3g}",
            ]
        )
    print_table(
        f"{config.arch} depth {config.depth} width {config.width} (N = {result['n_weights']}) "
        f"on {dataset}, P = {result['P']}, alpha = {config.alpha}",
        ["seed", "status", "steps", "t", "loss", "N_Δ", "train err", "test err", "|w-w0|/|w0|"],
        rows,
    )
    click.echo(
        f"ensemble-mean test error: {final['ensemble_test_error']:.4f}; {result['wall_time']:.2f} s"
    )


def _run_with_progress(run, config):
    from symscape.progress import interactive

    if not interactive():
        return run(config)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("training", total=config.max_steps)
        return run(
            config,
            callback=lambda step, status: progress.update(
                task, completed=step, description=f"training ({int((status == 0).sum())} running)"
            ),
        )
