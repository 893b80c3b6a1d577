"""The input transforms: PCA whitening, centring, norm √d, resizing, flattening."""

import math

import numpy as np
import pytest
import torch

from symscape.data import load
from symscape.data.transforms import pca_whiten
from symscape.errors import InvalidOptionError


@pytest.mark.parametrize(("name", "k"), [("digits", 10), ("mnist1d", 20), ("teacher", 5)])
def test_pca_whitening_gives_identity_covariance_on_train(name, k):
    ds = load(name, P=400, n_test=100, pca=k, dtype="float64")
    assert ds.input_shape == (k,)
    cov = torch.cov(ds.x_train.T)
    assert torch.allclose(cov, torch.eye(k, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(ds.x_train.mean(0), torch.zeros(k, dtype=torch.float64), atol=1e-10)
    # the test set is projected with the training fit: not exactly white
    assert not torch.allclose(torch.cov(ds.x_test.T), torch.eye(k, dtype=torch.float64), atol=1e-3)


def test_pca_agrees_with_numpy_eigendecomposition():
    x = torch.from_numpy(
        np.random.default_rng(0).standard_normal((300, 6)) @ np.diag([5, 4, 3, 2, 1, 0.5])
    )
    z, _ = pca_whiten(x, x[:1], k=3)
    centred = (x - x.mean(0)).numpy()
    values, vectors = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    top = vectors[:, ::-1][:, :3] / np.sqrt(values[::-1][:3])
    expected = centred @ top
    # same components up to sign
    assert np.allclose(np.abs(z.numpy()), np.abs(expected), atol=1e-8)


def test_pca_fitted_on_train_only():
    a = load("digits", P=300, n_test=100, pca=5, dtype="float64", seed=0)
    b = load("digits", P=300, n_test=400, pca=5, dtype="float64", seed=0)
    # more test points do not change the training projection
    assert torch.allclose(a.x_train, b.x_train)


def test_pca_too_many_components_is_a_clear_error():
    with pytest.raises(InvalidOptionError, match=r"pca=70 .* d=64"):
        load("digits", P=300, pca=70)


@pytest.mark.parametrize("name", ["digits", "random", "mnist1d"])
def test_center_and_sphere(name):
    ds = load(name, P=200, n_test=50, center=True, sphere=True, dtype="float64")
    norms = ds.x_train.reshape(ds.P, -1).norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, math.sqrt(ds.d)))
    centred = load(name, P=200, n_test=50, center=True, dtype="float64")
    assert torch.allclose(
        centred.x_train.mean(0), torch.zeros(ds.input_shape, dtype=torch.float64), atol=1e-12
    )


def test_digits_upsampling_and_flattening():
    ds = load("digits", P=20, n_test=10, image_size=28)
    assert ds.input_shape == (1, 28, 28)
    flat = load("digits", P=20, n_test=10, image_size=16, flatten=True)
    assert flat.input_shape == (256,)
    assert flat.input_kind == "vector"
    # upsampling a constant image keeps it constant
    small = load("digits", P=20, n_test=10, dtype="float64")
    big = load("digits", P=20, n_test=10, image_size=32, dtype="float64")
    assert torch.allclose(
        small.x_train.mean(dim=(1, 2, 3)), big.x_train.mean(dim=(1, 2, 3)), atol=0.02
    )


def test_dtype_and_device_options():
    ds = load("stripe", P=10, n_test=10, dtype="float64")
    assert ds.x_train.dtype == torch.float64 and ds.y_train.dtype == torch.float64
    ds = load("digits", P=10, n_test=10, labels="multiclass", dtype=torch.float32)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    moved = ds.to(dtype=torch.float64)
    assert moved.x_train.dtype == torch.float64 and moved.y_train.dtype == torch.int64
    with pytest.raises(InvalidOptionError, match="floating dtype"):
        load("stripe", P=10, n_test=10, dtype="int32")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidOptionError, match="CUDA"):
            load("stripe", P=10, n_test=10, device="cuda")
