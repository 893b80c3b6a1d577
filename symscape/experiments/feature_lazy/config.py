"""The feature-vs-lazy config: one α × width grid, and the named protocols.

>>> FeatureLazyConfig(widths=(8.0, 16.0), alphas=(0.1, 10.0), seeds=(0, 1)).train_config(
...     8.0, 0.1).kernel_points
64
>>> sorted(PROTOCOLS["quick"]), sorted(PROTOCOLS["medium"])
(['mnist'], ['mnist'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.config import Flag, Interval, Items, JsonConfig, Options, Seeds, Table, param
from symscape.experiments._protocols import protocol_cases
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE
from symscape.train.losses import LOSSES

__all__ = ["PROTOCOLS", "REPORTED", "FeatureLazyConfig", "feature_lazy_configs"]

REPORTED = {
    "alpha_star_exponent": -0.5,
    "output_variance_slope": -1.0,
    "test_error_range": [0.055, 0.16],  # the Perspective paper's plane, MNIST parity, P = 5000
    "test_error_P": 5000,
}
_POSITIVE = Interval(float, 0, None, closed="neither")


@dataclasses.dataclass(frozen=True)
class FeatureLazyConfig(JsonConfig):
    """An α × width sweep (defaults: the quick protocol on the stripe model)."""

    dataset: str = param("stripe", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"P": 256, "n_test": 2000, "d": 10}, "data-set options", Table()
    )
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    loss: str = param("soft_hinge", "loss function", Options(lambda: LOSSES, what="loss"))
    widths: tuple[float, ...] = param(
        (4.0, 8.0, 16.0, 32.0, 64.0),
        "widths h (fractional widths allowed)",
        Items(_POSITIVE, distinct=True, sort=True),
    )
    alphas: tuple[float, ...] = param(
        (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
        "α values (the article's convention)",
        Items(_POSITIVE, at_least=2, distinct=True, sort=True,
              why="need at least two distinct values, e.g. 0.01,0.1,1,10,100"),
    )  # fmt: skip
    seeds: tuple[int, ...] = param(
        (0, 1, 2, 3),
        "seeds per (h, α): one ensemble",
        Seeds(at_least=2, why="variances and ensemble averages need several seeds"),
    )
    max_steps: int = param(5000, "steps at most per ensemble", Interval(int, 0, None))
    kernel_points: int = param(
        64, "training points on which the NTK's change is measured", Interval(int, 1, None)
    )
    kernel_threshold: float = param(
        1.0, "α* is where the kernel change crosses this value", _POSITIVE
    )
    lazy_reference: bool = param(
        True, "also train the frozen-kernel flow (α → ∞) of every width and seed", Flag()
    )
    jamming: bool = param(
        True, "locate the jamming line at each α from the grid's cells (same flow)", Flag()
    )
    fit_from: float = param(
        2.0, "fit α*(h) on widths h >= FIT_FROM x the widest jammed width", _POSITIVE
    )
    n_bootstrap: int = param(1000, "bootstrap replicates of the intervals", Interval(int, 0, None))
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(float(w) for w in self.widths))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        for width in self.widths:  # validates data set, architecture, every width and α
            self.train_config(width, self.alphas[0])
        self.train_config(self.widths[0], self.alphas[-1])

    def train_config(self, width: float, alpha: float, dynamics: str = "flow"):
        from symscape.train import TrainConfig

        return TrainConfig(
            dataset=self.dataset,
            data=self.data,
            arch=self.arch,
            depth=self.depth,
            width=float(width),
            activation=self.activation,
            loss=self.loss,
            alpha=float(alpha) if dynamics == "flow" else 1.0,
            dynamics=dynamics,
            max_steps=self.max_steps,
            kernel_points=self.kernel_points,
            record_points=16,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )

    def specs(self) -> list:
        """The network sweep (width × α × seeds) and, if asked, the frozen-kernel flows."""
        from symscape.sweep import SweepSpec

        fixed = self.train_config(self.widths[0], self.alphas[0]).to_dict()
        for name in ("seeds", "width", "alpha"):
            fixed.pop(name)
        grid = {"width": list(self.widths), "alpha": list(self.alphas)}
        specs = [SweepSpec("train", "feature-lazy", fixed, grid, (), self.seeds)]
        if self.lazy_reference:
            lazy = self.train_config(self.widths[0], 1.0, "kernel_flow").to_dict()
            for name in ("seeds", "width"):
                lazy.pop(name)
            specs.append(
                SweepSpec(
                    "train",
                    "feature-lazy-kernel",
                    lazy,
                    {"width": list(self.widths)},
                    (),
                    self.seeds,
                )
            )
        return specs


def _protocols() -> dict[str, dict[str, FeatureLazyConfig]]:
    # the Perspective paper's task: MNIST parity on 10 whitened PCA components, L = 2,
    # swish β = 10, soft hinge β = 20 (its P = 5000; mnist-5k holds 4,000 training digits)
    parity = {"labels": "parity", "pca": 10, "center": True, "sphere": True}
    perspective = dict(depth=2, activation="swish10", loss="soft_hinge")
    mnist = {"P": 10_000, "n_test": 10_000, "labels": "parity"}
    cifar = {"P": 10_000, "n_test": 10_000, "labels": "halves"}
    alphas = tuple(float(10**e) for e in np.arange(-3.0, 4.01, 0.5))
    common = dict(alphas=alphas, seeds=tuple(range(10)), max_steps=200_000, kernel_points=256)
    return {
        "quick": {
            "mnist": FeatureLazyConfig(
                dataset="mnist-5k",
                data={"P": 256, "n_test": 1000, **parity},
                widths=(2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0),
                alphas=(0.1, 1.0, 3.0, 10.0, 30.0, 100.0),
                seeds=(0, 1, 2, 3),
                max_steps=8000,
                **perspective,
            ),
        },
        "medium": {
            "mnist": FeatureLazyConfig(
                dataset="mnist-5k",
                data={"P": 256, "n_test": 1000, **parity},
                # up to h = 256: the trends by the start of the fit range need three or more
                # widths past h = 64, where α* and the variance approach their laws
                widths=(4.0, 8.0, 11.3, 16.0, 22.6, 32.0, 45.3, 64.0, 90.5, 128.0, 181.0, 256.0),
                # α = 0.3: from h ≈ 100 on, α* < 1 and the crossing would otherwise be
                # interpolated across the decade 0.1–1
                alphas=(0.1, 0.3, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 100.0),
                seeds=tuple(range(10)),
                max_steps=12_000,
                **perspective,
            ),
        },
        "paper": {
            "mnist_parity": FeatureLazyConfig(
                dataset="mnist",
                data={"P": 5000, "n_test": 10_000, **parity},
                widths=(10.0, 30.0, 100.0, 300.0, 1000.0),
                **perspective,
                **common,
            ),
            "mnist_fc": FeatureLazyConfig(
                dataset="mnist",
                data=mnist,
                depth=3,
                activation="relu",
                widths=(100.0, 300.0, 1000.0, 3000.0),
                **common,
            ),
            "cifar10_cnn": FeatureLazyConfig(
                dataset="cifar10",
                data=cifar,
                arch="cnn",
                depth=5,
                activation="relu",
                widths=(16.0, 32.0, 64.0, 128.0),
                **common,
            ),
        },
    }


PROTOCOLS = _protocols()
"""The protocols, each case one phase diagram: ``quick`` and ``medium`` (MNIST-5k parity
on 10 whitened PCA components, the Perspective paper's task at P = 256) and
``paper`` (the Perspective protocol at P = 5000; MNIST with deeper fully connected nets,
CIFAR10 with CNNs)."""


def feature_lazy_configs(
    scale: str, root: str | None = None
) -> list[tuple[str, FeatureLazyConfig]]:
    """The cases of protocol ``scale`` as ``(feature_lazy_<case>, config)`` pairs."""
    cases = protocol_cases(PROTOCOLS, scale, "feature vs lazy", root)
    return [(f"feature_lazy_{case}", config) for case, config in cases.items()]
