"""``symscape train``: train an ensemble from flags and print each member's final state."""

from __future__ import annotations

import json

import click

from symscape.cli._config import build_config, config_options
from symscape.cli._output import print_table
from symscape.train.config import TrainConfig

__all__ = ["train"]


@click.command()
@config_options(TrainConfig)
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
def train(as_json: bool, **kwargs) -> None:
    """Train an ensemble of networks (one batched computation) and print the outcome.

    Every field of the training config is a flag (--width, --alpha, --loss,
    --dynamics, --max-steps, ...); the data-set flags choose the data. Flags
    not given keep TrainConfig's defaults (or --config's); data-set flags
    given are the whole data table (--P 50 alone: data = {P: 50}).
    """
    from symscape.train import train as run_training

    config = build_config(TrainConfig, kwargs)
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
        f"on {config.dataset}, P = {result['P']}, alpha = {config.alpha}",
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
