"""The stability section's outputs: the record and figures written, the summary, Markdown."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from symscape.experiments._output import save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._sweeps import section_store
from symscape.experiments.stability.config import PROTOCOLS
from symscape.experiments.stability.figures import figures as _draw
from symscape.experiments.stability.report import describe
from symscape.experiments.stability.run import run
from symscape.sweep.runner import Runner

__all__ = ["markdown_section", "save_results", "section", "stability_section"]


_ROW_KEYS = (
    "architecture",
    "n_parameters",
    "test_error",
    "D_init",
    "G_init",
    "R_init",
    "R_init_interval",
    "D_trained",
    "G_trained",
    "R_trained",
    "R_trained_interval",
    "log_change",
    "log_change_interval",
)


def _rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per architecture: test error, D_f, G_f and R_f at the reference δ at
    initialisation and trained (R_f with its interval over seeds), and ln R_f(trained)/R_f(init)."""
    return [{key: s[key] for key in _ROW_KEYS} for s in record["summary"]]


def save_results(
    record: Mapping[str, Any], out: str | Path, figures: str | Path | None = None
) -> dict[str, Any]:
    """Write ``stability.json`` under ``out`` and the four figures under ``figures``.

    ``figures`` defaults to ``out``. Returns a short summary (one row per
    architecture, the fit, the paths relative to ``out``).
    """
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stability.json"
    path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    written = save_figures(_draw(record), figures, "stability")

    def relative(p: Path) -> str:
        try:
            return str(p.relative_to(out))
        except ValueError:
            return str(p)

    return {
        "dataset": record["config"]["dataset"],
        "rows": _rows(record),
        "reference_delta": record["reference"]["delta"],
        "n_seeds": len(record["config"]["seeds"]),
        "n_points": record["config"]["n_points"],
        "n_test": record["data"]["n_test"],
        "cutoff": record["config"]["cutoff"],
        "init_batch_norm": record["config"].get("init_batch_norm", "batch"),
        "fit": record["fit"],
        "prefactor_at_reported_b": record["prefactor_at_reported_b"],
        "families": record["families"],
        "reported": {k: record["reported"][k] for k in ("a", "b", "law")},
        "correlation_with_log_error": record["correlation_with_log_error"],
        "correlations": record["correlations"],
        "record": relative(path),
        "figures": [relative(p) for p in written],
        "wall_time_s": record["timing"]["total_s"],
    }


def stability_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the ``quick``, ``medium`` or ``paper`` protocol; write its record and figures.

    ``root`` is the data folder of the paper protocol (default ``$SYMSCAPE_DATA``).
    Each network is one run of the sweep store ``store`` (default
    ``out/symscape.db``) on ``executor`` (default ``inprocess``), so that an
    interrupted section resumes without retraining the networks it finished.
    """
    runner = Runner(section_store(out, store), executor or "inprocess")
    (config,) = protocol_cases(PROTOCOLS, scale, "stability", root).values()
    config = dataclasses.replace(config, device=device)
    started = time.perf_counter()
    record = run(config, runner)
    summary = save_results(record, out, figures)
    summary["scale"] = scale
    summary["wall_time_s"] = round(time.perf_counter() - started, 2)
    return summary


section = stability_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(summary: Mapping[str, Any]) -> str:
    """The summary of :func:`save_results` as a Markdown section: the Markdown rendering
    (:func:`symscape.comparisons.markdown`) of its :func:`describe` part."""
    from symscape.comparisons import markdown

    return markdown(describe(summary))
