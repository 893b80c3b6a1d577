"""The learning-curve experiment's configs: :class:`EquivarianceConfig` and its protocols.

>>> sorted(PROTOCOLS["paper"])
['dipole', 'energy']
>>> PROTOCOLS["paper"]["dipole"].P[-1], quick_config(steps=5).steps
(1024, 5)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from symscape.config import Interval, Items, JsonConfig, Options, Seeds, param

__all__ = ["PROTOCOLS", "EquivarianceConfig", "paper_config", "quick_config"]

TASKS = ("energy", "dipole")
MODELS = ("equivariant", "mlp", "mlp_augmented")

_TASK = Options(TASKS, what="task")
MODEL = Options(MODELS, what="model")
_SEEDS = Seeds(distinct=True)


@dataclasses.dataclass(frozen=True)
class EquivarianceConfig(JsonConfig):
    """Everything that defines a learning-curve run (defaults: the quick protocol)."""

    task: str = param("energy", "target: a rotation-invariant energy (0e) or a dipole (1o)", _TASK)
    P: tuple[int, ...] = param(
        (16, 32, 64, 128),
        "training-set sizes",
        Items(Interval(int, 1, None), at_least=2, distinct=True, sort=True),
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "initialisations per point", _SEEDS)
    steps: int = param(200, "full-batch Adam steps", Interval(int, 1, None))
    models: tuple[str, ...] = param(
        MODELS,
        "models: equivariant, mlp, mlp_augmented (random rotations)",
        Items(MODEL, distinct=True),
    )
    # the equivariant network
    l_max: int = param(2, "highest rotation order of the features", Interval(int, 0, None))
    layers: int = param(2, "equivariant layers", Interval(int, 1, None))
    multiplicity: int = param(8, "channels per rotation order", Interval(int, 1, None))
    # the task and the MLPs
    n_points: int = param(5, "points per cloud", Interval(int, 2, None))
    n_test: int = param(128, "test clouds", Interval(int, 2, None))
    lr: float = param(0.01, "Adam learning rate", Interval(float, 0, None, closed="neither"))
    width: int = param(64, "width of the MLPs", Interval(int, 1, None))
    data_seed: int = param(0, "seed of the clouds and of the task", Interval(int, 0, None))
    # the exponent's interval
    n_bootstrap: int = param(1000, "bootstrap replicates", Interval(int, 0, None))
    bootstrap_seed: int = param(0, "seed of the bootstrap", Interval(int, 0, None))
    threads: int = param(1, "torch threads", Interval(int, 1, None))


def quick_config(**changes: Any) -> EquivarianceConfig:
    """The quick protocol (energy, P = 16..128, three seeds, ~30 s on 2 cores), with changes."""
    return EquivarianceConfig(**changes)


def paper_config(task: str = "energy", **changes: Any) -> EquivarianceConfig:
    """The paper protocol for ``task`` (P = 16..1024, five seeds, 2,000 steps), with changes."""
    settings = dict(
        task=task,
        P=(16, 32, 64, 128, 256, 512, 1024),
        seeds=(0, 1, 2, 3, 4),
        steps=2000,
        layers=3,
        multiplicity=16,
        n_test=512,
    )
    return EquivarianceConfig(**{**settings, **changes})


def medium_config(task: str = "energy", **changes: Any) -> EquivarianceConfig:
    """The medium protocol for ``task`` (P = 16..256, four seeds, 400 steps: minutes)."""
    settings = dict(task=task, P=(16, 32, 64, 128, 256), seeds=(0, 1, 2, 3), steps=400)
    return EquivarianceConfig(**{**settings, **changes})


PROTOCOLS = {
    "quick": {"energy": quick_config()},
    "medium": {task: medium_config(task) for task in TASKS},
    "paper": {task: paper_config(task) for task in TASKS},
}
"""The protocols: ``quick`` (the energy task, seconds), ``medium`` (both tasks, minutes)
and ``paper`` (both tasks, hours on a CPU)."""
