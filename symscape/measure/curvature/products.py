r"""Exact Hessian-vector products of a model's loss over a data set, and what they build.

The loss of a model ``f(w, x)`` on a data set of batches ``(x_b, y_b)`` is the
mean over all its points,

.. math::  L(w) = \frac{1}{P} \sum_b n_b\, \ell_b(w), \qquad
           \ell_b(w) = \mathtt{loss\_fn}(f(w, x_b), y_b), \quad P = \sum_b n_b,

so ``loss_fn`` must return the *mean* over its batch, and each batch is weighted
by its number of points ``n_b = len(x_b)``: a ``DataLoader`` with any batch
size (a short last batch included) gives the same ``L`` as one batch of all the
points. The Hessian-vector product

.. math::  H v = \frac{1}{P} \sum_b n_b\, \nabla_w (\nabla_w \ell_b \cdot v)

is exact: double backward through each batch (``create_graph=True``, then the
gradient of ``∇ℓ_b · v``), accumulated over the batches; several vectors at
once go through one batched backward (``is_grads_batched``).

The parameters ``w`` are the dict of tensors that require gradients
(:func:`symscape.measure.module.as_functional`); flattened, they are
concatenated in the dict's order (:func:`flatten`, :func:`unflatten`).
:func:`hessian_operator` wraps the product as a SciPy ``LinearOperator`` on
float64 vectors of length N; :func:`dense_hessian` builds H column block by
column block (small N, the check of everything else); :func:`layer_blocks`
the diagonal block of each parameter tensor.

>>> import torch
>>> net = torch.nn.Linear(2, 1, bias=False).double()
>>> x = torch.tensor([[1.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
>>> y = torch.zeros(2, 1, dtype=torch.float64)
>>> mse = lambda out, target: ((out - target) ** 2).mean()
>>> dense_hessian(net, mse, (x, y))  # 2 xᵀx / P
tensor([[2., 2.],
        [2., 4.]], dtype=torch.float64)
>>> hvp(net, mse, (x, y), torch.tensor([1.0, 0.0], dtype=torch.float64))
tensor([2., 2.], dtype=torch.float64)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch

from symscape.errors import InvalidOptionError
from symscape.measure.module import (
    Functional,
    as_functional,
    batches,
    check_data,
    n_parameters,
    scalar_loss,
)
from symscape.nets.flat import flat_params, unflat_params

__all__ = [
    "Loss",
    "dense_hessian",
    "flatten",
    "hessian_operator",
    "hvp",
    "layer_blocks",
    "unflatten",
]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss_fn(output, y) -> scalar``: the mean loss of one batch."""

_CHUNK = 128  # vectors per batched backward in dense_hessian / layer_blocks


