r"""The loss and error of a model at many weight vectors, as batched computations.

The points of a landscape are weight vectors ``w_g = w₀ + Σ_j c_{gj} d_j``: a
base ``w₀`` (or none) plus a few directions ``d_j`` with one row of
coefficients per point (a line: ``w + a d``; a plane: ``w + a d₁ + b d₂``; a
straight path: ``(1 − t) w_a + t w_b``). :func:`evaluate` returns the loss (and
the error) at every point over a data set:

``L(w_g) = Σ_b (n_b / n) L_b(w_g)``, the mean over the batches weighted by
their sizes ``n_b`` (exact for a loss that is a mean over its batch; one batch
is used as it is).

**Batched.** For one of symscape's ensemble networks
(:class:`symscape.nets.Architecture`, weights ``[E, ...]``), a chunk of points
is stacked on the ensemble axis and evaluated by one ``arch.apply``; for a
``torch.nn.Module`` or a functional ``f(params, x)``, by
``torch.func.vmap`` over the points (``functional_call``), or point by point
where vmap fails (data-dependent control flow, ``.item()``, random layers).
The loss is vmapped over the points the same way. Chunks are sized so that
the stacked weights plus every tensor that one point's evaluation creates
(counted once, on the first batch) stay within ``memory`` — and, on a CPU,
within ``CPU_CHUNK_BYTES`` (4 MiB): chunks that stay in cache run fastest there
(measured: a chunk of 512 MiB of tensors ran 2–5× slower than one of 4 MiB).

>>> import torch
>>> from symscape.nets import FullyConnected
>>> net = FullyConnected(input_shape=(3,), depth=1, width=4)
>>> w = member(net.initialize([0]), 0)
>>> x, y = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)
>>> mse = lambda out, y: ((out - y) ** 2).mean()
>>> loss, error = evaluate(net, mse, (x, y), w, [w], [[0.0], [-1.0]])  # at w, at w - w = 0
>>> at_w = mse(net.apply({k: v[None] for k, v in w.items()}, x)[0], y)
>>> bool(loss[0] == at_w), bool(loss[1] == (y**2).mean())
(True, True)
>>> error is None  # real-valued targets: no classification error
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from symscape.errors import InvalidOptionError
from symscape.measure.directions import check_direction
from symscape.measure.module import as_functional, batches, check_data, scalar_loss
from symscape.nets import Architecture
from symscape.validation import parse_memory

__all__ = ["DEFAULT_MEMORY", "evaluate", "member"]

DEFAULT_MEMORY = "512MiB"
CPU_CHUNK_BYTES = 4 << 20
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def member(params: Mapping[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    """Member ``i`` of ensemble parameters ``[E, ...]``: ``{name: tensor[i]}``, the weights of
    one network as the landscape functions take them."""
    return {name: value[i] for name, value in params.items()}


def _member_params(arch: Architecture, params) -> dict[str, torch.Tensor]:
    """One member's parameters of ``arch`` (no ensemble axis), checked name by name."""
    if not isinstance(params, Mapping):
        raise InvalidOptionError(
            f"params must be a dict of tensors, got {type(params).__name__}",
            fix="pass one member's weights: member(arch.initialize(seeds), i)",
        )
    shapes = {}
    for layer in arch.layers():
        shapes[layer.name] = tuple(layer.shape)
        if layer.bias is not None:
            shapes[layer.bias] = tuple(layer.shape[:1])
    if set(params) != set(shapes):
        missing, extra = sorted(set(shapes) - set(params)), sorted(set(params) - set(shapes))
        raise InvalidOptionError(
            f"params do not match {type(arch).__name__} (missing {missing}, unknown {extra})",
            fix="pass one member's weights of this architecture: member(params, i)",
        )
    for name, shape in shapes.items():
        p = params[name]
        if not isinstance(p, torch.Tensor) or not p.is_floating_point():
            raise InvalidOptionError(
                f"params[{name!r}] is not a floating tensor", fix="pass floating tensors"
            )
        if tuple(p.shape) != shape:
            raise InvalidOptionError(
                f"params[{name!r}] has shape {tuple(p.shape)}, one member of "
                f"{type(arch).__name__} {shape}",
                fix="take one member of ensemble weights [E, ...]: member(params, i)",
            )
    return {name: params[name].detach() for name in shapes}


