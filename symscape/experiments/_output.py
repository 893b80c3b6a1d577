"""Output helpers shared by the experiments: figure files and table cells."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["cell", "ci_text", "save_figure", "save_figures"]


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.pdf``; returns the two paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=120)
    fig.savefig(paths[1])
    return paths


def save_figures(figures: Mapping[str, Any], folder: str | Path, prefix: str) -> list[Path]:
    """Write each ``{stem: Figure}`` of an experiment's ``figures(record)`` as
    ``folder/PREFIX_STEM.png`` and ``.pdf`` (:func:`save_figure`), in their order; returns the
    paths written."""
    written = []
    for stem, fig in figures.items():
        written += save_figure(fig, Path(folder) / f"{prefix}_{stem}")
    return written


def cell(value, digits: int = 3) -> str:
    """A number for a Markdown table; ``—`` for a missing one."""
    return "—" if value is None else f"{value:.{digits}g}"


def ci_text(fit) -> str:
    """`` [low, high]`` of a fit's ``ci_low``/``ci_high`` (two decimals); ``""`` without one."""
    if fit.get("ci_low") is None:
        return ""
    return f" [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]"
