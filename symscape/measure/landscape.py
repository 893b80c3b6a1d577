r"""The loss landscape of any model: straight paths between weights, and 1D/2D slices.

Three views of ``L(w)``, the loss of a model over a data set as a function of
its weights (and, beside it, its error):

* :func:`interpolate` — along the straight path ``w(t) = (1 − t) w_a + t w_b``
  between two weight vectors (two members of an ensemble, the initial and the
  final weights), with its **barrier height**. Two conventions are returned:
  ``barrier = max_{t∈[0,1]} L(w(t)) − max(L(w_a), L(w_b))``, how far the path
  climbs above the higher end (zero for a path that never rises above its
  ends), and ``barrier_linear = max_{t∈[0,1]} [L(w(t)) − ((1 − t) L(w_a) + t
  L(w_b))]``, the rise above the chord between the end losses (the
  convention of Entezari, Sedghi, Saukh, Neyshabur 2022; Frankle, Dziugaite,
  Roy, Carbin 2020 measure the rise of the error above the mean of its two
  ends, which the chord equals at ``t = ½``). Both are
  maxima over the grid of ``t`` (with both ends): lower bounds of the
  continuous maxima, sharper with more ``points``.
* :func:`slice_1d` — ``L(w + a d)`` on a line, and :func:`slice_2d` —
  ``L(w + a d₁ + b d₂)`` on a plane, along directions that are usually
  filter-normalised random directions (:func:`random_direction`; Li, Xu,
  Taylor, Studer, Goldstein 2018).

All points of a path or a slice are evaluated as one batched computation
(:mod:`symscape.measure.landscape_eval`): stacked on the ensemble axis of one of
symscape's networks, or by ``torch.func.vmap`` for a ``torch.nn.Module``.
Results are small frozen dataclasses of numpy arrays; figures are in
:mod:`symscape.measure.landscape_figures`.

>>> import torch
>>> f = lambda p, x: x @ p["w"]                       # a linear model
>>> x = torch.eye(2, dtype=torch.float64)
>>> y = torch.zeros(2, dtype=torch.float64)
>>> loss = lambda out, y: 1 - ((out - y) ** 2).mean()  # concave along any line
>>> a = {"w": torch.tensor([1.0, 0.0], dtype=torch.float64)}
>>> b = {"w": torch.tensor([0.0, 1.0], dtype=torch.float64)}
>>> path = interpolate(f, loss, (x, y), a, b, points=5)
>>> path.t.tolist(), path.loss.tolist()
([0.0, 0.25, 0.5, 0.75, 1.0], [0.5, 0.6875, 0.75, 0.6875, 0.5])
>>> path.barrier, path.barrier_linear
(0.25, 0.25)
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping

import numpy as np
import torch

from symscape.errors import InvalidOptionError
from symscape.measure.directions import random_direction
from symscape.measure.landscape_eval import DEFAULT_MEMORY, Loss, evaluate, member
from symscape.measure.module import as_functional

__all__ = [
    "Interpolation",
    "Slice1D",
    "Slice2D",
    "barrier_heights",
    "interpolate",
    "member",
    "random_direction",
    "slice_1d",
    "slice_2d",
]


@dataclasses.dataclass(frozen=True)
class Interpolation:
    """The loss (and error) along ``w(t) = (1 − t) w_a + t w_b``, with the end values and
    the barrier heights (module docstring); the error fields are ``None`` without an error."""

    t: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None
    loss_a: float
    loss_b: float
    barrier: float
    barrier_linear: float
    error_a: float | None = None
    error_b: float | None = None
    error_barrier: float | None = None
    error_barrier_linear: float | None = None


@dataclasses.dataclass(frozen=True)
class Slice1D:
    """``loss[i] = L(w + alpha[i] d)`` (and the error)."""

    alpha: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class Slice2D:
    """``loss[i, j] = L(w + alpha[i] d₁ + beta[j] d₂)`` (and the error)."""

    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    error: np.ndarray | None


def barrier_heights(t, values, value_a: float, value_b: float) -> tuple[float, float]:
    """``(max_t v(t) − max(v_a, v_b), max_t [v(t) − ((1 − t) v_a + t v_b)])`` over the ``t``
    in ``[0, 1]`` and both ends (so neither is negative).

    >>> barrier_heights([0.5], [3.0], 1.0, 2.0)
    (1.0, 1.5)
    """
    t, values = np.asarray(t, np.float64), np.asarray(values, np.float64)
    inside = (t >= 0) & (t <= 1)
    t = np.concatenate([[0.0, 1.0], t[inside]])
    values = np.concatenate([[value_a, value_b], values[inside]])
    chord = (1 - t) * value_a + t * value_b
    return float(values.max() - max(value_a, value_b)), float((values - chord).max())


def _grid(points, span, name: str) -> np.ndarray:
    """``points`` equally spaced values over ``span``, or the given values."""
    if isinstance(points, numbers.Integral) and not isinstance(points, bool):
        if points < 2:
            raise InvalidOptionError(
                f"{name}={points}: a landscape needs at least 2 points", fix=f"use {name} >= 2"
            )
        try:
            lo, hi = (float(s) for s in span)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"span {span!r} is not a pair of numbers", fix="pass (low, high), e.g. (-1, 1)"
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise InvalidOptionError(
                f"span ({lo}, {hi}) is not an interval", fix="pass finite (low, high), low < high"
            )
        return np.linspace(lo, hi, int(points))
    values = np.asarray(points, dtype=np.float64) if not isinstance(points, bool) else None
    if values is None or values.ndim != 1 or len(values) < 2 or not np.isfinite(values).all():
        raise InvalidOptionError(
            f"{name} must be a number of points >= 2 or a 1-D array of at least 2 finite values",
            fix=f"e.g. {name}=25",
        )
    return values


def _own_params(model, params):
    """``params``, or a module's own parameters where ``params`` is ``None``."""
    if params is None and isinstance(model, torch.nn.Module):
        return as_functional(model)[1]
    if params is None:
        raise InvalidOptionError(
            "params=None needs a torch.nn.Module", fix="pass the weights as {name: tensor}"
        )
    return params