class _Model:
    """A model as ``one(p, x) -> outputs`` and ``many(stacked [G, ...], x) -> [G, ...]``."""

    def __init__(self, model, params):
        if isinstance(model, Architecture):
            self.params = _member_params(model, params)
            self.arch, self.f = model, None
        else:
            self.arch = None
            self.f, self.params = as_functional(model, params)
        self.vmap_works = True

    def one(self, p: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        if self.arch is not None:
            return self.arch.apply({n: v.unsqueeze(0) for n, v in p.items()}, x)[0]
        return self.f(p, x)

    def many(self, stacked: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        if self.arch is not None:  # the ensemble axis is a batch of weight vectors
            return self.arch.apply(stacked, x)
        if self.vmap_works:
            try:
                return torch.func.vmap(self.f, in_dims=(0, None))(dict(stacked), x)
            except (RuntimeError, NotImplementedError):
                self.vmap_works = False
        G = len(next(iter(stacked.values())))
        return torch.stack([self.f({n: v[g] for n, v in stacked.items()}, x) for g in range(G)])


def _default_error(out: torch.Tensor, y: torch.Tensor) -> Loss | None:
    """The classification error when ``y`` are labels: integer classes with ``k > 1``
    outputs (argmax), or ±1 with one output (sign); ``None`` for other targets."""
    if not y.is_floating_point() and out.dim() == 2 and out.shape[-1] > 1:
        return _argmax_error
    single = out.dim() == 1 or (out.dim() == 2 and out.shape[-1] == 1)
    if single and y.is_floating_point() and y.numel() == len(out) and bool((y.abs() == 1).all()):
        return _sign_error
    return None


def _argmax_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    wrong = (out.argmax(-1) != y) | ~torch.isfinite(out).all(-1)
    return wrong.to(out.dtype).mean()


def _sign_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = out.reshape(len(out))
    wrong = (y.reshape(len(out)) * out <= 0) | ~torch.isfinite(out)
    return wrong.to(out.dtype).mean()


class _Bytes(TorchDispatchMode):
    """Counts the bytes of the distinct storages that the operations create."""

    def __init__(self):
        super().__init__()
        self.total, self.seen = 0, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if storage.data_ptr() not in self.seen:
                    self.seen.add(storage.data_ptr())
                    self.total += storage.nbytes()
        return out


def _per_point(
    model: _Model, loss_fn: Loss, error_fn, p, x, y
) -> tuple[torch.Tensor, torch.Tensor | None, Loss | None, int]:
    """One point's loss and error (checked to be scalars), the error function in use, and
    the bytes its evaluation creates."""
    counter = _Bytes()
    with counter:
        out = model.one(p, x)
        loss = scalar_loss(loss_fn(out, y))
        if error_fn is None:
            error_fn = _default_error(out, y)
        elif error_fn is False:
            error_fn = None
        error = None if error_fn is None else scalar_loss(error_fn(out, y), "error_fn")
    return loss, error, error_fn, counter.total


def _reduce(fn: Loss, outputs: torch.Tensor, y: torch.Tensor, batched: bool) -> torch.Tensor:
    """``fn(outputs[g], y)`` for every g: ``[G]``."""
    if batched:
        try:
            return torch.func.vmap(fn, in_dims=(0, None))(outputs, y).reshape(len(outputs))
        except (RuntimeError, NotImplementedError):
            pass
    return torch.stack([fn(o, y).reshape(()) for o in outputs])


def evaluate(
    model,
    loss_fn: Loss,
    data,
    base: Mapping[str, torch.Tensor] | None,
    directions: Sequence[Mapping[str, torch.Tensor]],
    coefficients,
    *,
    error_fn: Loss | bool | None = None,
    memory: int | str = DEFAULT_MEMORY,
    batched: bool = True,
    labels: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(loss [G], error [G] or None)`` at ``w_g = base + Σ_j coefficients[g, j] directions[j]``
    (``base=None``: no base), float64 numpy arrays.

    ``model``: a :class:`symscape.nets.Architecture` (the weights are one
    member's, without the ensemble axis), a ``torch.nn.Module`` or a functional
    ``f(params, x)``. ``loss_fn(outputs, y)`` and ``error_fn(outputs, y)`` return
    one number; ``error_fn=None`` is the classification error where ``y`` are
    labels, and no error otherwise; ``error_fn=False``, no error.
    ``batched=False`` evaluates the points one at a time (the reference the
    batched path is checked against). ``labels`` name the directions in error
    messages (``"direction j"`` by default).
    """
    budget = parse_memory(memory, "memory")
    if not callable(loss_fn):
        raise InvalidOptionError(
            f"loss_fn is a {type(loss_fn).__name__}", fix="pass loss_fn(outputs, y) -> scalar"
        )
    if not directions:
        raise InvalidOptionError("no direction given", fix="pass at least one direction")
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if coefficients.ndim != 2 or coefficients.shape[1] != len(directions):
        raise InvalidOptionError(
            f"coefficients of shape {coefficients.shape} for {len(directions)} direction(s)",
            fix="pass one row per point and one column per direction",
        )
    model = _Model(model, base if base is not None else directions[0])
    ref = model.params
    labels = labels or [f"direction {j}" for j in range(len(directions))]
    directions = [
        check_direction(ref, d, label) for d, label in zip(directions, labels, strict=True)
    ]
    base = None if base is None else model.params
    stacks = {n: torch.stack([d[n] for d in directions]) for n in ref}  # [m, *shape]
    any_ref = next(iter(ref.values()))
    C = torch.as_tensor(coefficients, dtype=any_ref.dtype, device=any_ref.device)

    def points(rows: slice) -> dict[str, torch.Tensor]:
        out = {n: torch.tensordot(C[rows], s, dims=1) for n, s in stacks.items()}
        return out if base is None else {n: base[n] + out[n] for n in out}

    G = len(C)
    # on a CPU, chunks whose tensors stay in cache run fastest; a GPU takes the whole budget
    cache = CPU_CHUNK_BYTES if any_ref.device.type == "cpu" else budget
    per_batch: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []
    param_bytes = sum(p.numel() for p in ref.values()) * any_ref.element_size()
    bytes_per_datum = None
    with torch.no_grad():
        for x, y in batches(data):
            check_data(ref, x)
            check_data(ref, y, name="y")
            if bytes_per_datum is None:
                p0 = {n: v[0] for n, v in points(slice(0, 1)).items()}
                _, _, error_fn, footprint = _per_point(model, loss_fn, error_fn, p0, x, y)
                bytes_per_datum = footprint / max(len(x), 1)
            need = param_bytes + bytes_per_datum * len(x)
            chunk = int(min(budget, cache) // need) if batched else 1
            if budget < need:
                raise InvalidOptionError(
                    f"memory budget {budget} bytes is too small for one point on a batch of "
                    f"{len(x)} inputs ({int(need)} bytes)",
                    fix="raise memory= (e.g. '1GiB') or pass the data in smaller batches",
                )
            chunk = max(chunk, 1)
            losses, errors = [], []
            for start in range(0, G, chunk):
                stacked = points(slice(start, min(start + chunk, G)))
                if batched:
                    outputs = model.many(stacked, x)
                else:
                    outputs = model.one({n: v[0] for n, v in stacked.items()}, x).unsqueeze(0)
                losses.append(_reduce(loss_fn, outputs, y, batched))
                if error_fn is not None:
                    errors.append(_reduce(error_fn, outputs, y, batched))
            per_batch.append(
                (len(x), torch.cat(losses), torch.cat(errors) if error_fn is not None else None)
            )
    return _combine([(n, loss) for n, loss, _ in per_batch]), (
        None if error_fn is None else _combine([(n, err) for n, _, err in per_batch])
    )


def _combine(parts: list[tuple[int, torch.Tensor]]) -> np.ndarray:
    """``Σ_b (n_b / n) v_b`` in float64 (one batch: ``v_b`` itself)."""
    if len(parts) == 1:
        return parts[0][1].detach().to("cpu", torch.float64).numpy()
    total = sum(n for n, _ in parts)
    return sum(n / total * v.detach().to("cpu", torch.float64).numpy() for n, v in parts)
