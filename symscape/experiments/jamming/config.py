"""The jamming experiment's config and its named protocols (``quick``, ``paper``).

>>> config = JammingConfig(P_values=(16,), seeds=(0, 1), width_max=8.0, bisections=2)
>>> config.train_config(16, 4.0).dynamics
'lbfgs'
>>> {name: sorted(cases) for name, cases in PROTOCOLS.items()}
{'quick': ['digits', 'random'], 'paper': ['cifar10', 'mnist', 'random']}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from symscape.config import Interval, Items, JsonConfig, Seeds, Table, param
from symscape.errors import InvalidOptionError
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE

__all__ = ["PROTOCOLS", "JammingConfig", "paper_configs", "quick_configs"]


@dataclasses.dataclass(frozen=True)
class JammingConfig(JsonConfig):
    """A search for N*(P) over several P (defaults: the quick protocol on random data)."""

    dataset: str = param("random", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"d": 10, "n_test": 100}, "data-set options (P comes from P_values)", Table()
    )
    P_values: tuple[int, ...] = param(
        (32, 64, 128), "training-set sizes P", Items(Interval(int, 1, None))
    )
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    seeds: tuple[int, ...] = param(
        tuple(range(8)),
        "seeds per width (one ensemble)",
        Seeds(at_least=2, why="a fitted fraction needs several seeds"),
    )
    width_min: float = param(1.0, "lower end of the width bracket", Interval(float, 1, None))
    width_max: float = param(32.0, "upper end of the width bracket", Interval(float, 1, None))
    bisections: int = param(6, "bisection steps in log width", Interval(int, 0, None))
    max_steps: int = param(
        20_000, "gradient evaluations per ensemble at most", Interval(int, 0, None)
    )
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)

    def __post_init__(self):
        if "P" in self.data:
            raise InvalidOptionError("data sets P", fix="give the sizes as P_values")
        if not self.width_min < self.width_max:
            raise InvalidOptionError(
                f"width range [{self.width_min}, {self.width_max}] is empty",
                fix="use 1 <= width_min < width_max",
            )
        self.train_config(self.P_values[0], self.width_min)  # validates the rest

    def train_config(self, P: int, width: float):
        """The training run of one width at one P (all seeds: one ensemble)."""
        from symscape.train import TrainConfig

        return TrainConfig(
            dataset=self.dataset,
            data={**self.data, "P": P},
            arch=self.arch,
            depth=self.depth,
            width=float(width),
            activation=self.activation,
            dynamics="lbfgs",
            max_steps=self.max_steps,
            record_points=8,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )


def quick_configs() -> dict[str, JammingConfig]:
    """Minutes on 2 cores: random data (d = 10, P = 32 and 64) and digits parity on 10
    whitened PCA components (P = 50 and 100), 6 seeds, depth 2."""
    common = dict(seeds=tuple(range(6)), bisections=4)
    return {
        "random": JammingConfig(P_values=(32, 64), width_max=16.0, max_steps=10_000, **common),
        "digits": JammingConfig(
            dataset="digits",
            data={"labels": "parity", "pca": 10, "center": True, "sphere": True},
            P_values=(50, 100),
            width_max=32.0,
            **common,
        ),
    }


def paper_configs(root: str | None = None) -> dict[str, JammingConfig]:
    """The papers' protocols (SCIENCE.md §1): depth-5 ReLU nets on random data, MNIST parity
    on 10 whitened PCA components and CIFAR10 classes 0–4 vs 5–9, inputs centred and on the
    sphere; for a GPU or a cluster."""
    files = {"root": root} if root else {}
    common = dict(depth=5, activation="relu", width_max=256.0, bisections=8, max_steps=500_000)
    prepared = {"center": True, "sphere": True, "n_test": 1000}
    return {
        "random": JammingConfig(
            data={"d": 30, **prepared}, P_values=(1000, 2000, 4000, 8000), **common
        ),
        "mnist": JammingConfig(
            dataset="mnist",
            data={"labels": "parity", "pca": 10, **prepared, **files},
            P_values=(1000, 2000, 4000, 8000),
            **common,
        ),
        "cifar10": JammingConfig(
            dataset="cifar10",
            data={"labels": "halves", "flatten": True, **prepared, **files},
            P_values=(1000, 2000, 4000),
            **common,
        ),
    }


PROTOCOLS = {"quick": quick_configs(), "paper": paper_configs()}
