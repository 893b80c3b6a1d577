"""The stability run's figures: pure functions of a record (``{stem: Figure}``, nothing saved)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from symscape.diffeo import (
    deform,
    same_norm_noise,
    temperature_from_displacement,
    temperature_range,
    typical_displacement,
)
from symscape.errors import InvalidOptionError
from symscape.experiments.stability.config import StabilityConfig
from symscape.experiments.stability.network import _load_data

__all__ = [
    "error_vs_stability_figure",
    "figures",
    "gallery_figure",
    "layers_figure",
    "sensitivity_curves_figure",
]


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _one_two_five(value: float, _position=None) -> str:
    """A short tick label (``0.2``, ``5``) on the ticks 1, 2 and 5 of each decade, none
    on the others: a log axis within a decade or two stays legible."""
    if not value > 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if any(abs(mantissa - m) < 1e-6 for m in (1, 2, 5)) else ""


def error_vs_stability_figure(record: Mapping[str, Any]):
    """Test error against R_f (with the fit and the reported law) and against D_f."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_r, ax_d = fig.subplots(1, 2)
    reference = record["reference"]["index"]
    summary = record["summary"]
    for colour, s in zip(_colours(len(summary)), summary, strict=True):
        mine = [r for r in record["runs"] if r["architecture"] == s["architecture"]]
        for ax, key in ((ax_r, "R"), (ax_d, "D")):
            xs = [r["trained"]["output"][reference][key] for r in mine]
            ys = [r["trained"]["test_error"] for r in mine]
            ax.scatter(xs, ys, color=colour, alpha=0.35, s=14)
            ax.scatter(
                s[f"{key}_trained"], s["test_error"], color=colour, s=60, label=s["architecture"]
            )
    values = [s["R_trained"] for s in summary if s["R_trained"]]
    if values:
        grid = np.geomspace(min(values) / 2, max(values) * 2, 50)
        fit = record["fit"]
        if fit.get("a") is not None:
            ax_r.plot(
                grid,
                fit["a"] * grid ** fit["b"],
                "k-",
                label=f"fit ε = {fit['a']:.2g} R_f^{fit['b']:.2f}",
            )
        law = record["reported"]
        ax_r.plot(grid, law["a"] * grid ** law["b"], "k--", label=f"reported ε ≈ {law['a']:g} √R_f")
    delta = record["reference"]["delta"]
    plain = FuncFormatter(_one_two_five)
    for ax, key in ((ax_r, "R_f"), (ax_d, "D_f")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(plain)
        ax.set_xlabel(f"{key} after training (δ = {delta:.3g} px)")
        ax.set_ylabel("test error ε")
    ax_r.legend(fontsize=8)
    ax_r.set_title("relative stability R_f = D_f/G_f", fontsize=10)
    ax_d.set_title("sensitivity to diffeomorphisms D_f alone", fontsize=10)
    return fig


def sensitivity_curves_figure(record: Mapping[str, Any]):
    """D_f, G_f and R_f against δ: dashed at initialisation, solid after training."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    deltas = record["deltas"]
    summary = record["summary"]
    for colour, s in zip(_colours(len(summary)), summary, strict=True):
        for ax, key in zip(axes, ("D", "G", "R"), strict=True):
            for phase, style in (("init", "--"), ("trained", "-")):
                ys = [np.nan if v is None else v for v in s[phase][key]]
                label = s["architecture"] if phase == "trained" else None
                ax.plot(deltas, ys, style, color=colour, marker="o", ms=3, label=label)
    folding = record["temperature_range"]["delta_T_max"]
    for ax, key in zip(axes, ("D_f", "G_f", "R_f"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("typical displacement δ (pixels)")
        ax.set_ylabel(key)
        if folding <= max(deltas) * 1.2:
            ax.axvline(folding, color="grey", lw=0.8, ls=":")
    axes[2].axhline(1, color="grey", lw=0.8)
    axes[0].legend(fontsize=8, title="solid: trained, dashed: init", title_fontsize=8)
    return fig


def layers_figure(record: Mapping[str, Any]):
    """R_f of each stage of each architecture, at initialisation and after training."""
    from matplotlib.figure import Figure

    summary = record["summary"]
    fig = Figure(figsize=(3.2 * len(summary), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(summary), sharey=True))
    for ax, colour, s in zip(axes, _colours(len(summary)), summary, strict=True):
        positions = range(len(s["stages"]))
        for phase, style in (("init", "--"), ("trained", "-")):
            ys = [np.nan if v is None else v for v in s[f"layers_R_{phase}"]]
            ax.plot(positions, ys, style, color=colour, marker="o", ms=4, label=phase)
        ax.axhline(1, color="grey", lw=0.8)
        ax.set_xticks(list(positions), s["stages"], rotation=60, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(s["architecture"], fontsize=10)
    axes[0].set_ylabel(f"R_f at δ = {record['reference']['delta']:.3g} px")
    axes[0].legend(fontsize=8)
    return fig


def gallery_figure(image: torch.Tensor, c: float = 3.0, seed: int = 0, cutoff: str = "authors"):
    """One image deformed at T_min, at δ = 1 pixel and at T_max, beside same-norm noise.

    ``image`` is ``[C, H, W]`` with values in [0, 1] (the noisy images are
    clipped to [0, 1] for display only).
    """
    from matplotlib.figure import Figure

    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise InvalidOptionError(
            "gallery_figure needs one image [C, H, W]", fix="pass e.g. dataset.x_test[0]"
        )
    x = image.detach().double().cpu()[None]
    size = tuple(x.shape[-2:])
    t_min, t_max = temperature_range(size, c)
    t_typical = temperature_from_displacement(1.0, c, size)
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    axes = fig.subplots(2, 4)

    def show(ax, img, title):
        img = img[0].clamp(0, 1).permute(1, 2, 0).numpy()
        if img.shape[2] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()

    show(axes[0, 0], x, "original x")
    axes[1, 0].set_axis_off()
    axes[1, 0].text(0.5, 0.5, "below: x + η,\n‖η‖ = ‖τx − x‖", ha="center", va="center", fontsize=9)
    names = ("T_min", "δ = 1 px", "T_max")
    for col, (T, name) in enumerate(zip((t_min, t_typical, t_max), names, strict=True), start=1):
        moved = deform(x, T=T, c=c, generator=seed, cutoff=cutoff)
        noisy = x + same_norm_noise(x, moved, generator=seed)
        delta = typical_displacement(T, c, size)
        show(axes[0, col], moved, f"τx, {name}\nT = {T:.2g}, δ = {delta:.2g} px")
        show(axes[1, col], noisy, f"x + η, {name}")
    return fig


# --------------------------------------------------------------------------- outputs


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The four figures of a :func:`run` record, ``{stem: Figure}`` (saved as
    ``stability_STEM``): ``error_vs_stability``, ``sensitivity_curves``, ``layers`` and
    ``gallery`` (which loads two images of the record's data set). Pure: no file is written
    and no pyplot figure opened."""
    config = StabilityConfig.from_dict(record["config"])
    image = _load_data(dataclasses.replace(config, n_points=2)).raw_image
    return {
        "error_vs_stability": error_vs_stability_figure(record),
        "sensitivity_curves": sensitivity_curves_figure(record),
        "layers": layers_figure(record),
        "gallery": gallery_figure(image, c=config.c, cutoff=config.cutoff),
    }
