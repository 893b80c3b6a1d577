r"""A user's PyTorch model as a pure function of its parameters: the boundary of ``measure``.

Every measurement of ``symscape.measure`` that accepts "any model" (its
tangent kernel, its Hessian, its loss landscape) reads the model through this
module, so that one set of checks guards them all:

* :func:`as_functional` turns a ``torch.nn.Module`` into ``f(params, x)``, a
  pure function of a dict of the parameters that require gradients
  (``torch.func.functional_call``; buffers and frozen parameters stay those of
  the module), with those parameters detached as the starting point;
  a callable ``f(params, x)`` with its own ``params`` dict passes through;
* :func:`check_data` rejects data on another device or in another floating
  dtype than the parameters, and non-finite values;
* :func:`scalar_loss` rejects a loss that does not return one finite-or-not
  real number;
* :func:`batches` reads a data set given as tensors ``(x, y)`` or as an
  iterable of such pairs (a ``torch.utils.data.DataLoader``).

Each check fails with one line that names the problem and its fix
(:mod:`symscape.errors`).

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
>>> f, params = as_functional(net)
>>> sorted(params), tuple(params["0.weight"].shape)
(['0.bias', '0.weight', '2.bias', '2.weight'], (4, 3))
>>> x = torch.randn(5, 3)
>>> torch.equal(f(params, x), net(x))
True
>>> n_parameters(params)
21
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch

from symscape.errors import InvalidOptionError

__all__ = [
    "Functional",
    "as_functional",
    "batches",
    "check_data",
    "n_parameters",
    "scalar_loss",
]

Functional = Callable[[Mapping[str, torch.Tensor], torch.Tensor], torch.Tensor]
"""``f(params, x) -> output``: a model as a pure function of its parameters."""


def as_functional(
    model, params: Mapping[str, torch.Tensor] | None = None
) -> tuple[Functional, dict[str, torch.Tensor]]:
    """``(f, params)`` with ``f(params, x)`` the model's output at ``params``.

    ``model`` is a ``torch.nn.Module`` (its parameters that require gradients
    are the variables; ``params`` overrides their values) or a callable
    ``f(params, x)``, which then needs ``params``.
    """
    if isinstance(model, torch.nn.Module):
        own = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if not own:
            raise InvalidOptionError(
                f"{type(model).__name__} has no parameter that requires gradients",
                fix="call requires_grad_(True) on the parameters to measure",
            )
        if params is None:
            params = {name: p.detach() for name, p in own.items()}
        else:
            _check_names(params, own)

        def f(values: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(model, dict(values), (x,))

        return f, dict(params)
    if callable(model):
        if params is None:
            raise InvalidOptionError(
                "a functional model f(params, x) needs its params",
                fix="pass params={name: tensor, ...}, or pass a torch.nn.Module",
            )
        if not isinstance(params, Mapping) or not params:
            raise InvalidOptionError(
                "params must be a non-empty dict of tensors", fix="pass {name: tensor, ...}"
            )
        for name, value in params.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                raise InvalidOptionError(
                    f"params[{name!r}] is not a floating tensor", fix="pass floating tensors"
                )
        return model, {name: value.detach() for name, value in params.items()}
    raise InvalidOptionError(
        f"a model of type {type(model).__name__} cannot be measured",
        fix="pass a torch.nn.Module or a function f(params, x) with params",
    )


def _check_names(params: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> None:
    if set(params) != set(own):
        missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
        raise InvalidOptionError(
            f"params do not match the model's trainable parameters (missing {missing}, "
            f"unknown {extra})",
            fix="pass every name of dict(model.named_parameters()) that requires grad",
        )
    for name, value in params.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise InvalidOptionError(
                f"params[{name!r}] has shape {tuple(value.shape)}, the model "
                f"{tuple(own[name].shape)}",
                fix="pass tensors of the model's shapes",
            )


def n_parameters(params: Mapping[str, torch.Tensor]) -> int:
    """The number of scalar parameters."""
    return sum(p.numel() for p in params.values())


def _reference(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return next(iter(params.values()))


def check_data(params: Mapping[str, torch.Tensor], *tensors: torch.Tensor, name="x") -> None:
    """Data on the parameters' device, floating data in their dtype, and finite."""
    ref = _reference(params)
    for i, t in enumerate(tensors):
        label = name if len(tensors) == 1 else f"{name}[{i}]"
        if not isinstance(t, torch.Tensor):
            raise InvalidOptionError(
                f"{label} is a {type(t).__name__}, not a tensor", fix="pass torch tensors"
            )
        if t.device != ref.device:
            raise InvalidOptionError(
                f"{label} is on {t.device}, the parameters on {ref.device}",
                fix=f"move the data with .to({str(ref.device)!r})",
            )
        if t.is_floating_point():
            if t.dtype != ref.dtype:
                raise InvalidOptionError(
                    f"{label} is {t.dtype}, the parameters {ref.dtype}",
                    fix=f"convert the data with .to({ref.dtype})",
                )
            if not bool(torch.isfinite(t).all()):
                raise InvalidOptionError(
                    f"{label} holds non-finite values", fix="remove or replace NaN and inf"
                )


def scalar_loss(value: Any, what: str = "the loss") -> torch.Tensor:
    """``value`` if it is a real scalar tensor (shape ``()`` or one element)."""
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise InvalidOptionError(
            f"{what} returned {shape}, not a scalar",
            fix="reduce it to one number (e.g. .mean() over the batch)",
        )
    if value.is_complex() or not value.is_floating_point():
        raise InvalidOptionError(
            f"{what} returned a {value.dtype} scalar", fix="return a real float"
        )
    return value.reshape(())


def batches(data) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` pairs of a data set given as one pair of tensors or an iterable of pairs
    (a ``DataLoader``); one line for anything else."""
    if isinstance(data, tuple | list) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if len(x) != len(y):
            raise InvalidOptionError(
                f"x has {len(x)} points and y {len(y)}", fix="pass as many targets as inputs"
            )
        yield x, y
        return
    if not isinstance(data, Iterable):
        raise InvalidOptionError(
            f"data of type {type(data).__name__} is neither (x, y) nor batches of them",
            fix="pass (x, y) tensors or a DataLoader of (x, y) batches",
        )
    empty = True
    for batch in data:
        if not (isinstance(batch, tuple | list) and len(batch) >= 2):
            raise InvalidOptionError(
                "a batch of the data is not an (x, y) pair",
                fix="make the DataLoader yield (inputs, targets)",
            )
        empty = False
        yield batch[0], batch[1]
    if empty:
        raise InvalidOptionError("the data holds no batch", fix="pass a non-empty data set")
