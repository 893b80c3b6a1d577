"""The data-set registry and :func:`load`, the one entry point to every data set.

A data set is a :class:`DatasetSpec`: where its points come from (a finite
:class:`Pools` of points, or a :class:`Stream` that generates them), its own
options, and its description. :func:`load` validates every option, chooses
the points with the seed (see :mod:`symscape.data.sampling`), labels them,
applies the transforms (see :mod:`symscape.data.transforms`) and returns a
:class:`~symscape.data.dataset.Dataset`.

>>> from symscape.data import load
>>> ds = load("stripe", P=100, n_test=50, d=5, seed=1)
>>> ds.x_train.shape, ds.y_train.shape, ds.labels
(torch.Size([100, 5]), torch.Size([100]), 'binary')
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from symscape.data import sampling, transforms
from symscape.data.dataset import Dataset
from symscape.data.options import Option
from symscape.errors import InvalidOptionError
from symscape.validation import choose

__all__ = [
    "COMMON_OPTIONS",
    "IMAGE_OPTIONS",
    "DatasetSpec",
    "Pools",
    "Stream",
    "get_dataset_spec",
    "list_datasets",
    "load",
    "register_dataset",
]


@dataclasses.dataclass(frozen=True)
class Pools:
    """Finite data as numpy arrays: inputs (``x * scale`` gives floats) and class indices.

    When ``x_test`` is ``None`` the data set has no fixed test set: test
    points are drawn from the same pool, disjoint from the training points.
    """

    x_train: np.ndarray
    c_train: np.ndarray
    x_test: np.ndarray | None = None
    c_test: np.ndarray | None = None
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Stream:
    """Generated data: ``draw(split, n)`` returns the first ``n`` points of a split.

    ``draw`` must be prefix-consistent: the first ``n`` points of
    ``draw(split, m)`` for ``m > n`` equal ``draw(split, n)``.
    """

    draw: Callable[[str, int], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How to build one data set.

    ``make(options) -> Pools | Stream`` gets the validated options;
    ``input_shape(options)`` is the shape of a raw input.
    """

    name: str
    kind: str  # "synthetic", "embedded" or "files"
    input_kind: str  # "vector", "image" or "signal"
    num_classes: int
    description: str
    source: str
    size: str
    make: Callable[[Mapping[str, Any]], Pools | Stream]
    input_shape: Callable[[Mapping[str, Any]], tuple[int, ...]]
    options: tuple[Option, ...] = ()
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def all_options(self) -> dict[str, Option]:
        """Every option this data set takes, with this data set's defaults."""
        shared = COMMON_OPTIONS + (IMAGE_OPTIONS if self.input_kind == "image" else ())
        out = {}
        for option in shared + self.options:
            if option.name in self.defaults:
                option = dataclasses.replace(option, default=self.defaults[option.name])
            out[option.name] = option
        return out

    def resolve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``options`` and fill in the defaults; typed values (dtype, device)."""
        known = self.all_options()
        unknown = [key for key in options if key not in known]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InvalidOptionError(
                f"data set {self.name!r} has no option {key!r}",
                fix=f"{hint}its options are: {', '.join(known)}",
            )
        return {name: opt.parse(options.get(name, opt.default)) for name, opt in known.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, torch.device):
        return str(value)
    return value


COMMON_OPTIONS: tuple[Option, ...] = (
    Option(
        "P", int, None, "training points (none: all the data set has)", minimum=1, nullable=True
    ),
    Option(
        "n_test", int, None, "test points (none: all the data set has)", minimum=1, nullable=True
    ),
    Option("seed", int, 0, "seed of the choice of points (and of generated data)", minimum=0),
    Option(
        "labels",
        str,
        "multiclass",
        "labeling: binary (two-class data), parity (class mod 2), "
        "halves (classes 0-4 vs 5-9), multiclass",
        choices=sampling.LABELINGS,
    ),
    Option("balance", bool, False, "the same number of points for every label"),
    Option(
        "pca",
        int,
        None,
        "keep the first k whitened PCA components (fitted on train)",
        minimum=1,
        nullable=True,
    ),
    Option("center", bool, False, "subtract the training mean"),
    Option("sphere", bool, False, "rescale each input to norm sqrt(d)"),
    Option("dtype", "dtype", "float32", "floating dtype of the tensors"),
    Option("device", "device", "cpu", "device of the tensors"),
)
IMAGE_OPTIONS: tuple[Option, ...] = (
    Option(
        "image_size", int, None, "resample images to this size (bilinear)", minimum=1, nullable=True
    ),
    Option("flatten", bool, False, "flatten images to vectors"),
)

_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set to the registry (its name must be new)."""
    if spec.name in _REGISTRY:
        raise InvalidOptionError(
            f"a data set named {spec.name!r} is already registered", fix="choose another name"
        )
    _REGISTRY[spec.name] = spec
    return spec


_KIND_ORDER = {"synthetic": 0, "embedded": 1, "files": 2}


def list_datasets() -> list[DatasetSpec]:
    """Every registered data set: synthetic, then embedded, then on disk (then others)."""
    return sorted(_REGISTRY.values(), key=lambda spec: _KIND_ORDER.get(spec.kind, 3))


