"""Real data sets read from a local folder, in their standard distribution formats.

The folder is the ``root`` option, else the ``SYMSCAPE_DATA`` environment
variable. symscape never downloads: put the files there yourself.

=============== ============================================ ===============================
data set        files (each may also end in ``.gz``)          looked for in
=============== ============================================ ===============================
``mnist``       ``train-images-idx3-ubyte``,                  ``root``, ``root/mnist``,
                ``train-labels-idx1-ubyte``,                  ``root/MNIST/raw``
                ``t10k-images-idx3-ubyte``,
                ``t10k-labels-idx1-ubyte``
``fashion-mnist`` the same four names                         ``root/fashion-mnist``,
                                                              ``root/FashionMNIST/raw``
``cifar10``     ``data_batch_1`` … ``data_batch_5``,          ``root/cifar-10-batches-py``,
                ``test_batch`` (python pickle batches)        ``root``
=============== ============================================ ===============================
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symscape.data.formats import read_cifar_batch, read_idx
from symscape.data.options import Option
from symscape.data.registry import DatasetSpec, Pools, register_dataset
from symscape.errors import DataFormatError, DataNotFoundError

__all__ = ["DATA_ENV", "cifar10_pools", "data_root", "find_folder", "idx_pools"]

DATA_ENV = "SYMSCAPE_DATA"
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
FOLDERS = {
    "mnist": (".", "mnist", "MNIST/raw"),
    "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw"),
    "cifar10": ("cifar-10-batches-py", "."),
}


def data_root(root: str | os.PathLike | None, name: str) -> Path:
    """The data folder: ``root`` if given, else ``$SYMSCAPE_DATA``."""
    if root is None:
        root = os.environ.get(DATA_ENV) or None
    if root is None:
        raise DataNotFoundError(
            f"{name} is read from a local folder and none was given",
            fix=f"pass root=FOLDER (--root on the command line) or set {DATA_ENV}=FOLDER",
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(
            f"data folder {path} does not exist (needed for {name})",
            fix=f"create it and put the {name} files there, or fix root/{DATA_ENV}",
        )
    return path


def _present(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_folder(root: Path, name: str, files: Sequence[str]) -> dict[str, Path]:
    """The first of the data set's folders under ``root`` that holds every file."""
    tried = [root / sub for sub in FOLDERS[name]]
    for folder in tried:
        found = {stem: _present(folder, stem) for stem in files}
        if all(found.values()):
            return found
    partial = [f for f in tried if f.is_dir() and any(_present(f, s) for s in files)]
    if partial:
        missing = [s for s in files if _present(partial[0], s) is None]
        raise DataNotFoundError(
            f"{name}: {partial[0]} lacks {', '.join(missing)}",
            fix=f"put all of {', '.join(files)} (or .gz) in that folder",
        )
    raise DataNotFoundError(
        f"{name} files not found; looked in {', '.join(str(f) for f in tried)}",
        fix=f"put {', '.join(files)} (each may end in .gz) in one of them",
    )


def _stamp(paths: Mapping[str, Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths.values())


def idx_pools(root: Path, name: str) -> Pools:
    """The train and test pools of an IDX data set (MNIST or Fashion-MNIST) under ``root``."""
    paths = find_folder(root, name, IDX_FILES)
    return _idx_pools_cached(name, _stamp(paths))


@functools.lru_cache(maxsize=2)
def _idx_pools_cached(name: str, stamp: tuple) -> Pools:
    paths = [Path(entry[0]) for entry in stamp]
    arrays = []
    for path, kind in zip(paths, ("images", "labels") * 2, strict=True):
        a = read_idx(path)
        if kind == "images" and (a.ndim != 3 or a.dtype != np.uint8):
            raise DataFormatError(
                f"{path} holds {a.dtype} of shape {a.shape}, "
                "expected uint8 images [n, rows, columns]",
                fix="check that the images and labels files are not swapped",
            )
        if kind == "labels" and (a.ndim != 1 or (a.size and int(a.max()) > 9)):
            raise DataFormatError(
                f"{path} holds shape {a.shape} with values up to "
                f"{int(a.max()) if a.size else 0}, expected labels 0-9 [n]",
                fix="check that the images and labels files are not swapped",
            )
        arrays.append(a)
    for images, labels, path in (
        (arrays[0], arrays[1], paths[1]),
        (arrays[2], arrays[3], paths[3]),
    ):
        if len(images) != len(labels):
            raise DataFormatError(
                f"{path} has {len(labels)} labels for {len(images)} images",
                fix="the images and labels files come from different releases",
            )
    return Pools(
        x_train=arrays[0][:, None],
        c_train=arrays[1].astype(np.int64),
        x_test=arrays[2][:, None],
        c_test=arrays[3].astype(np.int64),
        scale=1.0 / 255.0,
    )


def cifar10_pools(root: Path) -> Pools:
    """The 50,000 + 10,000 CIFAR-10 images under ``root``."""
    paths = find_folder(root, "cifar10", CIFAR_FILES)
    return _cifar_pools_cached(_stamp(paths))


@functools.lru_cache(maxsize=1)
def _cifar_pools_cached(stamp: tuple) -> Pools:
    batches = [read_cifar_batch(Path(entry[0])) for entry in stamp]
    for (_, labels), entry in zip(batches, stamp, strict=True):
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataFormatError(f"{entry[0]} has labels outside 0-9", fix="download it again")
    x_train = np.concatenate([b[0] for b in batches[:5]])
    c_train = np.concatenate([b[1] for b in batches[:5]])
    return Pools(
        x_train=x_train,
        c_train=c_train,
        x_test=batches[5][0],
        c_test=batches[5][1],
        scale=1.0 / 255.0,
    )


_ROOT = Option("root", str, None, f"data folder (default: ${DATA_ENV})", nullable=True)


def _idx_spec(name: str, description: str, source: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        kind="files",
        input_kind="image",
        num_classes=10,
        description=description,
        source=source,
        size="60000 + 10000",
        make=lambda opts: idx_pools(data_root(opts["root"], name), name),
        input_shape=lambda opts: (1, 28, 28),
        options=(_ROOT,),
    )


register_dataset(
    _idx_spec("mnist", "MNIST handwritten digits, 28x28", f"IDX files in root or ${DATA_ENV}")
)
register_dataset(
    _idx_spec("fashion-mnist", "Fashion-MNIST clothes, 28x28", f"IDX files in root or ${DATA_ENV}")
)


def _cifar10(opts: Mapping[str, Any]) -> Pools:
    return cifar10_pools(data_root(opts["root"], "cifar10"))


register_dataset(
    DatasetSpec(
        name="cifar10",
        kind="files",
        input_kind="image",
        num_classes=10,
        description="CIFAR-10 colour images, 32x32",
        source=f"python batches in root or ${DATA_ENV}",
        size="50000 + 10000",
        make=_cifar10,
        input_shape=lambda opts: (3, 32, 32),
        options=(_ROOT,),
    )
)