def flatten(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """One vector of length N: the tensors of ``params`` concatenated in the dict's order."""
    return flat_params({k: p.unsqueeze(0) for k, p in params.items()})[0]


def unflatten(vector: torch.Tensor, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`flatten`: a vector of length N back to tensors shaped as ``like``."""
    out = unflat_params(vector.unsqueeze(0), {k: p.unsqueeze(0) for k, p in like.items()})
    return {k: p[0] for k, p in out.items()}


class _Problem:
    """The model as ``f(params, x)``, its loss and its data, checked once."""

    def __init__(self, model, loss_fn: Loss, data, params=None):
        if not callable(loss_fn):
            raise InvalidOptionError(
                f"loss_fn of type {type(loss_fn).__name__} is not callable",
                fix="pass loss_fn(output, y) returning the batch's mean loss",
            )
        self.f: Functional
        self.f, self.params = as_functional(model, params)
        self.loss_fn, self.data = loss_fn, data
        self.N = n_parameters(self.params)
        ref = next(iter(self.params.values()))
        self.dtype, self.device = ref.dtype, ref.device
        # a module at its own weights: differentiate through the module itself (the same
        # numbers as through ``f``, without the parameter swap of functional_call)
        self.module = model if isinstance(model, torch.nn.Module) and params is None else None
        self.checked = False

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        one = isinstance(self.data, tuple | list) and isinstance(self.data[0], torch.Tensor)
        for x, y in batches(self.data):
            if not (one and self.checked):  # tensors once, a DataLoader's batches each time
                check_data(self.params, x, name="x")
                check_data(self.params, y, name="y")
            yield x, y
        self.checked = True

    def batch_loss(self, params: Mapping[str, torch.Tensor], x, y) -> torch.Tensor:
        return scalar_loss(self.loss_fn(self.f(params, x), y))

    def vectors(self, v) -> torch.Tensor:
        """``v`` (a dict like params, a vector of length N, or ``[K, N]``) as ``[K, N]``."""
        if isinstance(v, Mapping):
            if set(v) != set(self.params):
                raise InvalidOptionError(
                    f"v has the keys {sorted(v)}, the parameters {sorted(self.params)}",
                    fix="pass a dict with the parameters' names and shapes, or a flat vector",
                )
            v = flatten({k: torch.as_tensor(v[k]).reshape(p.shape) for k, p in self.params.items()})
        v = torch.as_tensor(v)
        if v.ndim not in (1, 2) or v.shape[-1] != self.N or not v.is_floating_point():
            raise InvalidOptionError(
                f"v of shape {tuple(v.shape)} is not a floating vector of the N={self.N} "
                "parameters",
                fix=f"pass a vector of length {self.N} (or [K, {self.N}]) or a dict like params",
            )
        return v.to(dtype=self.dtype, device=self.device).reshape(-1, self.N)

    def products(self, V: torch.Tensor) -> torch.Tensor:
        """``H V`` for ``V`` of shape ``[K, N]``: rows of Hessian-vector products."""
        parts = []
        for x, y in self.batches():
            if self.module is not None:
                w = dict(zip(self.params, _trainable(self.module), strict=True))
                loss = scalar_loss(self.loss_fn(self.module(x), y))
            else:
                w = {k: p.detach().requires_grad_(True) for k, p in self.params.items()}
                loss = self.batch_loss(w, x, y)
            grads = torch.autograd.grad(
                loss, list(w.values()), create_graph=True, allow_unused=True
            )
            g = torch.cat(
                [_dense(gi, p).reshape(-1) for gi, p in zip(grads, w.values(), strict=True)]
            )
            if not g.requires_grad:  # the loss is linear in w on this batch
                parts.append((len(x), torch.zeros_like(V)))
                continue
            hv = torch.autograd.grad(
                g,
                list(w.values()),
                grad_outputs=V if len(V) > 1 else V[0],
                allow_unused=True,
                is_grads_batched=len(V) > 1,
            )
            rows = [
                _dense(h, p, len(V) if len(V) > 1 else None)
                for h, p in zip(hv, w.values(), strict=True)
            ]
            parts.append((len(x), torch.cat([r.reshape(len(V), -1) for r in rows], dim=1)))
        if len(parts) == 1:
            return parts[0][1]
        total = sum(n for n, _ in parts)
        return sum(n * rows for n, rows in parts) / total


def _trainable(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p for _, p in module.named_parameters() if p.requires_grad]


def _dense(t: torch.Tensor | None, like: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """``t``, or zeros shaped as ``like`` (with a leading ``k``) where autograd returned None."""
    if t is not None:
        return t
    return torch.zeros(
        ((k,) if k else ()) + tuple(like.shape), dtype=like.dtype, device=like.device
    )


def hvp(model, loss_fn: Loss, data, v, params=None):
    """``H v``, exact, for the mean loss over the data set (batches weighted by their size).

    ``v`` is a dict shaped as the parameters (then so is the result), a flat
    vector of length N, or ``[K, N]`` rows (then so is the result).
    """
    problem = _Problem(model, loss_fn, data, params)
    V = problem.vectors(v)
    out = problem.products(V)
    if isinstance(v, Mapping):
        return unflatten(out[0], problem.params)
    return out if torch.as_tensor(v).ndim == 2 else out[0]


def hessian_operator(model, loss_fn: Loss, data, params=None):
    """H as a ``scipy.sparse.linalg.LinearOperator`` of shape ``(N, N)``, float64 in and out.

    Its vectors are the flattened parameters (:func:`flatten`); each product
    runs through the whole data set; ``matmat`` batches its columns.
    """
    from scipy.sparse.linalg import LinearOperator

    problem = _Problem(model, loss_fn, data, params)

    def matmat(X: np.ndarray) -> np.ndarray:
        V = torch.as_tensor(np.ascontiguousarray(np.asarray(X).T), device=problem.device)
        out = problem.products(V.to(problem.dtype))
        return out.T.detach().cpu().numpy().astype(np.float64)

    def matvec(x: np.ndarray) -> np.ndarray:
        return matmat(np.asarray(x).reshape(-1, 1))[:, 0]

    N = problem.N
    return LinearOperator((N, N), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=np.float64)


def _columns(problem: _Problem, index: torch.Tensor, chunk: int) -> torch.Tensor:
    """``H[:, index]``: the products with the basis vectors ``e_i``, ``chunk`` at a time."""
    cols = []
    for start in range(0, len(index), chunk):
        ids = index[start : start + chunk]
        E = torch.zeros(len(ids), problem.N, dtype=problem.dtype, device=problem.device)
        E[torch.arange(len(ids)), ids] = 1.0
        cols.append(problem.products(E).detach())
    return torch.cat(cols).T


def _check_size(n: int, max_weights: int, what: str) -> None:
    if n > max_weights:
        raise InvalidOptionError(
            f"{what} has N={n} weights, more than max_weights={max_weights}",
            fix="raise max_weights if N x N floats fit in memory, or use hessian_operator",
        )


def dense_hessian(model, loss_fn: Loss, data, params=None, max_weights: int = 10_000):
    """The exact Hessian ``[N, N]`` (in the parameters' dtype), from N Hessian-vector products.

    Symmetric up to rounding; refuses N above ``max_weights``.
    """
    problem = _Problem(model, loss_fn, data, params)
    _check_size(problem.N, max_weights, "the model")
    index = torch.arange(problem.N, device=problem.device)
    return _columns(problem, index, _CHUNK)


def layer_blocks(model, loss_fn: Loss, data, params=None, max_weights: int = 10_000):
    """The diagonal block ``∂²L/∂w_t∂w_t`` of each parameter tensor ``t``: ``{name: [n_t, n_t]}``.

    Each block costs ``n_t`` Hessian-vector products; ``max_weights`` bounds
    the largest tensor.
    """
    problem = _Problem(model, loss_fn, data, params)
    blocks, start = {}, 0
    for name, p in problem.params.items():
        n = p.numel()
        _check_size(n, max_weights, f"parameter {name!r}")
        index = torch.arange(start, start + n, device=problem.device)
        blocks[name] = _columns(problem, index, _CHUNK)[start : start + n]
        start += n
    return blocks
