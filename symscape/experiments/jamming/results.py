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


def _ends_undecided(search: Mapping[str, Any], key: str, ends) -> list[float]:
    """The undecided fraction at the two ends of a bracket (``[]`` with no bracket)."""
    if not ends:
        return []
    return [next(t["undecided_fraction"] for t in search["tried"] if t[key] == e) for e in ends]


def _scan_summary(scan: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of one P scan that the report shows."""
    return {
        "N": scan["N"],
        "width": scan["width"],
        "d": scan["d"],
        "P_star": scan["P_star"],
        "bracket": scan["bracket"],
        "outside": scan.get("outside"),
        "undecided": _ends_undecided(scan, "P", scan["bracket"]),
    }


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
    config = record.get("config") or {}
    authors = None
    if config:
        from symscape.experiments.jamming.config import JammingConfig

        authors = JammingConfig.from_dict(config).authors_architecture
    return {
        "dataset": config.get("dataset"),
        "authors_architecture": authors,
        "N_star": {str(s["P"]): s["N_star"] for s in record["searches"]},
        "bracket": {str(s["P"]): s["bracket"] for s in record["searches"]},
        "outside": {str(s["P"]): s["outside"] for s in record["searches"] if s["outside"]},
        "search_undecided": {
            str(s["P"]): _ends_undecided(s, "width", s.get("width_bracket"))
            for s in record["searches"]
        },
        "line": record["line"],
        "scans": [_scan_summary(s) for s in record.get("scans", [])],
        "capacity": record.get("capacity"),
        "controls": [_scan_summary(s) for s in record.get("controls", [])],
        "control": record.get("control"),
        "gaps": record.get("gaps"),
        "undecided": record.get("undecided"),
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
