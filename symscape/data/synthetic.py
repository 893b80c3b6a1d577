"""Synthetic data sets: generated from the seed, as many points as asked.

* ``random``: x ~ N(0, I_d), labels ±1 at random, independent of x — the
  jamming papers' random data (nothing to generalise, everything to fit);
* ``teacher``: x ~ N(0, I_d), y = sign(f_teacher(x) − median), with f_teacher a
  random fully connected ReLU network (NTK scaling) drawn from the seed and
  the median taken on a fixed reference sample, so both labels are equally likely;
* ``stripe``: x ~ N(0, I_d), y = +1 iff −0.3 < x₁ < 1.18549 (SCIENCE.md §3;
  the bounds make both labels equally likely).

Points are drawn from numpy's PCG64 streams, one per split, so the first
``P`` points never depend on ``P`` (see :mod:`symscape.data.sampling`).

>>> from symscape.data import load
>>> ds = load("random", P=4, n_test=2, d=3, seed=0)
>>> ds.y_train.abs().tolist()
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.data.options import Option
from symscape.data.registry import DatasetSpec, Stream, register_dataset
from symscape.data.sampling import rng

__all__ = ["STRIPE_BOUNDS", "teacher_network"]

STRIPE_BOUNDS = (-0.3, 1.18549)
_REFERENCE_POINTS = 10_000


def _gaussian(opts: Mapping[str, Any], split: str, n: int) -> np.ndarray:
    return rng(opts["seed"], split).standard_normal((n, opts["d"]))


def _random(opts: Mapping[str, Any]) -> Stream:
    def draw(split: str, n: int):
        classes = rng(opts["seed"], f"{split}_labels").integers(0, 2, size=n)
        return _gaussian(opts, split, n), classes

    return Stream(draw)


def _stripe(opts: Mapping[str, Any]) -> Stream:
    low, high = STRIPE_BOUNDS

    def draw(split: str, n: int):
        x = _gaussian(opts, split, n)
        return x, ((x[:, 0] > low) & (x[:, 0] < high)).astype(np.int64)

    return Stream(draw)


def teacher_network(d: int, width: int, depth: int, seed: int):
    """The teacher of ``seed``: a function ``x [n, d] → f(x) [n]``.

    ``depth`` hidden ReLU layers of ``width`` units (``depth=0`` is a linear
    teacher), weights N(0, 1), each pre-activation divided by √fan-in.
    """
    generator = rng(seed, "teacher")
    sizes = [d] + [width] * depth + [1]
    weights = [generator.standard_normal((a, b)) for a, b in itertools.pairwise(sizes)]

    def f(x: np.ndarray) -> np.ndarray:
        h = x
        for i, w in enumerate(weights):
            h = h @ w / math.sqrt(w.shape[0])
            if i < len(weights) - 1:
                h = np.sqrt(2.0) * np.maximum(h, 0.0)
        return h[:, 0]

    return f


def _teacher(opts: Mapping[str, Any]) -> Stream:
    f = teacher_network(opts["d"], opts["teacher_width"], opts["teacher_depth"], opts["seed"])
    reference = rng(opts["seed"], "teacher_reference").standard_normal(
        (_REFERENCE_POINTS, opts["d"])
    )
    threshold = float(np.median(f(reference)))

    def draw(split: str, n: int):
        x = _gaussian(opts, split, n)
        return x, (f(x) > threshold).astype(np.int64)

    return Stream(draw)


def _vector_shape(opts: Mapping[str, Any]) -> tuple[int, ...]:
    return (opts["d"],)


_D = Option("d", int, 10, "input dimension", minimum=1)
_SYNTHETIC_DEFAULTS = {"P": 1000, "n_test": 1000, "labels": "binary"}

register_dataset(
    DatasetSpec(
        name="random",
        kind="synthetic",
        input_kind="vector",
        num_classes=2,
        description="Gaussian inputs, random ±1 labels (jamming's random data)",
        source="generated from the seed",
        size="any (generated)",
        make=_random,
        input_shape=_vector_shape,
        options=(_D,),
        defaults=_SYNTHETIC_DEFAULTS,
    )
)
register_dataset(
    DatasetSpec(
        name="teacher",
        kind="synthetic",
        input_kind="vector",
        num_classes=2,
        description="Gaussian inputs labelled by a random ReLU teacher network",
        source="generated from the seed",
        size="any (generated)",
        make=_teacher,
        input_shape=_vector_shape,
        options=(
            _D,
            Option("teacher_width", int, 100, "hidden units per teacher layer", minimum=1),
            Option("teacher_depth", int, 1, "hidden layers of the teacher (0: linear)", minimum=0),
        ),
        defaults=_SYNTHETIC_DEFAULTS,
    )
)
register_dataset(
    DatasetSpec(
        name="stripe",
        kind="synthetic",
        input_kind="vector",
        num_classes=2,
        description="Gaussian inputs, y = +1 iff -0.3 < x1 < 1.18549 (feature vs lazy's stripe)",
        source="generated from the seed",
        size="any (generated)",
        make=_stripe,
        input_shape=_vector_shape,
        options=(_D,),
        defaults=_SYNTHETIC_DEFAULTS,
    )
)
