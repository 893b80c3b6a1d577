"""The embedded data sets: right labels, no network, no side effects."""

import random
import socket

import numpy as np
import pytest
import torch

from symscape.data import load, packaged


def _known_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return {
        img.astype(np.uint8).tobytes(): int(t)
        for img, t in zip(bunch.images, bunch.target, strict=True)
    }


def test_digits_parity_and_halves_match_sklearn_targets():
    known = _known_digits()
    multi = load("digits", P=300, n_test=50, seed=7, dtype="float64")
    parity = load("digits", P=300, n_test=50, seed=7, labels="parity", dtype="float64")
    halves = load("digits", P=300, n_test=50, seed=7, labels="halves", dtype="float64")
    for i in range(multi.P):
        pixels = np.rint(multi.x_train[i, 0].numpy() * 16).astype(np.uint8).tobytes()
        digit = known[pixels]  # the image really is a digit of this class
        assert int(multi.y_train[i]) == digit
        assert float(parity.y_train[i]) == (1.0 if digit % 2 == 1 else -1.0)
        assert float(halves.y_train[i]) == (1.0 if digit >= 5 else -1.0)


def test_parity_on_known_classes():
    ds = load("digits", P=200, n_test=50, seed=0, labels="multiclass")
    par = load("digits", P=200, n_test=50, seed=0, labels="parity")
    table = {0: -1, 1: 1, 2: -1, 3: 1, 4: -1, 5: 1, 6: -1, 7: 1, 8: -1, 9: 1}
    assert all(table[int(c)] == int(y) for c, y in zip(ds.y_train, par.y_train, strict=True))


def test_mnist1d_matches_the_generator_and_restores_global_rng():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    packaged.mnist1d_pools.cache_clear()
    ds = load("mnist1d", P=50, n_test=20, dtype="float64")
    assert (np.random.random(), random.random()) == (expected_np, expected_py)
    assert ds.input_shape == (40,) and ds.num_classes == 10
    pools = packaged.mnist1d_pools(5000)
    assert pools.x_train.shape == (4000, 40) and pools.x_test.shape == (1000, 40)
    assert set(np.unique(pools.c_train)) == set(range(10))
    # every chosen point is a point of the generator's training split
    rows = {r.tobytes() for r in pools.x_train}
    assert all(r.numpy().tobytes() in rows for r in ds.x_train)


def test_mnist1d_more_samples():
    ds = load("mnist1d", P=4400, n_test=100, samples=6000)
    assert ds.P == 4400


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.mark.parametrize("name", ["random", "teacher", "stripe", "digits", "mnist1d", "mnist-5k"])
def test_embedded_data_opens_no_network_connection(name, no_network):
    packaged.digits_pools.cache_clear()
    packaged.mnist1d_pools.cache_clear()
    packaged.mnist_5k_pools.cache_clear()
    ds = load(name, P=20, n_test=10)
    assert ds.P == 20
    assert no_network == []
    assert torch.isfinite(ds.x_train).all()


# --------------------------------------------------------------------------- mnist-5k
def _mnist_5k_file_read_by_pandas():
    import importlib.resources

    import pandas as pd

    package, path = packaged.MNIST_5K_FILE
    with importlib.resources.as_file(importlib.resources.files(package).joinpath(path)) as f:
        return pd.read_csv(f, header=None).to_numpy()


def test_mnist_5k_split_is_fixed_class_balanced_and_equals_the_file():
    table = _mnist_5k_file_read_by_pandas()
    assert table.shape == (5000, 785)
    pools = packaged.mnist_5k_pools()
    assert np.bincount(pools.c_train).tolist() == [400] * 10
    assert np.bincount(pools.c_test).tolist() == [100] * 10
    # rows are sorted by label; within a class every fifth row (4, 9, ...) is a test image
    test_rows = np.concatenate([np.arange(500 * c + 4, 500 * (c + 1), 5) for c in range(10)])
    train_rows = np.setdiff1d(np.arange(5000), test_rows)
    np.testing.assert_array_equal(pools.x_test.reshape(1000, 784), table[test_rows, :784])
    np.testing.assert_array_equal(pools.x_train.reshape(4000, 784), table[train_rows, :784])
    np.testing.assert_array_equal(pools.c_test, table[test_rows, 784])
    # known images: the file's first row (a 0) and its fifth (the first test image, a 0)
    assert int(pools.x_train[0].sum()) == 31095
    assert int(pools.x_test[0].sum()) == 45543
    assert pools.x_train.shape[1:] == (1, 28, 28)


def test_mnist_5k_loads_nested_in_P_with_the_papers_options():
    small = load("mnist-5k", P=100, seed=3)
    large = load("mnist-5k", P=300, seed=3)
    torch.testing.assert_close(large.x_train[:100], small.x_train, rtol=0, atol=0)
    assert small.x_train.shape == (100, 1, 28, 28)
    assert float(small.x_train.max()) <= 1.0
    assert small.x_test.shape[0] == 1000
    ds = load("mnist-5k", P=200, labels="parity", pca=10, center=True, sphere=True)
    assert ds.x_train.shape == (200, 10)
    torch.testing.assert_close(ds.x_train.norm(dim=1), torch.full((200,), 10**0.5))
    assert set(ds.y_train.tolist()) == {-1.0, 1.0}
    other = load("mnist-5k", P=100, seed=4)
    assert not torch.equal(other.x_train, small.x_train)


def test_a_foreign_mnist_5k_file_is_one_line():
    import gzip

    from symscape.errors import DataFormatError

    with pytest.raises(DataFormatError, match="not a gzipped CSV"):
        packaged.read_mnist_5k_csv(b"not gzip")
    with pytest.raises(DataFormatError, match="not rows of 784 pixels"):
        packaged.read_mnist_5k_csv(gzip.compress(b"1,2,3\n4,5,6\n"))
