"""N*(P) at one P: a bisection in log width, every ensemble through the sweep store.

At fixed P, networks of width h are trained to their end point with the
jamming minimiser (``dynamics="lbfgs"``), E seeds as one ensemble; a seed
has *fitted* when N_Δ = 0. Starting from the bracket ``[width_min,
width_max]``, the bisection keeps the fitted fraction ≥ 1/2 at the upper end
and < 1/2 at the lower one; N* is the geometric mean of the final bracket's
N. Every ensemble is a run of the runner's store, so an interrupted search
resumes without retraining; the two ends train side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from symscape.experiments.jamming.config import JammingConfig
from symscape.sweep.runner import Runner, as_runner, given_store_path

__all__ = ["UNDECIDED_FLAG", "find_transition", "measure_many", "outcome_counts"]


def _spec_of(config, name: str):
    """A one-config sweep spec: the config's seeds packed into one ensemble."""
    from symscape.sweep import SweepSpec

    fixed = {k: v for k, v in config.to_dict().items() if k != "seeds"}
    return SweepSpec("train", name, fixed, {}, (), tuple(config.seeds))


UNDECIDED_FLAG = 0.25
"""A point where more than this fraction of the seeds is undecided is flagged."""


def outcome_counts(outcomes) -> dict[str, Any]:
    """The fitted and undecided fractions of a list of outcomes.

    A run is *fitted* when it ended with N_Δ = 0, *jammed* when it stalled at a
    minimum with N_Δ > 0, *undecided* otherwise (its step budget ran out, ...).
    An undecided run counts as **not fitted**, as the authors count it
    (SCIENCE.md §0): the fitted fraction is over every run.

    >>> outcome_counts(["fitted", "max_steps", "jammed", "fitted"])["fitted"]
    0.5
    >>> outcome_counts(["fitted", "max_steps", "max_steps"])["flagged"]
    True
    """
    outcomes = list(outcomes)
    n = max(len(outcomes), 1)
    undecided = sum(o not in ("fitted", "jammed") for o in outcomes)
    return {
        "fitted": sum(o == "fitted" for o in outcomes) / n,
        "undecided": undecided,
        "undecided_fraction": undecided / n,
        "flagged": undecided / n > UNDECIDED_FLAG,
    }


def _spec_of_many(configs, name: str):
    """One sweep spec of several configs with the same seeds: each config one point of a
    zip over every field (a run's key depends on its config only, not on its spec)."""
    from symscape.sweep import SweepSpec

    dicts = [{k: v for k, v in c.to_dict().items() if k != "seeds"} for c in configs]
    zipped = {field: [d[field] for d in dicts] for field in dicts[0]}
    return SweepSpec("train", name, {}, {}, (zipped,), tuple(configs[0].seeds))


def measure_many(requests, runner: Runner) -> list[dict[str, Any]]:
    """Train (or read back) several points at once: ``requests`` is a list of ``(configs,
    name)``, one per point (one network at one P, one config per data draw); their runs go
    to the executor in one queue (a spec per distinct seed tuple), so that its workers
    train them side by side. Each point: the fitted and undecided fractions and ⟨N_Δ⟩/N
    over every run."""
    from symscape.sweep import Store

    requests = [([c] if not isinstance(c, list | tuple) else list(c), n) for c, n in requests]
    from symscape.sweep.spec import run_key

    by_seeds: dict[tuple, dict] = {}
    for configs, _ in requests:
        for config in configs:  # a config two requests share (one control, two data sets)
            group = by_seeds.setdefault(tuple(config.seeds), {})
            group.setdefault(run_key("train", config.to_dict()), config)
    names = sorted({name for _, name in requests})
    name = names[0] if len(names) == 1 else "jamming-lockstep"
    specs = [_spec_of_many(list(group.values()), name) for group in by_seeds.values()]
    every = [config for group in by_seeds.values() for config in group.values()]
    where = ", ".join(f"(width {c.width}, P = {c.data['P']})" for c in every[:3])
    more = f" and {len(every) - 3} more" if len(every) > 3 else ""
    runner.complete(specs, f"in the round of {where}{more}")
    points = []
    with Store(runner.store, create=False) as store:
        for configs, name in requests:
            keys = [run.key for config in configs for run in _spec_of(config, name).runs()]
            rows = store.get(keys)
            outcomes = [row["scalars"]["outcome"] for row in rows]
            n_weights = rows[0]["scalars"]["n_weights"]
            n_delta = [row["scalars"]["final"]["n_delta"] for row in rows]
            points.append(
                {
                    "width": configs[0].width,
                    "P": configs[0].data["P"],
                    "N": n_weights,
                    **outcome_counts(outcomes),
                    "n_delta_over_N": float(np.mean(n_delta)) / n_weights,
                    "keys": keys,
                    "outcomes": outcomes,
                }
            )
    return points


def find_transition(
    config: JammingConfig,
    P: int,
    runner: Runner | str | Path | None = None,
    executor: Any = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Bisection in log(width) for the width where half of the seeds fit, at one P.

    The trainings go through ``runner`` (a :class:`~symscape.sweep.runner.Runner`; the
    older form, a store path and an ``executor``, still works).
    """
    runner = given_store_path(runner, store_path)
    runner = as_runner(runner, executor)
    tried: list[dict[str, Any]] = []

    def measure(*widths: float) -> list[dict[str, Any]]:
        requests = [(config.train_configs(P, width), f"jamming-P{P}") for width in widths]
        points = measure_many(requests, runner)  # the ends side by side
        tried.extend(points)
        return points

    low, high = config.width_min, config.width_max
    top, bottom = measure(high, low)
    if top["fitted"] < 0.5 or bottom["fitted"] >= 0.5:
        where = "above width_max" if top["fitted"] < 0.5 else "below width_min"
        return {"P": P, "N_star": None, "bracket": None, "outside": where, "tried": tried}
    for _ in range(config.bisections):
        middle = _distinct_midpoint(low, high, config.depth)
        if middle is None:  # no network between the two ends: the bracket is resolved
            break
        if measure(middle)[0]["fitted"] >= 0.5:
            high = middle
        else:
            low = middle
    n_low = next(t["N"] for t in tried if t["width"] == low)
    n_high = next(t["N"] for t in tried if t["width"] == high)
    return {
        "P": P,
        "N_star": math.sqrt(n_low * n_high),
        "bracket": [n_low, n_high],
        "width_bracket": [low, high],
        "outside": None,
        "tried": sorted(tried, key=lambda t: t["width"]),
    }


def _distinct_midpoint(low: float, high: float, depth: int) -> float | None:
    """A width between ``low`` and ``high``, near their geometric mean, whose network differs
    from both ends' (fractional widths that round to the same layers are the same run).

    >>> _distinct_midpoint(4.0, 16.0, 2)
    8.0
    >>> _distinct_midpoint(4.0, 4.5, 2) is None  # 4 and 4.5 differ; nothing in between
    True
    """
    from symscape.nets.widths import layer_widths

    ends = (layer_widths(low, depth), layer_widths(high, depth))
    middle = math.sqrt(low * high)
    if layer_widths(middle, depth) not in ends:
        return middle
    # the widths where one more layer gains a unit: k − 1 + (i + 1)/L
    candidates = [
        k - 1 + (i + 1) / depth
        for k in range(math.floor(low), math.ceil(high) + 2)
        for i in range(depth)
    ]
    inside = [c for c in candidates if low < c < high and layer_widths(c, depth) not in ends]
    if not inside:
        return None
    return min(inside, key=lambda c: abs(math.log(c / middle)))
