"""Seeded, nested choice of train and test points, and the labelings.

Two promises hold for every data set:

* the same ``seed`` gives the same points, on any machine (numpy's PCG64
  streams, independent of torch's generator);
* the sets are *nested*: with the same seed, the first ``P`` training points
  do not depend on ``P`` or on ``n_test``, and the test points do not depend
  on ``P``. A sweep over ``P`` therefore adds points and keeps the test set.
  (With ``balance=True`` the smaller set is still a subset of the larger
  one, though not always its first ``P`` points.)

>>> import numpy as np
>>> from symscape.data.sampling import label_values
>>> label_values(np.array([0, 1, 2, 7]), "parity", num_classes=10)
array([-1.,  1., -1.,  1.])
>>> label_values(np.array([0, 4, 5, 9]), "halves", num_classes=10)
array([-1., -1.,  1.,  1.])
"""

from __future__ import annotations

import numpy as np

from symscape.errors import InvalidOptionError

__all__ = ["LABELINGS", "choose", "label_values", "rng"]

LABELINGS = ("binary", "parity", "halves", "multiclass")

# Independent random streams, one per purpose, all derived from the user's seed.
STREAMS = {
    "train": 0,
    "test": 1,
    "train_labels": 2,
    "test_labels": 3,
    "split": 4,
    "teacher": 5,
    "teacher_reference": 6,
}


def rng(seed: int, stream: str) -> np.random.Generator:
    """The numpy generator of one named stream of ``seed``."""
    return np.random.default_rng([seed, STREAMS[stream]])


def label_values(classes: np.ndarray, labeling: str, num_classes: int) -> np.ndarray:
    """Map class indices to labels.

    ``binary`` (two-class data sets): class 1 → +1, class 0 → −1.
    ``parity``: y = +1 for odd classes, −1 for even ones (the digit mod 2).
    ``halves``: classes ``0 … K/2−1`` → −1, ``K/2 … K−1`` → +1 (CIFAR10's 0–4 vs 5–9).
    ``multiclass``: the class index itself.
    """
    classes = np.asarray(classes)
    if labeling == "multiclass":
        return classes.astype(np.int64)
    if labeling == "binary":
        if num_classes != 2:
            raise InvalidOptionError(
                f"labels='binary' needs a two-class data set, this one has {num_classes} classes",
                fix="use labels='parity', 'halves' or 'multiclass'",
            )
        return np.where(classes == 1, 1.0, -1.0)
    if labeling == "parity":
        return np.where(classes % 2 == 1, 1.0, -1.0)
    if labeling == "halves":
        return np.where(classes >= num_classes // 2, 1.0, -1.0)
    raise InvalidOptionError(
        f"labels={labeling!r} is not a labeling", fix=f"use one of {', '.join(LABELINGS)}"
    )


def choose(
    labels: np.ndarray,
    n: int | None,
    order: np.ndarray,
    balance: bool,
    *,
    what: str,
    where: str,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Pick ``n`` indices, walking ``order`` and skipping ``exclude``.

    ``n=None`` takes as many as possible. With ``balance`` every label value
    gets ``n // K`` points (the first ``n % K`` label values, in sorted order,
    one more). Asking for too many raises :class:`InvalidOptionError` naming
    the largest possible ``n`` (``what`` names the option, ``where`` the pool).

    >>> import numpy as np
    >>> labels = np.array([1, 1, 1, -1, 1, -1])
    >>> choose(labels, 4, np.arange(6), balance=True, what="P", where="here").tolist()
    [0, 1, 3, 5]
    """
    order = np.asarray(order)
    if exclude is not None and len(exclude):
        order = order[~np.isin(order, exclude)]
    ordered_labels = labels[order]
    values, counts = np.unique(ordered_labels, return_counts=True)
    k = len(values)
    if balance and k:
        m = int(counts.min())
        extra = 0  # classes that can take one more point, in the order quotas are given
        while extra < k - 1 and counts[extra] > m:
            extra += 1
        largest = k * m + extra
    else:
        largest = len(order)
    if n is None:
        n = largest
    if n > largest:
        problem = (
            f"{what}={n} is more than the {largest} points available {where}"
            if not balance
            else f"{what}={n} with balance=True is more than the {largest} balanced points "
            f"available {where}"
        )
        raise InvalidOptionError(problem, fix=f"use {what} <= {largest}")
    if not balance:
        return order[:n]
    quota = np.full(k, n // k)
    quota[: n % k] += 1
    # rank of each point among the points of its label, in walking order
    slot = np.searchsorted(values, ordered_labels)
    rank = np.zeros(len(order), dtype=np.int64)
    for i in range(k):
        members = slot == i
        rank[members] = np.arange(members.sum())
    return order[rank < quota[slot]]
