"""The learning-curve figure: test error against P, one line per model, with its fit.

Pure, object-oriented matplotlib: no file is written and no pyplot figure
opened (the section writes them, :mod:`symscape.experiments._output`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.experiments._output import ci_text

__all__ = ["figures", "learning_curve_figure"]

_LABELS = {"equivariant": "equivariant", "mlp": "MLP", "mlp_augmented": "MLP + rotations"}


def _interval(fit: Mapping[str, Any]) -> str:
    return f"{fit['slope']:.2f}{ci_text(fit)}"


def learning_curve_figure(record: Mapping[str, Any]):
    """Test error against P (log-log), one line per model, geometric mean and min–max bars.

    The legend gives each model's fitted exponent β (ε ∝ P^β) and its 95 %
    bootstrap interval; the dotted lines are the fits.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    colours = {"equivariant": "C0", "mlp": "C3", "mlp_augmented": "C1"}
    for name, rows in record["curves"].items():
        P = np.array([r["P"] for r in rows], dtype=float)
        middle = np.array([r["test_error_geomean"] for r in rows])
        low = middle - np.array([r["test_error_min"] for r in rows])
        high = np.array([r["test_error_max"] for r in rows]) - middle
        fit = record["exponents"][name]
        colour = colours.get(name)
        ax.errorbar(
            P,
            middle,
            yerr=[low, high],
            color=colour,
            marker="o",
            capsize=3,
            label=f"{_LABELS.get(name, name)}: β = {_interval(fit)}",
        )
        ax.plot(P, np.exp(fit["intercept"]) * P ** fit["slope"], ":", color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P")
    ax.set_ylabel("test error (MSE / variance)")
    task = record["config"]["task"]
    ax.set_title(f"{task}: learning curves, ε ∝ P^β", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """``{task: Figure}``: the :func:`learning_curve_figure` of one task's record (saved as
    ``equivariance_TASK``). Pure: no file is written and no pyplot figure opened."""
    return {record["config"]["task"]: learning_curve_figure(record)}
