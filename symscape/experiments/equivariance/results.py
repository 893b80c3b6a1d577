"""The learning-curve experiment's outputs: ``equivariance.json``, the figures, the summary,
and the ``symscape reproduce`` section that writes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.experiments._output import save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._sweeps import section_store
from symscape.experiments.equivariance.config import PROTOCOLS
from symscape.experiments.equivariance.curves import run
from symscape.experiments.equivariance.figures import figures as _draw
from symscape.sweep.runner import Runner

__all__ = ["equivariance_section", "save_results", "section"]


def _rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    task = record["config"]["task"]
    rows = []
    for name, curve in record["curves"].items():
        fit = record["exponents"][name]
        rows.append(
            {
                "task": task,
                "model": name,
                "P": [r["P"] for r in curve],
                "test_error": [r["test_error_mean"] for r in curve],
                "test_error_std": [r["test_error_std"] for r in curve],
                "exponent": fit["slope"],
                "exponent_ci": [fit["ci_low"], fit["ci_high"]],
                "rotation_error": record["rotation_error"][name],
            }
        )
    return rows


def save_results(
    records: Sequence[Mapping[str, Any]], out: str | Path, figures: str | Path | None = None
) -> dict[str, Any]:
    """Write ``equivariance.json`` (every record) under ``out`` and one figure per task.

    ``figures`` defaults to ``out``. Returns a short summary (one row per
    task and model, paths relative to ``out``).
    """
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "equivariance.json"
    document = {"experiment": "equivariance", "version": __version__, "records": list(records)}
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    written = []
    for record in records:
        written += save_figures(_draw(record), figures, "equivariance")

    def relative(p: Path) -> str:
        try:
            return str(p.relative_to(out))
        except ValueError:
            return str(p)

    return {
        "rows": [row for record in records for row in _rows(record)],
        "configs": [record["config"] for record in records],
        "record": relative(path),
        "figures": [relative(p) for p in written],
        "wall_time_s": round(sum(r["timing"]["total_s"] for r in records), 2),
    }


def equivariance_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the ``quick`` or ``paper`` protocol; write its record and figures (for reproduce).

    ``quick`` is the energy task alone (seconds); ``paper`` both tasks.
    ``root`` is accepted for the signature of the other sections and unused
    (the data are generated). The runs go to the sweep store ``store``
    (default ``out/symscape.db``) on ``executor`` (default ``pool``). The
    equivariant networks run on the CPU whatever ``device`` is (the GPU path
    of e3nn's kernels is not wired here yet).
    """
    del device
    configs = list(protocol_cases(PROTOCOLS, scale, "equivariance", root).values())
    started = time.perf_counter()
    runner = Runner(section_store(out, store), executor or "pool")
    records = [run(config, runner) for config in configs]
    summary = save_results(records, out, figures)
    summary["scale"] = scale
    summary["wall_time_s"] = round(time.perf_counter() - started, 2)
    return summary


section = equivariance_section  # the registry's hook (symscape.experiments.registry)
