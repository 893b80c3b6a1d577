"""The synthetic data sets follow their rules."""

import math

import numpy as np
import pytest
import torch

from symscape.data import load
from symscape.data.synthetic import STRIPE_BOUNDS, teacher_network


def test_stripe_rule_and_balance():
    ds = load("stripe", P=20000, n_test=100, d=4, dtype="float64")
    x1 = ds.x_train[:, 0]
    inside = (x1 > STRIPE_BOUNDS[0]) & (x1 < STRIPE_BOUNDS[1])
    assert torch.equal(ds.y_train, torch.where(inside, 1.0, -1.0).double())
    # the bounds make the two labels equally likely: Φ(1.18549) − Φ(−0.3) = 1/2
    phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    assert abs(phi(STRIPE_BOUNDS[1]) - phi(STRIPE_BOUNDS[0]) - 0.5) < 1e-5
    assert abs(float(ds.y_train.mean())) < 4 / math.sqrt(20000)


def test_random_inputs_are_standard_gaussian_and_labels_independent():
    ds = load("random", P=20000, n_test=10, d=5, dtype="float64")
    assert torch.allclose(ds.x_train.mean(0), torch.zeros(5, dtype=torch.float64), atol=0.05)
    assert torch.allclose(torch.cov(ds.x_train.T), torch.eye(5, dtype=torch.float64), atol=0.05)
    # labels carry no information about x
    corr = (ds.x_train * ds.y_train[:, None]).mean(0)
    assert corr.abs().max() < 4 / math.sqrt(20000)
    assert abs(float(ds.y_train.mean())) < 4 / math.sqrt(20000)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_teacher_labels_are_the_sign_of_the_teacher(depth):
    ds = load(
        "teacher",
        P=3000,
        n_test=10,
        d=6,
        teacher_depth=depth,
        teacher_width=30,
        seed=5,
        dtype="float64",
    )
    f = teacher_network(6, 30, depth, seed=5)
    out = f(ds.x_train.numpy())
    threshold = np.median(out)
    agree = np.mean(np.where(out > threshold, 1.0, -1.0) == ds.y_train.numpy())
    # the threshold is the median on an independent reference sample: agreement is near total
    assert agree > 0.97
    assert abs(float(ds.y_train.mean())) < 0.1


def test_d_option_sets_dimension():
    assert load("random", P=3, n_test=3, d=17).input_shape == (17,)
