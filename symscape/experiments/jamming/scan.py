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
from typing import Any

from symscape.experiments.jamming.analysis import crossing
from symscape.experiments.jamming.config import JammingConfig
from symscape.experiments.jamming.search import _measure
from symscape.sweep.runner import Runner, as_runner

__all__ = ["find_capacity"]


def _n_weights(train_config) -> int:
    """N of a training run's network (weights only), without training it."""
    from symscape.data import load

    ds = load(train_config.dataset, **train_config.data, dtype=train_config.dtype)
    return train_config.architecture(ds.input_shape, 1).n_weights


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
    runner = as_runner(runner, None)
    name = f"jamming-d{d}" if d is not None else f"jamming-h{width:g}"
    tried: dict[int, dict[str, Any]] = {}

    def measure(P: int) -> dict[str, Any]:
        if P not in tried:
            tried[P] = _measure(config.train_configs(P, width, d=d), runner, name)
        return tried[P]

    n_weights = _n_weights(config.train_config(64, width, d=d))  # N does not depend on P
    low = max(1, math.ceil(config.ratio_min * n_weights))
    high = max(low + 1, math.floor(config.ratio_max * n_weights))
    bottom, top = measure(low), measure(high)
    draws = len(config.train_configs(2, width, d=d))
    out = {"width": width, "d": d, "N": n_weights, "draws": draws, "P_star": None, "bracket": None}
    if bottom["fitted"] < 0.5 or top["fitted"] >= 0.5:
        out["outside"] = "below ratio_min · N" if bottom["fitted"] < 0.5 else "above ratio_max · N"
        out["tried"] = sorted(tried.values(), key=lambda t: t["P"])
        return out
    for _ in range(config.P_bisections):
        if high - low <= 1:
            break
        middle = min(max(round(math.sqrt(low * high)), low + 1), high - 1)
        if measure(middle)["fitted"] >= 0.5:
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
