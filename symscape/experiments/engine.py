"""Appendix B of the main job: one ensemble trained by the engine, its observables along training.

:data:`ENGINE_CONFIGS` holds the training config of each scale (a teacher
task, soft-hinge loss, the adaptive gradient flow); :func:`section` trains
it, draws the loss, N_Δ/P and test error of every member along training
(``figures/engine_training.png``) and returns the members' final state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symscape.comparisons import AGREES, DIFFERS, Figure, Part, ReadFile, Verdict, judged, markdown
from symscape.experiments import registry

__all__ = ["ENGINE_CONFIGS", "describe", "engine_section", "figures", "markdown_section", "section"]

ENGINE_CONFIGS = {
    "quick": dict(
        dataset="teacher",
        data={"P": 200, "n_test": 1000, "d": 10},
        depth=2,
        width=64,
        activation="softplus",
        loss="soft_hinge",
        seeds=(0, 1, 2, 3),
        max_steps=5000,
    ),
    "medium": dict(
        dataset="teacher",
        data={"P": 500, "n_test": 2000, "d": 20},
        depth=3,
        width=128,
        activation="softplus",
        loss="soft_hinge",
        seeds=tuple(range(6)),
        max_steps=20_000,
    ),
    "paper": dict(
        dataset="teacher",
        data={"P": 2000, "n_test": 10000, "d": 30},
        depth=3,
        width=256,
        activation="softplus",
        loss="soft_hinge",
        seeds=tuple(range(8)),
        max_steps=100_000,
    ),
}

_FINAL = ("t", "loss", "n_delta", "train_error", "test_error", "weight_change")


def section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: Any = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train one ensemble with the adaptive gradient flow and report its observables."""
    del root, store, executor
    from symscape.train import TrainConfig, train

    config = TrainConfig(**ENGINE_CONFIGS[scale], device=device)
    result = train(config)
    path = figures / "engine_training.png"
    training_figure(result).savefig(path, dpi=110)
    final = result["final"]
    return {
        "config": result["config"],
        "n_weights": result["n_weights"],
        "status": result["status"],
        "stop_step": result["stop_step"],
        "final": {k: final[k] for k in (*_FINAL, "ensemble_test_error")},
        "wall_time_s": round(result["wall_time"], 2),
        "figure": str(path.relative_to(out)),
    }


def engine_section(scale: str, figures: Path, out: Path, device: str = "cpu") -> dict[str, Any]:
    """:func:`section` with the signature ``symscape.reproduce.engine_section`` had."""
    return section(scale, figures, out, device=device)


def training_figure(result: Mapping[str, Any]):
    """Loss, N_Δ/P and test error of every member of a :func:`~symscape.train.train` result
    along training (black: the ensemble-mean predictor); a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure

    traj = result["trajectory"]
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    t = traj["t"]
    for e in range(t.shape[1]):
        axes[0].loglog(t[1:, e], traj["loss"][1:, e], lw=1)
        axes[1].semilogx(t[1:, e], traj["n_delta"][1:, e] / result["P"], lw=1)
        axes[2].semilogx(t[1:, e], traj["test_error"][1:, e], lw=1, alpha=0.7)
    axes[2].semilogx(
        t[1:].mean(1), traj["ensemble_test_error"][1:], "k", lw=2, label="ensemble mean f̄"
    )
    axes[2].legend()
    for ax, label in zip(axes, ("loss", "N_Δ / P", "test error"), strict=True):
        ax.set_xlabel("time t")
        ax.set_ylabel(label)
    c = result["config"]
    fig.suptitle(
        f"{len(c['seeds'])} {c['arch']} nets, depth {c['depth']}, width {c['width']:g} "
        f"(N = {result['n_weights']}) on {c['dataset']}, P = {result['P']}",
        fontsize=10,
    )
    return fig


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """``{"training": Figure}`` of a training result (pure: nothing is written)."""
    return {"training": training_figure(record)}


def markdown_section(summary, read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: :func:`describe`'s part rendered by
    :func:`symscape.comparisons.markdown` (the one Markdown renderer)."""
    return markdown(describe(summary, read))


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part: is the ensemble mean not worse, did every member fit."""
    final = summary["final"]
    part = Part(
        "engine",
        *registry.get("engine").heading,
    )
    mean = sum(final["test_error"]) / len(final["test_error"])
    ensemble = final["ensemble_test_error"]
    n_test = (summary.get("config") or {}).get("data", {}).get("n_test")
    # the sampling sd of a test error on n_test points: √(ε(1−ε)/n)
    floor = math.sqrt(max(mean * (1 - mean), 1e-12) / n_test) if n_test else 0.0
    gap = ensemble - mean
    part.comparisons.append(
        judged(
            "test error of the ensemble-mean predictor vs the mean member",
            f"{ensemble:.3f} vs {mean:.3f}",
            "not worse",
            Verdict(AGREES, f"difference {gap:+.3f} ≤ 2σ = {2 * floor:.3f}")
            if gap <= 2 * floor
            else Verdict(DIFFERS, f"worse by {gap:.3f} > 2σ = {2 * floor:.3f}"),
        )
    )
    fitted = sum(s == "fitted" for s in summary["status"])
    total = len(summary["status"])
    part.comparisons.append(
        judged(
            "members that reached N_Δ = 0",
            f"{fitted} of {total}",
            "all (an over-parametrised net on a teacher task)",
            Verdict(AGREES, "every member fitted")
            if fitted == total
            else Verdict(DIFFERS, f"{total - fitted} member(s) did not fit"),
        )
    )
    part.figures.append(
        Figure(
            summary["figure"],
            "Loss, N_Δ/P and test error along training, per member "
            "(black: the ensemble-mean predictor).",
        )
    )
    part.configs.append(("engine", summary["config"]))
    return part
