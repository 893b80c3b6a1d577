"""The stability run's config: :class:`StabilityConfig`, its protocols and their builders.

Defaults are the paper's CIFAR10 protocol (:func:`paper_config`);
:func:`quick_config` (minutes on a CPU) and :func:`medium_config` (half an
hour) measure real MNIST digits at their native 28×28 (``mnist-5k``).
Every protocol trains as the authors' code (diffeo-sota): the CNNs with SGD
(learning rate 0.1, momentum 0.9, weight decay 5·10⁻⁴ on the weights only,
cosine schedule, batch 128), the fully connected nets (``fc-ntk``, their
parametrisation) with Adam at a constant learning rate 0.1 (their code's
default, which their fully connected runs keep) and no weight decay;
deformations with the authors' cut-off (6 modes at c = 3).

>>> quick_config().dataset, medium_config().dataset, paper_config().dataset
('mnist-5k', 'mnist-5k', 'cifar10')
>>> sorted(PROTOCOLS)
['medium', 'paper', 'quick']
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
from symscape.diffeo import CUTOFFS
from symscape.errors import InvalidOptionError
from symscape.measure.sensitivity import ESTIMATORS
from symscape.nets.zoo import spelled_classifier
from symscape.train.classifier import OPTIMIZERS, SCHEDULES
from symscape.train.config import DATASET, DEVICE, DTYPE

__all__ = ["PROTOCOLS", "StabilityConfig", "medium_config", "paper_config", "quick_config"]

_FORBIDDEN_DATA = ("labels", "dtype", "device", "flatten", "pca", "sphere")


_POSITIVE = Interval(float, 0, None, closed="neither")
# batch norm at initialisation, where the running statistics are still μ = 0, σ² = 1
INIT_BATCH_NORM = ("batch", "running")
_ZOO = (
    "fc-ntk:0.125",
    "fc-ntk:0.5",
    "fc-ntk:2",
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
        "zoo specs: fc, fc-ntk, lenet, vgg or resnet18, optionally :WIDTH (resnet18:0.25)",
        Items(Text("a zoo spec NAME[:WIDTH]", canonical=spelled_classifier), distinct=True),
    )
    checkpoints: Mapping[str, str] = param(
        {}, "state-dict files to measure instead of training (spec -> path)", Table()
    )
    # training
    epochs: int = param(250, "training epochs", Interval(int, 0, None))
    batch_size: int = param(128, "batch size", Interval(int, 2, None))
    lr: float = param(0.1, "initial learning rate of the CNNs", _POSITIVE)
    momentum: float = param(0.9, "SGD momentum", Interval(float, 0, 1, closed="left"))
    weight_decay: float = param(
        5e-4,
        "weight decay of the CNNs (on weights, not on 1-D parameters)",
        Interval(float, 0, None),
    )
    schedule: str = param("cosine", "learning-rate schedule", Options(SCHEDULES, what="schedule"))
    optimizer: str = param(
        "sgd", "optimizer of the CNNs (the authors': sgd)", Options(OPTIMIZERS, what="optimizer")
    )
    fc_optimizer: str = param(
        "adam",
        "optimizer of the fully connected nets (the authors': adam)",
        Options(OPTIMIZERS, what="optimizer"),
    )
    # the authors' 0.1 (diffeo-sota main.py's default --lr; results/stability_measures.py
    # trains DenseNetL4 with --optim adam --scheduler none and no --lr) is for their
    # parametrisation, the zoo's fc-ntk; the zoo's fc (PyTorch's) needs about 1e-3
    fc_lr: float = param(
        0.1, "learning rate of the fully connected nets (the authors': 0.1, for fc-ntk)", _POSITIVE
    )
    fc_schedule: str = param(
        "constant",
        "learning-rate schedule of the fully connected nets (the authors': constant)",
        Options(SCHEDULES, what="schedule"),
    )
    fc_weight_decay: float = param(
        0.0,
        "weight decay of the fully connected nets (the authors': none)",
        Interval(float, 0, None),
    )
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
    cutoff: str = param(
        "authors",
        "modes kept: authors (√(i²+j²) < c + ½, their code) or paper (√(i²+j²) ≤ c, the prose)",
        Options(CUTOFFS, what="cut-off"),
    )
    estimator: str = param(
        "median", "median (the paper's code) or mean", Options(lambda: ESTIMATORS, what="estimator")
    )
    n_bootstrap: int = param(200, "bootstrap replicates", Interval(int, 0, None))
    init_batch_norm: str = param(
        "batch",
        "batch norm when measuring at initialisation: batch (each batch's statistics, clean, "
        "deformed and noisy images in separate batches, the authors' code) or running "
        "(running statistics of the training images)",
        Options(INIT_BATCH_NORM, what="batch-norm mode"),
    )
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


_MNIST = dict(
    dataset="mnist-5k",  # 4,000 training and 1,000 test digits at 28×28
    data={},
    batch_size=128,
    crop=True,  # shifts by up to 2 pixels; no flips (digits are not mirror-symmetric)
    crop_padding=2,
    flip=False,
    deltas=(0.5, 1.0, 1.5, 2.0, 2.5),
)


def quick_config(**changes: Any) -> StabilityConfig:
    """The quick protocol, with changes: MNIST-5k at 28×28, four small nets (the fully
    connected one of the authors' width 64, LeNet, VGG and ResNet-18 at widths 1/4 and
    1/8), three seeds, 10 epochs; minutes on a CPU."""
    settings = dict(
        _MNIST,
        architectures=("fc-ntk:0.125", "lenet", "vgg:0.25", "resnet18:0.125"),
        epochs=10,
        seeds=(0, 1, 2),
    )
    return StabilityConfig(**{**settings, **changes})


def medium_config(**changes: Any) -> StabilityConfig:
    """The medium protocol, with changes: MNIST-5k at 28×28, six architectures (two fully
    connected, LeNet, VGG at two widths, ResNet-18), five seeds, 30 epochs; about 20
    minutes of one core."""
    settings = dict(
        _MNIST,
        architectures=(
            "fc-ntk:0.125",
            "fc-ntk:0.5",
            "lenet",
            "vgg:0.125",
            "vgg:0.25",
            "resnet18:0.125",
        ),
        epochs=30,
        seeds=(0, 1, 2, 3, 4),
    )
    return StabilityConfig(**{**settings, **changes})


def paper_config(**changes: Any) -> StabilityConfig:
    """The paper's protocol on CIFAR10 (the config's defaults), with changes."""
    return StabilityConfig(**changes)


PROTOCOLS = {
    "quick": {"mnist-5k": quick_config()},
    "medium": {"mnist-5k": medium_config()},
    "paper": {"cifar10": paper_config()},
}
"""The protocols: ``quick`` (MNIST-5k, four small nets), ``medium`` (MNIST-5k, six nets,
five seeds) and ``paper`` (CIFAR10)."""
