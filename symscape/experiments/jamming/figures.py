"""The figures of a jamming record: pure, object-oriented matplotlib."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["figures"]


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``NAME_STEM``): ``ndelta`` (⟨N_Δ⟩/N against N/P), ``undecided`` (the fitted and
    undecided fractions at every point), ``phase_diagram`` (every network tried, N*(P) of
    the width bisection, P*(N) of the P scans, the perceptron control and P = 2N) and,
    with a jammed minimum, ``transition`` (its gaps and Hessian spectrum).
    Pure: no file is written and no pyplot figure opened."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    drawn = {}
    scans = record.get("scans", [])
    curves = [(f"P={s['P']}", s["tried"]) for s in record["searches"]]
    curves += [(f"N={s['N']}", s["tried"]) for s in scans]
    colors = colormaps["viridis"](np.linspace(0, 0.85, max(len(curves), 1)))

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for (label, tried), color in zip(curves, colors, strict=False):
        x = [t["N"] / t.get("P", 1) for t in tried]
        y = [t["n_delta_over_N"] for t in tried]
        ax.plot(x, y, "o-", color=color, label=label)
    ax.set(xscale="log", xlabel="N / P", ylabel="⟨N_Δ⟩ / N", title="Unsatisfied constraints")
    ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["ndelta"] = fig

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for (label, tried), color in zip(curves, colors, strict=False):
        order = sorted(tried, key=lambda t: t["N"] / t["P"])
        x = [t["N"] / t["P"] for t in order]
        ax.plot(x, [t["fitted"] for t in order], "o-", color=color, label=f"fitted, {label}")
        ax.plot(x, [t.get("undecided_fraction", 0) for t in order], "x--", color=color)
    ax.axhline(0.25, color="0.5", lw=0.6, ls=":")
    ax.set(
        xscale="log",
        xlabel="N / P",
        ylabel="fraction of runs",
        title="Fitted (o) and undecided (x; flag above 1/4)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    drawn["undecided"] = fig

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
    _draw_scans(ax, scans, record.get("capacity"), "C0", "P*(N), networks")
    controls = record.get("controls", [])
    _draw_scans(ax, controls, None, "0.4", "P*(N), perceptron")
    if scans or controls:
        n = np.array([s["N"] for s in [*scans, *controls]], float)
        grid = np.geomspace(n.min() / 1.5, n.max() * 1.5, 20)
        ax.plot(2 * grid, grid, ":", color="0.4", lw=0.8, label="P = 2N (perceptron)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="P",
        ylabel="N",
        title="Phase diagram (blue: fitted, red: not fitted)",
    )
    ax.xaxis.set_minor_formatter(NullFormatter())  # the minor labels of a log axis overlap
    if located or scans or controls:
        ax.legend(fontsize=7)
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


def _draw_scans(ax, scans, line, color, label) -> None:
    """The P scans on the phase diagram: each point tried (blue: fitted, red: not), the
    located P*(N) with its bracket and the fitted line."""
    for scan in scans:
        for t in scan["tried"]:
            ax.scatter(t["P"], scan["N"], c=[[1 - t["fitted"], 0.2, t["fitted"]]], s=12, marker="s")
    located = [s for s in scans if s["P_star"] is not None]
    if not located:
        return
    N = np.array([s["N"] for s in located], float)
    P = np.array([s["P_star"] for s in located])
    # P* interpolates the fitted fraction over every P tried, so with a fraction that is not
    # monotone in P it can fall outside the bisection's final bracket: no negative bar then
    low = np.clip(P - np.array([s["bracket"][0] for s in located]), 0, None)
    high = np.clip(np.array([s["bracket"][1] for s in located]) - P, 0, None)
    ax.errorbar(P, N, xerr=[low, high], fmt="o", color=color, capsize=3, label=label)
    if line and line.get("slope") is not None:
        ax.plot(
            np.exp(line["intercept"]) * N ** line["slope"],
            N,
            "--",
            color=color,
            lw=0.8,
            label=f"ln P* vs ln N: slope {line['slope']:.2f}",
        )
