"""The feature-vs-lazy section of ``symscape reproduce``: run each protocol through one
runner (the section's store and executor), write its record and figures, return its summary.

Its Markdown, terminal and HTML renderings all render the one report part
:func:`~symscape.experiments.feature_lazy.report.describe` makes of this summary.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symscape.experiments._output import save_figures
from symscape.experiments._sweeps import section_store
from symscape.experiments.feature_lazy.config import REPORTED, feature_lazy_configs
from symscape.experiments.feature_lazy.grid import run
from symscape.experiments.feature_lazy.plots import figures as _draw
from symscape.sweep.runner import Runner

__all__ = ["feature_lazy_section", "markdown_section", "save_results", "section"]


def save_results(
    record: Mapping[str, Any],
    out: str | Path,
    figures: str | Path | None = None,
    name: str = "feature_lazy",
) -> dict[str, Any]:
    """Write ``<name>.json`` and the figures; returns the summary."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    written = save_figures(_draw(record), figures, name)
    fit = record["alpha_star_fit"]
    return {
        "name": name,
        "dataset": record["config"]["dataset"],
        "arch": record["config"]["arch"],
        "P": record["config"]["data"].get("P"),
        "crossover": record["crossover"],
        "alpha_star_fit": None
        if fit is None
        else {k: fit[k] for k in ("slope", "ci_low", "ci_high", "n_widths", "widths", "min_width")},
        "alpha_star_trend": record.get("alpha_star_trend", []),
        "variance_fit": _slope(record["variance_fit"]),
        "lazy_variance_fit": _slope(record.get("lazy_variance_fit")),
        "jamming_line": record.get("jamming_line"),
        "cells": [
            {k: p[k] for k in ("width", "alpha", "fitted", "undecided", "test_error")}
            for p in record["points"]
        ],
        "test_error_range": record.get("test_error_range"),
        "regime": record["regime"],
        "lazy": [{k: v for k, v in ref.items() if k != "per_seed_error"} for ref in record["lazy"]],
        "reported": REPORTED,
        "record": f"{name}.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }


def _slope(fit: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A variance fit as the summary keeps it (no per-width arrays)."""
    if fit is None:
        return None
    keep = ("alpha", "slope", "ci_low", "ci_high", "n_widths", "widths", "local_slope", "trend")
    return {k: fit[k] for k in keep if k in fit}


def feature_lazy_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
):
    """Every protocol of ``scale`` through the sweep store ``store`` (default
    ``out/symscape.db``) on ``executor`` (default ``pool``), every network on
    ``device``; their summaries."""
    runner = Runner(section_store(out, store), executor or "pool")
    summaries = []
    for name, config in feature_lazy_configs(scale, root):
        config = dataclasses.replace(config, device=device)
        record = run(config, runner)
        summary = save_results(record, out, figures, name)
        summary["scale"] = scale
        summaries.append(summary)
    return {"protocols": summaries}


section = feature_lazy_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(section: Mapping[str, Any]) -> str:
    """The section as Markdown, as ``summary.md`` shows it: the report part
    :func:`~symscape.experiments.feature_lazy.report.describe` makes of ``section``,
    rendered by :func:`symscape.comparisons.markdown` (the registry's older hook)."""
    from symscape.comparisons import markdown
    from symscape.experiments.feature_lazy.report import describe

    return markdown(describe(section))
