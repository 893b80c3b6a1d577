"""One point of a learning curve as a sweep run: :class:`LearningPointConfig`, its run, and
the sweep of an :class:`~symscape.experiments.equivariance.config.EquivarianceConfig`.

A point is one model trained on the first P clouds, its seeds packed into one
ensemble; the sweep store keeps it as experiment ``equivariance-point``
(:data:`POINT_EXPERIMENT`, resolved through
``symscape.experiments.equivariance:POINT_EXPERIMENT``).

>>> from symscape.experiments.equivariance.config import EquivarianceConfig
>>> spec = sweep_spec(EquivarianceConfig(P=(16, 32), models=("mlp",)))
>>> spec.experiment, spec.name, len(spec.runs())
('equivariance-point', 'equivariance-energy', 6)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.config import Interval, JsonConfig, declared, param
from symscape.experiments.equivariance.config import MODEL, EquivarianceConfig
from symscape.runnable import Experiment
from symscape.runtime import torch_threads

__all__ = [
    "POINT_EXPERIMENT",
    "LearningPointConfig",
    "learning_points",
    "point_experiment",
    "sweep_spec",
]


def learning_points(config, sizes, models) -> list:
    """The :class:`~symscape.train.learning_curves.LearningPoint` of every size in ``sizes``,
    model in ``models`` and seed of ``config`` (an equivariance or a point config), trained
    in this process on ``config.threads`` torch threads."""
    from symscape.train.learning_curves import learning_curves

    with torch_threads(config.threads):
        return learning_curves(
            config.task,
            sizes,
            config.seeds,
            models=models,
            n_points=config.n_points,
            n_test=config.n_test,
            steps=config.steps,
            lr=config.lr,
            width=config.width,
            network=dict(
                l_max=config.l_max, layers=config.layers, multiplicity=config.multiplicity
            ),
            data_seed=config.data_seed,
        )


def _as_in_curve(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A field declared as :class:`EquivarianceConfig` declares it (another default if given)."""
    field = next(f for f in dataclasses.fields(EquivarianceConfig) if f.name == name)
    declaration = declared(field)
    default = field.default if default is dataclasses.MISSING else default
    return param(default, declaration.help, declaration.constraint)


@dataclasses.dataclass(frozen=True)
class LearningPointConfig(JsonConfig):
    """One point of a learning curve: ``model`` trained on the first ``P`` clouds, per seed.

    The fields mean what they mean in :class:`EquivarianceConfig`; a sweep over
    P × model of these is the experiment run through the store.
    """

    P: int = param(16, "training-set size", Interval(int, 1, None))
    model: str = param("equivariant", "the model trained", MODEL)
    task: str = _as_in_curve("task")
    seeds: tuple[int, ...] = _as_in_curve("seeds", (0,))
    steps: int = _as_in_curve("steps")
    l_max: int = _as_in_curve("l_max")
    layers: int = _as_in_curve("layers")
    multiplicity: int = _as_in_curve("multiplicity")
    n_points: int = _as_in_curve("n_points")
    n_test: int = _as_in_curve("n_test")
    lr: float = _as_in_curve("lr")
    width: int = _as_in_curve("width")
    data_seed: int = _as_in_curve("data_seed")
    threads: int = _as_in_curve("threads")


# the fields a point shares with its EquivarianceConfig (all but P and model)
_POINT_FIELDS = tuple(
    f.name for f in dataclasses.fields(LearningPointConfig) if f.name not in ("P", "model")
)


def _point_run(config: LearningPointConfig) -> dict[str, Any]:
    points = learning_points(config, [config.P], [config.model])
    return {
        name: np.array([getattr(q, name) for q in points])
        for name in ("train_error", "test_error", "rotation_error")
    }


def _point_split(record: Mapping[str, Any], config: LearningPointConfig) -> list[dict[str, Any]]:
    return [
        {name: float(values[i]) for name, values in record.items()}
        for i in range(len(config.seeds))
    ]


def _point_status(record: Mapping[str, Any]) -> str:
    return "done" if math.isfinite(record["test_error"]) else "diverged"


# the sweep's view of one learning-curve point (registered as ``equivariance-point``)
POINT_EXPERIMENT = Experiment(
    name="equivariance-point",
    config=LearningPointConfig,
    run=_point_run,
    seed_field="seeds",
    split=_point_split,
    status=_point_status,
)


def point_experiment() -> Experiment:
    """The sweep's view of one learning-curve point (:data:`POINT_EXPERIMENT`)."""
    return POINT_EXPERIMENT


def sweep_spec(config: EquivarianceConfig):
    """The sweep of ``config``: P × model, each point's seeds packed into one ensemble."""
    from symscape.sweep import SweepSpec

    fixed = {name: getattr(config, name) for name in _POINT_FIELDS if name != "seeds"}
    grid = {"P": list(config.P), "model": list(config.models)}
    return SweepSpec(
        "equivariance-point", f"equivariance-{config.task}", fixed, grid, (), config.seeds
    )