def interpolate(
    model,
    loss_fn: Loss,
    data,
    params_a: Mapping[str, torch.Tensor] | None,
    params_b: Mapping[str, torch.Tensor],
    points: int = 25,
    error_fn: Loss | bool | None = None,
    *,
    t_range: tuple[float, float] = (0.0, 1.0),
    memory: int | str = DEFAULT_MEMORY,
    batched: bool = True,
) -> Interpolation:
    """The loss (and error) at ``points`` values of ``t`` over ``t_range`` along
    ``w(t) = (1 − t) w_a + t w_b``, and the barrier heights over ``t ∈ [0, 1]``.

    ``model``: a ``torch.nn.Module``, a functional ``f(params, x)``, or a
    :class:`symscape.nets.Architecture` with one member's weights
    (:func:`member`). ``data``: ``(x, y)`` tensors or a ``DataLoader`` of
    ``(x, y)`` batches. ``loss_fn(outputs, y)`` returns one number (a mean over
    the batch); ``error_fn=None`` is the classification error where ``y`` are
    labels (argmax for integer classes, sign for ±1 with one output), none for
    other targets; ``error_fn=False``, no error. The ends are evaluated exactly
    at ``w_a`` and ``w_b``; ``params_a=None`` takes a module's own weights.
    """
    t = _grid(points, t_range, "points")
    rows = np.concatenate([[0.0, 1.0], t])
    coefficients = np.stack([1 - rows, rows], axis=1)
    ends = [_own_params(model, params_a), params_b]
    options = dict(error_fn=error_fn, memory=memory, batched=batched)
    loss, error = evaluate(
        model, loss_fn, data, None, ends, coefficients, labels=("params_a", "params_b"), **options
    )
    barrier, barrier_linear = barrier_heights(t, loss[2:], loss[0], loss[1])
    fields = dict(t=t, loss=loss[2:], error=None, loss_a=float(loss[0]), loss_b=float(loss[1]))
    if error is not None:
        error_barrier, error_barrier_linear = barrier_heights(t, error[2:], error[0], error[1])
        fields.update(
            error=error[2:],
            error_a=float(error[0]),
            error_b=float(error[1]),
            error_barrier=error_barrier,
            error_barrier_linear=error_barrier_linear,
        )
    return Interpolation(barrier=barrier, barrier_linear=barrier_linear, **fields)


def slice_1d(
    model,
    loss_fn: Loss,
    data,
    params: Mapping[str, torch.Tensor] | None,
    direction: Mapping[str, torch.Tensor],
    points=51,
    error_fn: Loss | bool | None = None,
    *,
    span: tuple[float, float] = (-1.0, 1.0),
    memory: int | str = DEFAULT_MEMORY,
    batched: bool = True,
) -> Slice1D:
    """``L(w + a d)`` at ``points`` values of ``a`` over ``span`` (or at the values given).

    ``params=None`` takes a module's own weights; the other arguments are as
    in :func:`interpolate`.
    """
    alpha = _grid(points, span, "points")
    params = _own_params(model, params)
    options = dict(error_fn=error_fn, memory=memory, batched=batched)
    line = alpha[:, None]
    loss, error = evaluate(
        model, loss_fn, data, params, [direction], line, labels=("direction",), **options
    )
    return Slice1D(alpha=alpha, loss=loss, error=error)


def slice_2d(
    model,
    loss_fn: Loss,
    data,
    params: Mapping[str, torch.Tensor] | None,
    d1: Mapping[str, torch.Tensor],
    d2: Mapping[str, torch.Tensor],
    grid=21,
    error_fn: Loss | bool | None = None,
    *,
    span: tuple[float, float] = (-1.0, 1.0),
    memory: int | str = DEFAULT_MEMORY,
    batched: bool = True,
) -> Slice2D:
    """``L(w + a d₁ + b d₂)`` on a ``grid × grid`` lattice over ``span²`` (or on
    ``grid = (alpha values, beta values)``); otherwise as :func:`slice_1d`."""
    if isinstance(grid, tuple) and len(grid) == 2:
        alpha, beta = _grid(grid[0], span, "grid"), _grid(grid[1], span, "grid")
    else:
        alpha = beta = _grid(grid, span, "grid")
    params = _own_params(model, params)
    a, b = np.meshgrid(alpha, beta, indexing="ij")
    plane = np.stack([a.ravel(), b.ravel()], axis=1)
    options = dict(error_fn=error_fn, memory=memory, batched=batched)
    loss, error = evaluate(
        model, loss_fn, data, params, [d1, d2], plane, labels=("d1", "d2"), **options
    )
    shape = (len(alpha), len(beta))
    return Slice2D(
        alpha=alpha,
        beta=beta,
        loss=loss.reshape(shape),
        error=None if error is None else error.reshape(shape),
    )
