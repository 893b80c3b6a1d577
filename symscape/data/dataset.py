"""The :class:`Dataset` every loader returns: train and test tensors plus what made them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["Dataset"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split as tensors, with the options that produced it.

    Attributes
    ----------
    name:
        Registry name of the data set (``"digits"``, ``"random"``, ...).
    x_train, x_test:
        Inputs, ``[P, *input_shape]`` and ``[n_test, *input_shape]``.
    y_train, y_test:
        Labels. For binary labelings (``binary``, ``parity``, ``halves``) they
        are ``±1`` in the inputs' floating dtype, so that ``y * f(x)`` is the
        margin; for ``multiclass`` they are ``int64`` class indices.
    labels:
        The labeling: ``"binary"``, ``"parity"``, ``"halves"`` or ``"multiclass"``.
    num_classes:
        2 for binary labelings, the number of classes otherwise.
    input_kind:
        ``"vector"``, ``"image"`` (``[C, H, W]``) or ``"signal"`` (1-d sequence),
        after the transforms (flattening or PCA makes images vectors).
    options:
        The fully resolved options (defaults included) given to
        :func:`symscape.data.load`: JSON-able, so ``load(name, **options)``
        rebuilds the same data.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    labels: str
    num_classes: int
    input_kind: str
    options: Mapping[str, Any]

    @property
    def P(self) -> int:
        """Number of training points."""
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        """Number of test points."""
        return self.x_test.shape[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input."""
        return tuple(self.x_train.shape[1:])

    @property
    def d(self) -> int:
        """Input dimension: the number of scalars in one input."""
        return math.prod(self.input_shape)

    @property
    def binary(self) -> bool:
        """True when labels are ``±1`` (a margin ``y f(x)`` makes sense)."""
        return self.labels != "multiclass"

    def class_counts(self, split: str = "train") -> dict[int, int]:
        """Number of points per label value in ``split`` (``"train"`` or ``"test"``)."""
        if split not in ("train", "test"):
            from symscape.errors import InvalidOptionError

            raise InvalidOptionError(f"split={split!r} is not a split", fix="use 'train' or 'test'")
        y = self.y_train if split == "train" else self.y_test
        values, counts = torch.unique(y.to("cpu"), return_counts=True)
        return {int(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        """A copy on another device and/or floating dtype (labels follow where they must)."""
        xs = {}
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}").to(device=device, dtype=dtype)
            y = getattr(self, f"y_{split}")
            y = y.to(device=device, dtype=x.dtype if self.binary else None)
            xs[f"x_{split}"], xs[f"y_{split}"] = x, y
        options = dict(self.options)
        if device is not None:
            options["device"] = str(torch.device(device))
        if dtype is not None:
            options["dtype"] = str(dtype).removeprefix("torch.")
        return dataclasses.replace(self, options=options, **xs)

    def summary(self) -> dict[str, Any]:
        """A JSON-able description: shapes, labels, class balance, input statistics."""
        x = self.x_train.detach().to("cpu", torch.float64)
        norms = x.reshape(len(x), -1).norm(dim=1) if len(x) else torch.zeros(1)
        return {
            "name": self.name,
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "d": self.d,
            "P": self.P,
            "n_test": self.n_test,
            "labels": self.labels,
            "num_classes": self.num_classes,
            "class_counts_train": {str(k): v for k, v in self.class_counts("train").items()},
            "class_counts_test": {str(k): v for k, v in self.class_counts("test").items()},
            "x_mean": float(x.mean()) if x.numel() else 0.0,
            "x_std": float(x.std()) if x.numel() > 1 else 0.0,
            "x_norm_mean": float(norms.mean()),
            "dtype": str(self.x_train.dtype).removeprefix("torch."),
            "device": str(self.x_train.device),
            "options": dict(self.options),
        }

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, P={self.P}, n_test={self.n_test}, "
            f"input_shape={self.input_shape}, labels={self.labels!r}, "
            f"dtype={str(self.x_train.dtype).removeprefix('torch.')})"
        )
