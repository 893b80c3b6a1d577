"""``symscape landscape``: the loss landscape of a zoo classifier over a data set."""

from __future__ import annotations

import json
import math

import click

from symscape.cli._model import count, finite_or_none, model_flags, problem
from symscape.cli._output import print_table
from symscape.errors import InvalidOptionError

__all__ = ["landscape", "landscape_record", "parse_span"]


def parse_span(text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    """``"1"`` → ``(-1, 1)``, ``"-0.5,1.5"`` → ``(-0.5, 1.5)``, ``None`` → ``default``.

    >>> parse_span("2", (0, 1)), parse_span("-0.5,1.5", (0, 1)), parse_span(None, (0, 1))
    ((-2.0, 2.0), (-0.5, 1.5), (0, 1))
    """
    if text is None:
        return default
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1 and values[0] > 0:
        values = [-values[0], values[0]]
    if len(values) != 2 or not all(math.isfinite(v) for v in values) or values[0] >= values[1]:
        raise InvalidOptionError(
            f"--span {text!r} is not a finite interval",
            fix="write LOW,HIGH with LOW < HIGH (e.g. -1,1), or one positive S for -S,S",
        )
    return values[0], values[1]


def _arrays(result, names) -> dict:
    out = {}
    for name in names:
        value = getattr(result, name)
        out[name] = None if value is None else finite_or_none(value.tolist())
    return out


def landscape_record(prob, dims: int, points: int, span: str | None, seed: int, norm: str):
    """``(record, result)``: every number of ``landscape.json``, and the landscape result."""
    from symscape.measure.landscape import interpolate, random_direction, slice_1d, slice_2d

    args = (prob.loss_fn, prob.data)
    if len(prob.models) == 2:
        a, b = prob.models
        t_range = parse_span(span, (0.0, 1.0))
        params_b = {n: p.detach() for n, p in b.named_parameters() if p.requires_grad}
        result = interpolate(a, *args, None, params_b, points=points, t_range=t_range)
        record = {"kind": "interpolation", **_arrays(result, ("t", "loss", "error"))}
        for name in ("loss_a", "loss_b", "barrier", "barrier_linear"):
            record[name] = finite_or_none(getattr(result, name))
        for name in ("error_a", "error_b", "error_barrier", "error_barrier_linear"):
            value = getattr(result, name)
            record[name] = None if value is None else finite_or_none(value)
        return record, result
    (model,) = prob.models
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    # directions j = 0, 1 drawn with seeds 2·seed + j: distinct for distinct --seed
    d1, d2 = (random_direction(params, 2 * seed + j, normalization=norm) for j in (0, 1))
    window = parse_span(span, (-1.0, 1.0))
    if dims == 1:
        result = slice_1d(model, *args, None, d1, points=points, span=window)
        return {"kind": "slice_1d", **_arrays(result, ("alpha", "loss", "error"))}, result
    result = slice_2d(model, *args, None, d1, d2, grid=points, span=window)
    record = {"kind": "slice_2d", **_arrays(result, ("alpha", "beta", "loss", "error"))}
    return record, result


@click.command()
@model_flags(
    "state-dict file of --arch's weights; give it twice (--load A --load B) for the straight "
    "path between them [default: the initialisation drawn with --seed]",
    multiple=True,
    out="symscape-landscape",
)
@click.option(
    "--dims",
    type=click.Choice(["1", "2"]),
    default="2",
    show_default=True,
    help="a 1-D slice or a 2-D slice (contours) along random directions (one model)",
)
@count("--points", 2, 21, "points along the path or the slice (per axis in 2-D)")
@click.option(
    "--span",
    default=None,
    metavar="S|LOW,HIGH",
    help="range of the slice's coefficients [default: -1,1], or of t on the path [0,1]",
)
@click.option(
    "--normalization",
    type=click.Choice(["filter", "layer", "none"]),
    default="filter",
    show_default=True,
    help="how the random directions are scaled (Li et al. 2018: filter)",
)
def landscape(
    arch, loads, loss, dataset, device, dims, points, span, normalization, out, as_json, **kwargs
) -> None:
    """The loss (and error) landscape of a zoo classifier over a data set's training points.

    With two state-dict files (--load A --load B, read with
    torch.load(weights_only=True) only): the loss and error along the straight
    path (1 − t) w_A + t w_B, with the barrier heights (above the higher end,
    and above the chord). With one file, or none (the initialisation drawn
    with --seed): a 1-D (--dims 1) or 2-D (--dims 2, contour plot) slice
    w + α d₁ + β d₂ along filter-normalised random directions (drawn with
    --seed). The data set, the data-set flags and --loss are as in
    'symscape hessian'. Writes landscape.json and landscape_<kind>.png/.pdf to
    --out, and prints a summary. Weights and data are float64 unless --dtype
    float32.
    """
    if len(loads) > 2:
        raise InvalidOptionError(
            f"--load is given {len(loads)} times", fix="give one file (a slice) or two (a path)"
        )
    seed = kwargs.get("seed") or 0
    prob = problem(arch, list(loads), loss, dataset, device, kwargs)
    record, result = landscape_record(prob, int(dims), points, span, seed, normalization)
    record = {
        "model": {"arch": arch, "sources": prob.sources},
        "data": prob.dataset,
        "loss_name": prob.loss_name,
        **record,
    }
    if record["kind"] != "interpolation":
        record.update(seed=seed, normalization=normalization)
    from symscape.measure import landscape_figures as figures

    draw = {
        "interpolation": figures.interpolation_figure,
        "slice_1d": figures.slice_1d_figure,
        "slice_2d": figures.slice_2d_figure,
    }[record["kind"]]
    out.mkdir(parents=True, exist_ok=True)
    fig = draw(result, title=f"{arch} on {dataset}")
    stem = f"landscape_{record['kind']}"
    record["figures"] = [f"{stem}.png", f"{stem}.pdf"]
    for name in record["figures"]:
        fig.savefig(out / name, dpi=150)
    text = json.dumps(record, allow_nan=False)
    (out / "landscape.json").write_text(text)
    if as_json:
        click.echo(text)
        return
    _print(record)
    click.echo(f"written to {out}/ (landscape.json, {stem}.png, {stem}.pdf)")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _print(record: dict) -> None:
    kind = record["kind"]
    if kind == "interpolation":
        rows = [
            ["loss at A, at B", f"{_fmt(record['loss_a'])}, {_fmt(record['loss_b'])}"],
            [
                "loss barrier",
                f"{_fmt(record['barrier'])} (above the chord {_fmt(record['barrier_linear'])})",
            ],
        ]
        if record["error_a"] is not None:
            rows += [
                ["error at A, at B", f"{_fmt(record['error_a'])}, {_fmt(record['error_b'])}"],
                [
                    "error barrier",
                    f"{_fmt(record['error_barrier'])} (above the chord "
                    f"{_fmt(record['error_barrier_linear'])})",
                ],
            ]
        print_table("Loss along the straight path from A to B", ["", ""], rows)
        return
    flat = [v for v in _flatten(record["loss"]) if v is not None]
    centre = _centre(record)
    rows = [
        ["points", str(len(_flatten(record["loss"])))],
        ["loss at the weights", _fmt(centre)],
        ["loss min, max", f"{_fmt(min(flat, default=None))}, {_fmt(max(flat, default=None))}"],
    ]
    dims = "1-D" if kind == "slice_1d" else "2-D"
    print_table(f"Loss on a {dims} slice", ["", ""], rows)
    click.echo(f"directions: {record['normalization']}-normalised, seed {record['seed']}")


def _flatten(values) -> list:
    if isinstance(values, list) and values and isinstance(values[0], list):
        return [v for row in values for v in row]
    return list(values)


def _centre(record: dict):
    """The loss at the grid point nearest the origin (the weights themselves)."""
    import numpy as np

    i = int(np.argmin(np.abs(record["alpha"])))
    if record["kind"] == "slice_1d":
        return record["loss"][i]
    return record["loss"][i][int(np.argmin(np.abs(record["beta"])))]
