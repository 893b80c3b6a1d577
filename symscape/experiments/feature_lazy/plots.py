"""The figures of a feature-vs-lazy record: kernel change, test error, crossover, phase diagram.

Pure, object-oriented matplotlib: :func:`figures` returns
``{stem: matplotlib.figure.Figure}``, opens no pyplot figure and writes no file.

>>> _edges([1.0, 100.0])
array([1.e-01, 1.e+01, 1.e+03])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.analysis import geometric_mean
from symscape.experiments._output import ci_text

__all__ = ["figures"]


def _width_ticks(ax, widths) -> None:
    """The widths themselves as the x ticks, not a clutter of minor labels; turned when
    there are more than eight, so that neighbours on a √2 grid do not run together."""
    from matplotlib.ticker import NullFormatter

    many = len(widths) > 8
    ax.set_xticks(
        widths, [f"{w:g}" for w in widths], rotation=45 if many else 0, fontsize=7 if many else None
    )
    ax.xaxis.set_minor_formatter(NullFormatter())


def _grid(record, key: str) -> np.ndarray:
    config = record["config"]
    table = {(p["width"], p["alpha"]): p[key] for p in record["points"]}
    return np.array([[table[(w, a)] for a in config["alphas"]] for w in config["widths"]])


def _edges(values) -> np.ndarray:
    """Cell edges around log-spaced centres (geometric midpoints)."""
    v = np.log(np.asarray(values, float))
    mids = (v[1:] + v[:-1]) / 2
    first, last = (2 * v[0] - mids[0], 2 * v[-1] - mids[-1]) if len(v) > 1 else (v[0] - 1, v[0] + 1)
    return np.exp(np.concatenate([[first], mids, [last]]))


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``NAME_STEM``): ``kernel_change``, ``test_error``, ``crossover`` and ``phase_diagram``.
    Pure: no file is written and no pyplot figure opened."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    config = record["config"]
    widths, alphas = np.array(config["widths"]), np.array(config["alphas"])
    kernel, error = _grid(record, "kernel_change"), _grid(record, "test_error")
    ensemble, variance = _grid(record, "ensemble_test_error"), _grid(record, "output_variance")
    colours = colormaps["viridis"](np.linspace(0, 0.9, len(widths)))
    stars = {c["width"]: c["alpha_star"] for c in record["crossover"]}
    drawn = {}

    # 1. the kernel change against α, and against α√h (the collapse of the crossover)
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    for i, w in enumerate(widths):
        for ax, x in ((axes[0], alphas), (axes[1], alphas * np.sqrt(w))):
            ax.plot(x, kernel[i], "o-", color=colours[i], ms=3, label=f"h = {w:g}")
        if stars[w] is not None:
            axes[0].plot(stars[w], config["kernel_threshold"], "kx", ms=7)
    for ax, label in ((axes[0], "α"), (axes[1], "α √h  (α of the code convention)")):
        ax.axhline(config["kernel_threshold"], color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="‖Θ_T − Θ₀‖ / ‖Θ₀‖")
    axes[0].set_title("Kernel change (× : α*)")
    axes[1].set_title("The same against α√h")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    drawn["kernel_change"] = fig

    # 2. test error against α, single networks, ensemble and the lazy references
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    lazy = {ref["width"]: ref for ref in record["lazy"]}
    for i, w in enumerate(widths):
        ax.plot(alphas, error[i], "o-", color=colours[i], ms=3, label=f"h = {w:g}")
        ax.plot(alphas, ensemble[i], "--", color=colours[i], lw=0.8)
        if w in lazy:
            ax.axhline(lazy[w]["kernel_flow_error"], color=colours[i], lw=0.8, ls=":")
    ax.set(xscale="log", xlabel="α", ylabel="test error")
    ax.set_title("Test error (dashed: ensemble; dotted: frozen-kernel flow)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    drawn["test_error"] = fig

    # 3. α*(h) with its fit, and the output variance over seeds against h
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    have = [(w, s) for w, s in stars.items() if s is not None]
    if have:
        axes[0].plot(*zip(*have, strict=True), "ko", label="α*(h)")
    fit = record["alpha_star_fit"]
    if fit:
        slope = fit["slope"]
        interval = ci_text(fit)
        axes[0].plot(
            widths,
            np.exp(fit["intercept"]) * widths**slope,
            "k--",
            lw=0.9,
            label=f"slope {slope:.2f}{interval}",
        )
        w0 = geometric_mean(widths)
        a0 = np.exp(fit["intercept"]) * w0**slope
        axes[0].plot(widths, a0 * (widths / w0) ** -0.5, "r:", lw=0.9, label="reported slope −1/2")
    axes[0].set(xscale="log", yscale="log", xlabel="width h", ylabel="α*", title="Crossover")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    for j in (0, len(alphas) // 2, len(alphas) - 1):
        axes[1].plot(widths, variance[:, j], "o-", ms=3, label=f"α = {alphas[j]:g}")
    axes[1].plot(widths, variance[0, -1] * widths[0] / widths, "k:", lw=0.9, label="slope −1")
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="width h",
        ylabel="Var over seeds of F(x)",
        title="Output variance over initialisations",
    )
    axes[1].legend(fontsize=7)
    for ax in axes:
        _width_ticks(ax, widths)
    fig.tight_layout()
    drawn["crossover"] = fig

    # 4. the phase diagram: test error in the (h, α) plane, α*(h), the fitting boundary
    fig = Figure(figsize=(5.8, 4.8))
    ax = fig.subplots()
    mesh = ax.pcolormesh(_edges(widths), _edges(alphas), error.T, cmap="magma_r", shading="flat")
    fig.colorbar(mesh, ax=ax, label="test error")
    if have:
        ax.plot(
            *zip(*have, strict=True),
            "wo-",
            mec="k",
            lw=1.5,
            label="α*(h): kernel change = threshold (fitted cells)",
        )
        w0, a0 = have[len(have) // 2]
        ax.plot(
            widths, a0 * (widths / w0) ** -0.5, "--", color="tab:blue", lw=1.2, label="α ∝ h^−1/2"
        )
    # cells where not every seed fit: the under-parametrised (jamming) side, or a budget
    # too short for the slow flows; hatched, not hidden (and left out of the fits)
    from matplotlib.patches import Patch, Rectangle

    fitted, wx, ay = _grid(record, "fitted"), _edges(widths), _edges(alphas)
    for i, j in zip(*np.nonzero(fitted < 1), strict=True):
        ax.add_patch(
            Rectangle(
                (wx[i], ay[j]),
                wx[i + 1] - wx[i],
                ay[j + 1] - ay[j],
                fill=False,
                hatch="//",
                edgecolor="c",
                lw=0,
            )
        )
    handles, _ = ax.get_legend_handles_labels()
    if (fitted < 1).any():
        label = "not every seed fitted"
        handles.append(Patch(fill=False, hatch="//", edgecolor="c", label=label))
    # the jamming line at each α: the cell edge right of the widest width with no seed fitted
    line = record.get("jamming_line") or []
    edge = {w: wx[i + 1] for i, w in enumerate(widths)}
    xs = [edge[c["h_jammed"]] if c["h_jammed"] is not None else wx[0] for c in line]
    if any(c["h_jammed"] is not None for c in line):
        ys = np.repeat(ay, 2)[1:-1]
        ax.plot(np.repeat(xs, 2), ys, color="c", lw=2.5)
        handles.append(
            Line2D([], [], color="c", lw=2.5, label="jamming line (left of it no seed fitted)")
        )
    ax.set(xscale="log", yscale="log", xlabel="width h", ylabel="α")
    _width_ticks(ax, widths)
    ax.text(0.97, 0.95, "lazy", transform=ax.transAxes, ha="right", va="top", color="k")
    ax.text(0.97, 0.05, "feature", transform=ax.transAxes, ha="right", va="bottom", color="k")
    ax.set_title(
        f"Phase diagram ({config['dataset']}, {config['arch']}, P = {config['data']['P']})"
    )
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    fig.tight_layout()
    drawn["phase_diagram"] = fig
    return drawn
