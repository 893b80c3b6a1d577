"""Shared fixtures: small data files written in exactly the distribution formats."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import struct
from importlib.metadata import requires
from pathlib import Path

import numpy as np
import pytest

from symscape.runtime import torch_threads

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array, written from the format's definition."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def fake_mnist_arrays(n_train: int = 30, n_test: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train_labels": np.arange(n_train) % 10,
        "test_labels": (np.arange(n_test) * 3) % 10,
    }
    # each image encodes its label in pixel (0, 0) and its index in pixel (0, 1)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = arrays[f"{split}_labels"] * 20
        images[:, 0, 1] = np.arange(n)
        arrays[f"{split}_images"] = images
    return arrays


def write_mnist(folder: Path, gz: bool = False, **kwargs) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = fake_mnist_arrays(**kwargs)
    for key, name in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def write_cifar(folder: Path, per_batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Six python batches (protocol 2, bytes keys) as in cifar-10-batches-py."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": lab,
            b"data": data,
            b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
        images.append(data)
        labels.append(np.array(lab))
    return {
        "train_images": np.concatenate(images[:5]),
        "train_labels": np.concatenate(labels[:5]),
        "test_images": images[5],
        "test_labels": labels[5],
    }


@pytest.fixture
def mnist_root(tmp_path):
    arrays = write_mnist(tmp_path / "mnist")
    return tmp_path, arrays


@pytest.fixture
def cifar_root(tmp_path):
    arrays = write_cifar(tmp_path / "cifar-10-batches-py")
    return tmp_path, arrays


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test runs on one torch thread, as symscape's runs do: on these small tensors
    two threads fighting over a 2-core machine are slower than one, and results stay
    bit-for-bit the same whatever the machine's core count."""
    with torch_threads(1):
        yield


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch):
    """Tests never see the developer's own $SYMSCAPE_DATA."""
    monkeypatch.delenv("SYMSCAPE_DATA", raising=False)


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def required_distributions(extras: str) -> set[str]:
    """symscape's own dependencies and those of ``extras`` (comma-separated), normalised."""
    wanted = {_name(e) for e in extras.split(",") if e.strip()}
    out = set()
    for requirement in requires("symscape") or []:
        name = _name(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", requirement)
        if extra is None or _name(extra[1]) in wanted:
            out.add(name)
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``SYMSCAPE_REQUIRE_EXTRAS=test,ray,...`` (CI), a test skipped because a module
    of those extras (or of symscape itself) cannot be imported fails instead: a dependency
    that the test command installs must not silently remove tests."""
    outcome = yield
    report = outcome.get_result()
    extras = os.environ.get("SYMSCAPE_REQUIRE_EXTRAS")
    if not extras or not report.skipped or not isinstance(report.longrepr, tuple):
        return
    missing = re.search(r"could not import '([^']+)'", str(report.longrepr[2]))
    if missing and _name(missing[1].split(".")[0]) in required_distributions(extras):
        report.outcome = "failed"
        report.longrepr = (
            f"{missing[1]} is a dependency of symscape[{extras}] but cannot be imported "
            "(SYMSCAPE_REQUIRE_EXTRAS is set): install it, do not skip"
        )
