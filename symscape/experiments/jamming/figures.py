"""The figures of a jamming record: pure, object-oriented matplotlib."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["figures"]


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``NAME_STEM``): ``ndelta`` (⟨N_Δ⟩/N against N/P), ``phase_diagram`` (the widths tried
    and N*(P)) and, with a jammed minimum, ``transition`` (its gaps and Hessian spectrum).
    Pure: no file is written and no pyplot figure opened."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    drawn = {}
    colors = colormaps["viridis"](np.linspace(0, 0.85, len(record["searches"])))

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for search, color in zip(record["searches"], colors, strict=True):
        tried = search["tried"]
        x = [t["N"] / search["P"] for t in tried]
        y = [t["n_delta_over_N"] for t in tried]
        ax.plot(x, y, "o-", color=color, label=f"P={search['P']}")
    ax.set(xscale="log", xlabel="N / P", ylabel="⟨N_Δ⟩ / N", title="Unsatisfied constraints")
    ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["ndelta"] = fig

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for search in record["searches"]:
        for t in search["tried"]:
            ax.scatter(search["P"], t["N"], c=[[1 - t["fitted"], 0.2, t["fitted"]]], s=25)
    located = [s for s in record["searches"] if s["N_star"] is not None]
    if located:
        P = np.array([s["P"] for s in located], float)
        N = np.array([s["N_star"] for s in located])
        low = N - np.array([s["bracket"][0] for s in located])
        high = np.array([s["bracket"][1] for s in located]) - N
        ax.errorbar(P, N, yerr=[low, high], fmt="k-", capsize=3, label="N*(P)")
        line = record["line"]
        if line:
            ax.plot(
                P,
                np.exp(line["intercept"]) * P ** line["slope"],
                "k--",
                lw=0.8,
                label=f"slope {line['slope']:.2f}",
            )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="P",
        ylabel="N",
        title="Phase diagram (blue: fitted, red: jammed)",
    )
    if located:
        ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["phase_diagram"] = fig

    transition = record.get("transition")
    if transition and "gaps" in transition:
        gaps = np.asarray(transition["gaps"])
        fig = Figure(figsize=(8, 3.4))
        left, right = fig.subplots(1, 2)
        for values, label in (
            (gaps[gaps > 0], "Δ > 0 (unsatisfied)"),
            (-gaps[gaps < 0], "−Δ, Δ < 0 (satisfied)"),
        ):
            if len(values):
                bins = np.logspace(np.log10(values.min()), np.log10(values.max()) + 1e-9, 15)
                left.hist(values, bins=bins, histtype="step", label=label)
        left.set(
            xscale="log",
            yscale="log",
            xlabel="|Δ|",
            ylabel="count",
            title=f"Gaps at the jammed minimum (N={transition['N']})",
        )
        left.legend(fontsize=7)
        if "eig_H" in transition:  # the exact spectrum
            eig = np.sort(np.asarray(transition["eig_H"]))[::-1]
            eig0 = np.sort(np.asarray(transition["eig_H0"]))[::-1]
            right.plot(eig, ".", ms=3, label="H")
            right.plot(eig0, ".", ms=3, label="H₀")
            title = f"rank H₀ = {transition['rank_H0']}, N_Δ = {transition['n_delta']}"
        else:  # the extremes from Lanczos
            top, bottom = transition["eig_H_top"], transition["eig_H_bottom"]
            right.plot(range(len(top)), top, ".", label="largest of H")
            n = transition["N"]
            right.plot(range(n - len(bottom), n), bottom[::-1], ".", label="smallest of H")
            title = f"H at N = {n} (Lanczos), N_Δ = {transition['n_delta']}"
        right.set(yscale="symlog", xlabel="index", ylabel="eigenvalue", title=title)
        right.legend(fontsize=7)
        fig.tight_layout()
        drawn["transition"] = fig
    return drawn
