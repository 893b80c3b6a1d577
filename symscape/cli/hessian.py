"""``symscape hessian``: the Hessian spectrum of a zoo classifier's loss over a data set."""

from __future__ import annotations

import json
import math

import click

from symscape.cli._model import count, finite_or_none, model_flags, problem
from symscape.cli._output import print_table
from symscape.errors import InvalidOptionError

__all__ = ["hessian", "hessian_record"]


def _check_k(k: int, N: int, flag: str) -> None:
    if k >= N:
        raise InvalidOptionError(
            f"{flag} {k} must be below N={N}, the number of weights",
            fix=f"use {flag} {max(N - 1, 1)} or fewer",
        )


def hessian_record(prob, top: int, bottom: int, trace_samples: int, probes: int, steps: int):
    """All the numbers of ``hessian.json``, and the spectral density (for its figure)."""
    import torch

    from symscape.measure.curvature import eigenvalues, spectral_density, trace
    from symscape.train.losses import error_rate

    (model,) = prob.models
    N = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _check_k(top, N, "--top")
    _check_k(bottom, N, "--bottom")
    x, y = prob.data
    with torch.no_grad():
        outputs = model(x)
        value = float(prob.loss_fn(outputs, y))
    if not math.isfinite(value):
        raise InvalidOptionError(
            f"the loss of {prob.sources[0]} on the data is {value}",
            fix="measure weights at which the loss is finite",
        )
    args = (model, prob.loss_fn, prob.data)
    top_values = eigenvalues(*args, k=top, which="top") if top else []
    bottom_values = eigenvalues(*args, k=bottom, which="bottom") if bottom else []
    estimate = trace(*args, samples=trace_samples)
    rho = spectral_density(*args, n_probes=probes, steps=steps)
    record = {
        "model": {"arch": prob.arch, "source": prob.sources[0], "N": N},
        "data": prob.dataset,
        "loss": {"name": prob.loss_name, "value": value, "train_error": error_rate(outputs, y)},
        "top": finite_or_none(list(top_values)),
        "bottom": finite_or_none(list(bottom_values)),
        "trace": {
            "value": estimate.value,
            "low": estimate.low,
            "high": estimate.high,
            "level": 0.95,
            "samples": trace_samples,
        },
        "density": {
            "probes": probes,
            "steps": int(rho.nodes.shape[1]),
            "sigma": rho.sigma,
            "mean": rho.moment(1),
            "second_moment": rho.moment(2),
            "grid": finite_or_none(rho.grid.tolist()),
            "density": finite_or_none(rho.density.tolist()),
            "nodes": finite_or_none(rho.nodes.tolist()),
            "weights": finite_or_none(rho.weights.tolist()),
        },
    }
    return record, rho


@click.command()
@model_flags(
    "state-dict file of --arch's weights (torch.save(model.state_dict(), PATH)) "
    "[default: the initialisation drawn with --seed]",
    multiple=False,
    out="symscape-hessian",
)
@count("--top", 1, 5, "top k eigenvalues")
@count("--bottom", 0, 0, "bottom k eigenvalues (0: none)")
@count("--trace-samples", 2, 100, "Rademacher probes of Hutchinson's trace estimate")
@count("--probes", 1, 10, "probes of the stochastic Lanczos quadrature")
@count("--steps", 1, 100, "Lanczos steps per probe (at most N)")
def hessian(
    arch,
    loads,
    loss,
    dataset,
    device,
    top,
    bottom,
    trace_samples,
    probes,
    steps,
    out,
    as_json,
    **kwargs,
) -> None:
    """The Hessian of a zoo classifier's training loss: its extreme eigenvalues, its trace and
    its spectral density.

    The classifier --arch has the weights of --load (a state dict, read with
    torch.load(weights_only=True) only) or its initialisation drawn with
    --seed (which also chooses the data points). The loss is the mean over
    the training set of --dataset (the data-set flags as in every command):
    cross-entropy for multiclass labels, the quadratic hinge ½max(0, 1 − y f)²
    of the jamming papers for ±1 labels (one output), or --loss. Computes
    the --top (and --bottom) eigenvalues by Lanczos (ARPACK) to convergence,
    the trace by Hutchinson's estimator with a 95 % interval, and the
    spectral density by stochastic Lanczos quadrature; writes hessian.json
    (every number) and hessian_density.png/.pdf to --out, and prints a table.
    Weights and data are float64 unless --dtype float32.
    """
    prob = problem(arch, [loads] if loads else [], loss, dataset, device, kwargs)
    record, rho = hessian_record(prob, top, bottom, trace_samples, probes, steps)
    from symscape.measure.curvature.figures import density_figure

    out.mkdir(parents=True, exist_ok=True)
    fig = density_figure(
        rho,
        top=record["top"],
        bottom=record["bottom"],
        title=f"{arch} on {dataset} (P={prob.dataset['P']}, N={record['model']['N']})",
    )
    record["figures"] = []
    for suffix in ("png", "pdf"):
        fig.savefig(out / f"hessian_density.{suffix}", dpi=150)
        record["figures"].append(f"hessian_density.{suffix}")
    text = json.dumps(record, allow_nan=False)
    (out / "hessian.json").write_text(text)
    if as_json:
        click.echo(text)
        return
    t = record["trace"]
    rows = [
        ["weights", f"N = {record['model']['N']}, from {record['model']['source']}"],
        ["loss", f"{prob.loss_name} = {record['loss']['value']:.4g}"],
        ["train error", f"{record['loss']['train_error']:.3f}"],
        ["top eigenvalues", ", ".join(f"{v:.4g}" for v in record["top"])],
    ]
    if record["bottom"]:
        rows.append(["bottom eigenvalues", ", ".join(f"{v:.4g}" for v in record["bottom"])])
    rows += [
        ["trace (95 %)", f"{t['value']:.4g} [{t['low']:.4g}, {t['high']:.4g}]"],
        ["density: mean λ", f"{record['density']['mean']:.4g} (trace/N)"],
    ]
    print_table(f"Hessian of {arch}", ["", ""], rows)
    click.echo(f"written to {out}/ (hessian.json, hessian_density.png, hessian_density.pdf)")