def dataset_names() -> tuple[str, ...]:
    """The names of every registered data set, in the order of :func:`list_datasets`."""
    return tuple(spec.name for spec in list_datasets())


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec of data set ``name`` (``fashion_mnist`` names ``fashion-mnist`` too: see
    :func:`symscape.validation.choose`); an unknown name lists the known ones."""
    return _REGISTRY[choose(name, dataset_names(), "data set")]


def load(name: str, **options: Any) -> Dataset:
    """Load data set ``name`` with ``options`` (see ``symscape data list`` and each spec).

    Every data set takes ``P``, ``n_test``, ``seed``, ``labels``, ``balance``,
    ``pca``, ``center``, ``sphere``, ``dtype`` and ``device``; image data sets
    also ``image_size`` and ``flatten``; some have their own (``d`` for the
    synthetic ones, ``root`` for the ones read from disk).
    """
    spec = get_dataset_spec(name)
    opts = spec.resolve(options)
    source = spec.make(opts)
    x_train, c_train, x_test, c_test = _select(spec, source, opts)
    y_train = sampling.label_values(c_train, opts["labels"], spec.num_classes)
    y_test = sampling.label_values(c_test, opts["labels"], spec.num_classes)

    xtr = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float64))
    xte = torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float64))
    input_kind = spec.input_kind
    if input_kind == "image" and opts["image_size"] is not None:
        xtr, xte = (
            transforms.resize(xtr, opts["image_size"]),
            transforms.resize(xte, opts["image_size"]),
        )
    if input_kind == "image" and (opts["flatten"] or opts["pca"] is not None):
        xtr, xte = transforms.flatten(xtr), transforms.flatten(xte)
        input_kind = "vector"
    if opts["pca"] is not None:
        xtr, xte = transforms.pca_whiten(xtr, xte, opts["pca"])
        input_kind = "vector"
    if opts["center"]:
        xtr, xte = transforms.center(xtr, xte)
    if opts["sphere"]:
        xtr, xte = transforms.sphere(xtr), transforms.sphere(xte)

    dtype, device = opts["dtype"], opts["device"]
    label_dtype = torch.int64 if opts["labels"] == "multiclass" else dtype
    return Dataset(
        name=name,
        x_train=xtr.to(device=device, dtype=dtype),
        y_train=torch.from_numpy(y_train).to(device=device, dtype=label_dtype),
        x_test=xte.to(device=device, dtype=dtype),
        y_test=torch.from_numpy(y_test).to(device=device, dtype=label_dtype),
        labels=opts["labels"],
        num_classes=spec.num_classes if opts["labels"] == "multiclass" else 2,
        input_kind=input_kind,
        options={key: _jsonable(value) for key, value in opts.items()},
    )


def _select(spec: DatasetSpec, source: Pools | Stream, opts: Mapping[str, Any]):
    """Choose the training and test points: ``(x_train, c_train, x_test, c_test)``."""
    seed, balance, P, n_test = opts["seed"], opts["balance"], opts["P"], opts["n_test"]

    def labels_of(classes):
        return sampling.label_values(classes, opts["labels"], spec.num_classes)

    if isinstance(source, Stream):
        if P is None or n_test is None:
            raise InvalidOptionError(
                f"{spec.name!r} generates its points: P and n_test cannot be none",
                fix="give numbers, e.g. P=1000 n_test=1000",
            )
        x_train, c_train = _draw(source, "train", P, balance, labels_of)
        x_test, c_test = _draw(source, "test", n_test, balance, labels_of)
        return x_train, c_train, x_test, c_test

    if source.x_test is None:  # one pool: test points first, from the end of one permutation
        if n_test is None:
            raise InvalidOptionError(
                f"{spec.name!r} has no fixed test set, so n_test cannot be none (all)",
                fix="give a number of test points, e.g. n_test=500",
            )
        order = sampling.rng(seed, "split").permutation(len(source.c_train))
        labels = labels_of(source.c_train)
        where = f"in {spec.name}'s {len(order)} points"
        test_idx = sampling.choose(labels, n_test, order[::-1], balance, what="n_test", where=where)
        where = f"in {spec.name} once n_test={len(test_idx)} points are held out for testing"
        train_idx = sampling.choose(
            labels, P, order, balance, what="P", where=where, exclude=test_idx
        )
        return (
            source.x_train[train_idx] * source.scale,
            source.c_train[train_idx],
            source.x_train[test_idx] * source.scale,
            source.c_train[test_idx],
        )

    picked = []
    for split, n, x, c in (
        ("train", P, source.x_train, source.c_train),
        ("test", n_test, source.x_test, source.c_test),
    ):
        order = sampling.rng(seed, split).permutation(len(c))
        idx = sampling.choose(
            labels_of(c),
            n,
            order,
            balance,
            what="P" if split == "train" else "n_test",
            where=f"in {spec.name}'s {split} set",
        )
        picked += [x[idx] * source.scale, c[idx]]
    return tuple(picked)


def _draw(source: Stream, split: str, n: int, balance: bool, labels_of):
    if not balance:
        return source.draw(split, n)
    m = 2 * n + 64
    while True:
        x, c = source.draw(split, m)
        labels = labels_of(c)
        try:
            idx = sampling.choose(labels, n, np.arange(m), True, what="P", where="generated")
            return x[idx], c[idx]
        except InvalidOptionError:
            if m > 64 * n + 4096:
                raise InvalidOptionError(
                    f"balance=True: the generator gives too few points of one label in {m} draws",
                    fix="use balance=False for this data set",
                ) from None
            m *= 4
