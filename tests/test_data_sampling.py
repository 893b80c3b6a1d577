"""Seeds, nesting and class balance of the chosen points, on every kind of source."""

import numpy as np
import pytest
import torch

from symscape.data import load
from symscape.data.sampling import choose
from symscape.errors import InvalidOptionError

EMBEDDED = ["random", "teacher", "stripe", "digits", "mnist1d"]


@pytest.mark.parametrize("name", EMBEDDED)
def test_same_seed_same_points_other_seed_other_points(name):
    a = load(name, P=60, n_test=40, seed=3)
    b = load(name, P=60, n_test=40, seed=3)
    c = load(name, P=60, n_test=40, seed=4)
    for split in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, split), getattr(b, split))
    assert not torch.equal(a.x_train, c.x_train)
    assert not torch.equal(a.x_test, c.x_test)


@pytest.mark.parametrize("name", EMBEDDED)
def test_points_are_nested_in_P_and_test_set_does_not_depend_on_P(name):
    small = load(name, P=30, n_test=40, seed=1)
    large = load(name, P=90, n_test=40, seed=1)
    assert torch.equal(large.x_train[:30], small.x_train)
    assert torch.equal(large.y_train[:30], small.y_train)
    assert torch.equal(large.x_test, small.x_test)


@pytest.mark.parametrize("name", ["digits", "mnist1d", "random"])
def test_train_and_test_points_are_disjoint(name):
    ds = load(name, P=200, n_test=200, seed=0, dtype="float64")
    train = {tuple(row) for row in ds.x_train.reshape(ds.P, -1).tolist()}
    test = {tuple(row) for row in ds.x_test.reshape(ds.n_test, -1).tolist()}
    assert not train & test


@pytest.mark.parametrize(
    ("name", "labels"),
    [("digits", "multiclass"), ("digits", "parity"), ("mnist1d", "halves"), ("teacher", "binary")],
)
def test_balance_gives_equal_counts(name, labels):
    ds = load(name, P=100, n_test=60, labels=labels, balance=True, seed=2)
    for split, n in (("train", 100), ("test", 60)):
        counts = list(ds.class_counts(split).values())
        k = len(counts)
        assert sum(counts) == n
        assert max(counts) - min(counts) <= 1 if n % k else len(set(counts)) == 1


def test_balance_impossible_names_the_largest_P():
    labels = np.array([1] * 10 + [-1] * 3)
    # 3 points of label -1: the largest balanced choice is 3 + 3
    with pytest.raises(InvalidOptionError, match=r"P <= 6"):
        choose(labels, 7, np.arange(13), True, what="P", where="here")
    idx = choose(labels, 6, np.arange(13), True, what="P", where="here")
    assert sorted(labels[idx].tolist()) == [-1] * 3 + [1] * 3


def test_too_large_P_names_the_maximum():
    with pytest.raises(InvalidOptionError, match=r"P=2000 .* 1297 points .* use P <= 1297"):
        load("digits", P=2000)
    with pytest.raises(InvalidOptionError, match=r"P <= 4000"):
        load("mnist1d", P=4001)


def test_a_pool_without_test_set_needs_a_number_of_test_points():
    with pytest.raises(InvalidOptionError, match="no fixed test set"):
        load("digits", n_test=None)
    with pytest.raises(InvalidOptionError, match="n_test=0 is too small"):
        load("random", P=5, n_test=0)


def test_P_none_takes_everything_available():
    ds = load("digits", n_test=97)
    assert ds.P == 1797 - 97


def test_default_labels_are_binary_for_two_class_and_multiclass_otherwise():
    assert load("random", P=5, n_test=5).labels == "binary"
    assert load("digits", P=5, n_test=5).labels == "multiclass"
    with pytest.raises(InvalidOptionError, match="two-class"):
        load("digits", P=5, n_test=5, labels="binary")
