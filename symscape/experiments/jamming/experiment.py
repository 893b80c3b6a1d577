"""The jamming experiment as a whole: ``run(config, runner)`` and the ``reproduce`` section."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import section_store
from symscape.experiments.jamming.analysis import fit_line
from symscape.experiments.jamming.config import PROTOCOLS, JammingConfig
from symscape.experiments.jamming.minimum import at_transition
from symscape.experiments.jamming.results import save_results
from symscape.experiments.jamming.search import find_transition
from symscape.sweep.runner import Runner, as_runner, given_store_path

__all__ = ["jamming_section", "run"]


def run(
    config: JammingConfig,
    runner: Runner | str | Path | None = None,
    executor: Any = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Every P's search, the line N*(P) and the minimum at the transition (largest P).

    Every training goes through ``runner`` (a :class:`~symscape.sweep.runner.Runner`:
    the store and its executor); the older form ``run(config, store_path, executor)``
    still works (``executor`` defaults to ``inprocess``).
    """
    runner = given_store_path(runner, store_path)
    runner = as_runner(runner, executor)
    started = time.perf_counter()
    searches = [find_transition(config, P, runner) for P in config.P_values]
    located = [s for s in searches if s["N_star"] is not None]
    line = fit_line([s["P"] for s in located], [s["N_star"] for s in located])
    transition = at_transition(located[-1], runner.store) if located else None
    record = {"searches": searches, "line": line, "transition": transition}
    return stamp(record, "jamming", config, started)


def jamming_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
):
    """Each protocol of ``scale`` (``PROTOCOLS[scale]``: :func:`quick_configs` or
    :func:`paper_configs`), one part of the summary per data set.

    The runs go to the sweep store ``store`` (default ``out/symscape.db``) on
    ``executor`` (default ``inprocess``: each bisection step is one ensemble),
    every network on ``device``.
    """
    runner = Runner(section_store(out, store), executor or "inprocess")
    configs = protocol_cases(PROTOCOLS, scale, "jamming", root)
    datasets = {}
    for name, config in configs.items():
        record = run(dataclasses.replace(config, device=device), runner)
        datasets[name] = save_results(record, out, figures, name=f"jamming_{name}")
    return {"scale": scale, "datasets": datasets}
