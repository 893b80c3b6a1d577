"""The stability run's config: :class:`StabilityConfig`, its protocols and their builders.

Defaults are the paper's CIFAR10 protocol (:func:`paper_config`);
:func:`quick_config` is the minutes-on-a-CPU one on digits.

>>> quick_config().dataset, paper_config().dataset
('digits', 'cifar10')
>>> sorted(PROTOCOLS)
['paper', 'quick']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from symscape.config import (
    Flag,
    Interval,
    Items,
    JsonConfig,
    Options,
    OrNone,
    Seeds,
    Table,
    Text,
    param,
)
from symscape.data import get_dataset_spec
from symscape.errors import InvalidOptionError
from symscape.measure.sensitivity import ESTIMATORS
from symscape.nets.zoo import spelled_classifier
from symscape.train.classifier import SCHEDULES
from symscape.train.config import DATASET, DEVICE, DTYPE

__all__ = ["PROTOCOLS", "StabilityConfig", "paper_config", "quick_config"]

_FORBIDDEN_DATA = ("labels", "dtype", "device", "flatten", "pca", "sphere")


_POSITIVE = Interval(float, 0, None, closed="neither")
_ZOO = (
    "fc:0.5",
    "fc:1",
    "fc:2",
    "lenet:1",
    "lenet:2",
    "lenet:4",
    "vgg:0.25",
    "vgg:0.5",
    "vgg:1",
    "vgg:2",
    "resnet18:0.125",
    "resnet18:0.25",
    "resnet18:0.5",
    "resnet18:1",
    "resnet18:2",
)


@dataclasses.dataclass(frozen=True)
class StabilityConfig(JsonConfig):
    """Everything that defines a stability run (defaults: the paper's CIFAR10 protocol)."""

    # data: a registered image data set and its options (P, n_test, image_size, root, seed)
    dataset: str = param("cifar10", "image data set", DATASET)
    data: Mapping[str, Any] = param(
        {}, "data-set options (P, n_test, image_size, root, seed)", Table()
    )
    # networks: zoo specs "name" or "name:width"; a spec in checkpoints is loaded, not trained
    architectures: tuple[str, ...] = param(
        _ZOO,
        "zoo specs: fc, lenet, vgg or resnet18, optionally :WIDTH (resnet18:0.25)",
        Items(Text("a zoo spec NAME[:WIDTH]", canonical=spelled_classifier), distinct=True),
    )
    checkpoints: Mapping[str, str] = param(
        {}, "state-dict files to measure instead of training (spec -> path)", Table()
    )
    # training
    epochs: int = param(250, "training epochs", Interval(int, 0, None))
    batch_size: int = param(128, "SGD batch size", Interval(int, 2, None))
    lr: float = param(0.1, "initial learning rate", _POSITIVE)
    momentum: float = param(0.9, "SGD momentum", Interval(float, 0, 1, closed="left"))
    weight_decay: float = param(5e-4, "weight decay", Interval(float, 0, None))
    schedule: str = param("cosine", "learning-rate schedule", Options(SCHEDULES, what="schedule"))
    crop: bool = param(False, "random-crop augmentation", Flag())
    crop_padding: int = param(4, "its padding in pixels", Interval(int, 0, None))
    flip: bool = param(True, "horizontal-flip augmentation", Flag())
    diffeo_augment: bool = param(False, "diffeo augmentation", Flag())
    diffeo_delta: float = param(1.0, "its displacement in pixels", _POSITIVE)
    seeds: tuple[int, ...] = param((0, 1, 2), "network seeds", Seeds())
    # evaluation
    n_points: int = param(500, "test points measured", Interval(int, 2, None))
    deltas: tuple[float, ...] | None = param(
        (0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
        "typical displacements in pixels",
        OrNone(Items(_POSITIVE), "temperatures instead"),
    )
    temperatures: tuple[float, ...] | None = param(
        None, "temperatures T instead of displacements", OrNone(Items(_POSITIVE), "deltas")
    )
    c: float = param(3.0, "cut-off of the deformations", Interval(float, 2, None))
    estimator: str = param(
        "median", "median (the paper's code) or mean", Options(lambda: ESTIMATORS, what="estimator")
    )
    n_bootstrap: int = param(200, "bootstrap replicates", Interval(int, 0, None))
    # numerics
    dtype: str = param("float32", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)
    threads: int = param(1, "torch threads", Interval(int, 1, None))

    def __post_init__(self):
        spec = get_dataset_spec(self.dataset)
        if spec.input_kind != "image":
            raise InvalidOptionError(
                f"dataset={self.dataset!r} has no images ({spec.input_kind} inputs)",
                fix="use digits (with image_size=28), mnist, fashion-mnist or cifar10",
            )
        for key in _FORBIDDEN_DATA:
            if key in self.data:
                raise InvalidOptionError(
                    f"data option {key!r} is set by the stability run",
                    fix=f"drop {key!r} from data (images and class labels are needed)",
                )
        spec.resolve(self.data)
        checkpoints = {
            spelled_classifier(str(k)) if isinstance(k, str) else str(k): str(v)
            for k, v in self.checkpoints.items()
        }
        stray = [k for k in checkpoints if k not in self.architectures]
        if stray:
            raise InvalidOptionError(
                f"checkpoints for {stray} not in architectures {list(self.architectures)}",
                fix="key each checkpoint by one of the architecture specs",
            )
        object.__setattr__(self, "checkpoints", checkpoints)
        if (self.deltas is None) == (self.temperatures is None):
            raise InvalidOptionError(
                "give exactly one of deltas and temperatures",
                fix="e.g. deltas=(0.5, 1, 2) and temperatures=None",
            )
        for name in ("deltas", "temperatures"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))


def quick_config(**changes: Any) -> StabilityConfig:
    """The quick protocol (digits at 28×28, four small nets, minutes on a CPU), with changes."""
    settings = dict(
        dataset="digits",
        data={"image_size": 28},
        architectures=("fc:0.5", "lenet", "vgg:0.25", "resnet18:0.125"),
        epochs=12,
        batch_size=64,
        lr=0.05,
        crop=True,
        crop_padding=2,
        flip=False,
        seeds=(0, 1, 2),
        deltas=(0.5, 1.0, 1.5, 2.0, 2.5),
    )
    return StabilityConfig(**{**settings, **changes})


def paper_config(**changes: Any) -> StabilityConfig:
    """The paper's protocol on CIFAR10 (the config's defaults), with changes."""
    return StabilityConfig(**changes)


PROTOCOLS = {"quick": {"digits": quick_config()}, "paper": {"cifar10": paper_config()}}
"""The protocols: ``quick`` (digits at 28×28, four small nets) and ``paper`` (CIFAR10)."""
