"""The jamming experiment as a whole: ``run(config, runner)`` and the ``reproduce`` section."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import section_store
from symscape.experiments.jamming.analysis import capacity_line, fit_line
from symscape.experiments.jamming.config import PROTOCOLS, JammingConfig
from symscape.experiments.jamming.minimum import (
    at_transition,
    jammed_minimum,
    just_past,
    pooled_gaps,
)
from symscape.experiments.jamming.results import save_results
from symscape.experiments.jamming.scan import scan_lockstep
from symscape.experiments.jamming.search import find_transition
from symscape.sweep.runner import Runner, as_runner, given_store_path

__all__ = ["jamming_section", "run", "run_many", "undecided_summary"]


def run(
    config: JammingConfig,
    runner: Runner | str | Path | None = None,
    executor: Any = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Every search, the lines N*(P) and P*(N), the gaps and the minimum at the transition.

    The width bisection at each of ``P_values`` (:func:`find_transition`), the P
    bisection at each of ``widths`` and for the perceptron control at each of
    ``control_d`` (:func:`find_capacity`); the slope of ln P* against ln N with
    its bootstrap interval (:func:`capacity_line`); θ and γ from the gaps of the
    jammed minima just past the transition (:func:`pooled_gaps`); the Hessian of
    one jammed minimum at the transition (the largest network's).

    Every training goes through ``runner`` (a :class:`~symscape.sweep.runner.Runner`:
    the store and its executor); the older form ``run(config, store_path, executor)``
    still works (``executor`` defaults to ``inprocess``).
    """
    runner = given_store_path(runner, store_path)
    runner = as_runner(runner, executor)
    [record] = run_many([config], runner)
    return record


def run_many(configs: Sequence[JammingConfig], runner: Runner) -> list[dict[str, Any]]:
    """:func:`run` of several configs (a section's data sets), their networks' and
    controls' P-bisections in one lockstep (:func:`scan_lockstep`): a round's slow
    ensemble of one data set leaves a worker free that the other's fill. The records are
    those of one :func:`run` each (a run is a pure function of its config); each one's
    ``wall_time_s`` counts from the start of the lockstep."""
    started = time.perf_counter()
    searches = [[find_transition(c, P, runner) for P in c.P_values] for c in configs]
    scans = [(i, width, None) for i, c in enumerate(configs) for width in c.widths]
    scans += [(i, 1.0, d) for i, c in enumerate(configs) for d in c.control_d]
    found = scan_lockstep([(configs[i], width, d) for i, width, d in scans], runner)
    records = []
    for i, config in enumerate(configs):
        own = [(d, result) for (j, _, d), result in zip(scans, found, strict=True) if j == i]
        networks = [result for d, result in own if d is None]
        controls = [result for d, result in own if d is not None]
        records.append(_record(config, searches[i], networks, controls, runner, started))
    return records


def _record(config, searches, scans, controls, runner: Runner, started: float):
    """The record of one config from its searches, scans and controls: the lines N*(P)
    and P*(N), the gaps and the minimum at the transition."""
    located = [s for s in searches if s["N_star"] is not None]
    line = fit_line([s["P"] for s in located], [s["N_star"] for s in located])
    transition = None
    past = [  # the first jammed point past P*, from the largest network down
        t
        for s in reversed(scans)
        if s["P_star"] is not None
        for t in s["tried"]
        if t["P"] > s["P_star"] and "jammed" in t["outcomes"]
    ]
    if past:
        transition = jammed_minimum(past[0], runner.store)
    elif located:
        transition = at_transition(located[-1], runner.store)
    keys = just_past(scans, searches, config.gap_window)
    gaps = pooled_gaps(keys, runner.store, config.gap_minima, config.gap_count)
    record = {
        "searches": searches,
        "line": line,
        "scans": scans,
        "capacity": capacity_line(scans),
        "controls": controls,
        "control": capacity_line(controls),
        "gaps": gaps,
        "undecided": undecided_summary(searches + scans + controls),
        "transition": transition,
    }
    return stamp(record, "jamming", config, started)


def undecided_summary(searches) -> dict[str, Any]:
    """How often runs ended undecided: over every point tried, and at the points next to
    each transition (a bracket's two ends), with the flagged points (> 1/4 undecided)."""
    points = [t for s in searches for t in s["tried"]]
    near = []
    for s in searches:
        ends = s.get("bracket") if "P_star" in s else s.get("width_bracket")
        key = "P" if "P_star" in s else "width"
        if ends:
            near += [t for t in s["tried"] if t[key] in ends]
    runs = sum(len(t["outcomes"]) for t in points)
    return {
        "runs": runs,
        "undecided": sum(t["undecided"] for t in points),
        "near_runs": sum(len(t["outcomes"]) for t in near),
        "near_undecided": sum(t["undecided"] for t in near),
        "flagged": [
            {"N": t["N"], "P": t["P"], "undecided": t["undecided_fraction"]}
            for t in points
            if t["flagged"]
        ],
    }


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
    ``executor`` (default ``pool``: the networks' bisections of every data set advance in
    lockstep, each round one queue whose ensembles the workers train side by side), every
    network on ``device``.
    """
    runner = Runner(section_store(out, store), executor or "pool")
    configs = protocol_cases(PROTOCOLS, scale, "jamming", root)
    records = run_many([dataclasses.replace(c, device=device) for c in configs.values()], runner)
    datasets = {
        name: save_results(record, out, figures, name=f"jamming_{name}")
        for name, record in zip(configs, records, strict=True)
    }
    return {"scale": scale, "datasets": datasets}
