"""The files of a jamming record: ``NAME.json``, the figures ``NAME_*`` and the summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symscape.experiments._output import save_figures
from symscape.experiments.jamming.figures import figures as _draw

__all__ = ["save_results"]


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_results(
    record: Mapping[str, Any],
    out: str | Path,
    figures: str | Path | None = None,
    name: str = "jamming",
):
    """Write ``NAME.json`` and the figures ``NAME_*``; returns the summary of fitted quantities."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(_jsonable(record), indent=1) + "\n")
    written = save_figures(_draw(record), figures, name)
    transition = record.get("transition") or {}
    return {
        "N_star": {str(s["P"]): s["N_star"] for s in record["searches"]},
        "bracket": {str(s["P"]): s["bracket"] for s in record["searches"]},
        "outside": {str(s["P"]): s["outside"] for s in record["searches"] if s["outside"]},
        "line": record["line"],
        "transition": {
            k: transition[k]
            for k in (
                "N",
                "P",
                "n_delta",
                "rank_H0",
                "negative_H",
                "lowest_H_relative",
                "smallest_H0_relative",
                "width",
                "seeds_pooled",
                "gap_exponents",
            )
            if k in transition
        },
        "record": f"{name}.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }
