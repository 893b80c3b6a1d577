"""P*(N) for one fixed network: a bisection in log P, every ensemble through the sweep store.

The authors' scans (SCIENCE.md §1): the network (hence N) is fixed and the
training-set size P varies; the data are nested (the first P points never
depend on P), so a network that jams at P jams at every larger P of the same
draw. Starting from the bracket ``[ratio_min · N, ratio_max · N]``, the
bisection keeps the fitted fraction ≥ 1/2 at the lower end and < 1/2 at the
upper one, and stops when the bracket holds no other integer P or after
``P_bisections`` steps. P* is where the fitted fraction crosses 1/2,
interpolated in ln P between the bracket's ends
(:func:`~symscape.experiments.jamming.analysis.crossing`). Undecided runs count
as not fitted. There is no width quantisation: P is an integer, and N* ∝ P*
reads off the same line.

With ``d`` given, the network is the perceptron control: a linear classifier
(depth 0, N = d weights) on d-dimensional Gaussian data, whose capacity is
P* = 2N (Cover 1965).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from symscape.experiments.jamming.analysis import crossing
from symscape.experiments.jamming.config import JammingConfig
from symscape.experiments.jamming.search import measure_many
from symscape.sweep.runner import Runner, as_runner

__all__ = ["find_capacities", "find_capacity", "scan_lockstep"]


def _n_weights(train_config) -> int:
    """N of a training run's network (weights only), without training it."""
    from symscape.data import load

    ds = load(train_config.dataset, **train_config.data, dtype=train_config.dtype)
    return train_config.architecture(ds.input_shape, 1).n_weights


def _bisection(config: JammingConfig, width: float, d: int | None, n_weights: int):
    """The P-bisection of one network as a generator: it yields the sizes P it needs next
    and is sent back ``{P: point}`` (every point measured so far); it returns the result."""
    low = max(1, math.ceil(config.ratio_min * n_weights))
    high = max(low + 1, math.floor(config.ratio_max * n_weights))
    tried = yield [low, high]
    draws = len(config.train_configs(2, width, d=d))
    out = {"width": width, "d": d, "N": n_weights, "draws": draws, "P_star": None, "bracket": None}
    bottom, top = tried[low], tried[high]
    if bottom["fitted"] < 0.5 or top["fitted"] >= 0.5:
        out["outside"] = "below ratio_min · N" if bottom["fitted"] < 0.5 else "above ratio_max · N"
        out["tried"] = sorted(tried.values(), key=lambda t: t["P"])
        return out
    for _ in range(config.P_bisections):
        if high - low <= 1:
            break
        middle = min(max(round(math.sqrt(low * high)), low + 1), high - 1)
        tried = yield [middle]
        if tried[middle]["fitted"] >= 0.5:
            low = middle
        else:
            high = middle
    points = sorted(tried.values(), key=lambda t: t["P"])
    out.update(
        P_star=crossing([t["P"] for t in points], [t["fitted"] for t in points]),
        bracket=[low, high],
        outside=None,
        tried=points,
    )
    return out


def find_capacities(
    config: JammingConfig,
    networks: Sequence[tuple[float, int | None]],
    runner: Runner | Any,
) -> list[dict[str, Any]]:
    """:func:`find_capacity` of several networks ``(width, d)`` at once, in lockstep: each
    round of their bisections is one sweep, so that an executor with several workers
    trains the networks side by side (the results are those of one bisection at a time:
    a run is a pure function of its config)."""
    return scan_lockstep([(config, width, d) for width, d in networks], runner)


def scan_lockstep(
    scans: Sequence[tuple[JammingConfig, float, int | None]], runner: Runner | Any
) -> list[dict[str, Any]]:
    """The P-bisections of several ``(config, width, d)`` at once, the configs possibly
    different (two data sets, a network and a perceptron control): each round trains what
    every unfinished bisection needs next in one queue, so that the workers fill the time
    one bisection's slow ensemble leaves free with the others'."""
    runner = as_runner(runner, None)
    states = []
    for config, width, d in scans:
        n_weights = _n_weights(config.train_config(64, width, d=d))  # N does not depend on P
        name = f"jamming-d{d}" if d is not None else f"jamming-h{width:g}"
        bisection = _bisection(config, width, d, n_weights)
        states.append({"bisection": bisection, "name": name, "width": width, "d": d,
                       "config": config, "tried": {}, "wanted": next(bisection),
                       "result": None})  # fmt: skip
    while any(state["result"] is None for state in states):
        requests = [
            (state["config"].train_configs(P, state["width"], d=state["d"]), state["name"])
            for state in states
            if state["result"] is None
            for P in state["wanted"]
            if P not in state["tried"]
        ]
        points = iter(measure_many(requests, runner))
        for state in states:
            if state["result"] is not None:
                continue
            for P in state["wanted"]:
                if P not in state["tried"]:
                    state["tried"][P] = next(points)
            try:
                state["wanted"] = state["bisection"].send(dict(state["tried"]))
            except StopIteration as done:
                state["result"] = done.value
    return [state["result"] for state in states]


def find_capacity(
    config: JammingConfig,
    width: float,
    runner: Runner | Any,
    *,
    d: int | None = None,
) -> dict[str, Any]:
    """Bisection in log P for the P where half of the runs fit, at one fixed network.

    ``width`` fixes the network of ``config``; ``d`` (instead) the perceptron
    control of input dimension ``d``. Returns ``N``, ``P_star`` (``None`` when the
    bracket does not hold the transition, with ``outside`` saying where),
    ``bracket`` ``[P_low, P_high]`` and every point ``tried``.
    """
    [result] = find_capacities(config, [(width, d)], runner)
    return result
