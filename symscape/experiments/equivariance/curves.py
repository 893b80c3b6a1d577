"""The learning-curve experiment's run: every model at every P and seed, through the store.

:func:`run` hands the sweep of P × model (:func:`~symscape.experiments.equivariance.point.
sweep_spec`) to a :class:`~symscape.sweep.runner.Runner`, reads the stored points back and
analyses them (:func:`~symscape.experiments.equivariance.analysis.analyse`); without a
runner it trains the same points in this process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.errors import InvalidOptionError
from symscape.experiments._record import stamp
from symscape.experiments.equivariance.analysis import analyse
from symscape.experiments.equivariance.config import EquivarianceConfig
from symscape.experiments.equivariance.point import learning_points, sweep_spec
from symscape.sweep.runner import Runner, as_runner, given_store_path

__all__ = ["run"]

_ERRORS = ("train_error", "test_error", "rotation_error")


def run(
    config: EquivarianceConfig,
    runner: Runner | str | Path | None = None,
    executor: str | None = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Train every model at every P and seed of ``config``; returns a JSON-able record.

    With ``runner`` (a :class:`~symscape.sweep.runner.Runner`, or a store path trained on
    ``executor``, default ``inprocess``: the older ``run(config, store_path, executor)``),
    every (P, model) runs through the sweep store, so that a rerun resumes and reads back
    what is done; without one, in this process. The record is the same either way.
    """
    runner = given_store_path(runner, store_path)
    if not isinstance(config, EquivarianceConfig):
        raise InvalidOptionError(
            f"config is a {type(config).__name__}", fix="pass an EquivarianceConfig"
        )
    started = time.perf_counter()
    if runner is None:
        points = learning_points(config, config.P, config.models)
    else:
        points = _stored_points(config, as_runner(runner, executor))
    record = {
        "experiment": "equivariance",
        "version": __version__,
        "config": config.to_dict(),
        "points": [q.as_dict() for q in points],
        **analyse(config, points),
        "timing": {"total_s": round(time.perf_counter() - started, 2)},  # kept for readers
    }
    return stamp(record, "equivariance", config, started)


def _stored_points(config: EquivarianceConfig, runner: Runner) -> list:
    """Every learning point of ``config``, trained through ``runner`` and read from its store
    (P, then model, then seed)."""
    from symscape.sweep import Store
    from symscape.train.learning_curves import LearningPoint

    spec = sweep_spec(config)
    runner.complete(spec)
    runs = spec.runs()
    with Store(runner.store, create=False) as store:
        rows = store.get([r.key for r in runs])
    by_point = {
        (r.config["P"], r.config["model"], r.seed): row for r, row in zip(runs, rows, strict=True)
    }
    return [
        LearningPoint(
            config.task,
            model,
            P,
            seed,
            *(by_point[(P, model, seed)]["scalars"][name] for name in _ERRORS),
        )
        for P in config.P
        for model in config.models
        for seed in config.seeds
    ]
