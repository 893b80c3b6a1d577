r"""The neural tangent kernel of any PyTorch model, from its layers or from ``torch.func``.

For a model ``f`` with trainable parameters ``w`` (those that require
gradients) and outputs ``k, l`` (one point's output, flattened),

    Θ^{kl}(x, x') = Σ_w ∂f^k(x)/∂w · ∂f^l(x')/∂w.

**Per-layer formula** (``method="layers"``). A linear layer ``z = W a + b``
with input ``a(x)`` and backpropagated output gradient ``δ^k(x) = ∂f^k/∂z``
has ``∂f^k/∂W = δ^k aᵀ`` and ``∂f^k/∂b = δ^k``, an outer product, so its share
of the kernel is a product of two Gram matrices,

    Θ^{kl}(x, x') ∋ (a(x)·a(x') + [b]) (δ^k(x)·δ^l(x')),

with ``[b] = 1`` when the bias is trained. ``a`` comes from a forward hook,
``δ`` from one backward pass per output component over a whole block of
points (the points are independent, so the gradient of ``Σ_μ f^k(x_μ)`` with
respect to ``z(x_μ)`` is ``δ^k(x_μ)``). No per-sample Jacobian (points ×
parameters) is formed. A linear layer applied to inputs with extra axes
``t`` (``[P, T, n]``) and a ``Conv2d`` (its input unfolded into patches
``a_t``) have ``∂f^k/∂W = Σ_t δ_t^k a_tᵀ``: that layer's gradient is formed
per point, exactly, and contracted. The formula applies when every module
that holds trainable parameters is an ``nn.Linear`` or an ``nn.Conv2d``
(zero padding, one group), called once per forward pass; the modules in
between may be anything without trainable parameters (activations,
``Flatten``, pooling, scalings). Before it is trusted, the formula is checked
on the first point against one backward pass, ``vᵀ Θ(x₁, x₁) v =
‖∂(v·f(x₁))/∂w‖²`` for a random ``v`` (a parameter used outside its module's
own call would break it). ``method="auto"`` chooses it when it
applies, and falls back to the Jacobian otherwise.

**Jacobian contraction** (``method="jacobian"``, any model or functional
``f(params, x)``): per-sample Jacobians ``vmap(jacrev(f))`` over the points,
``Σ_w J(x)_w J(x')_wᵀ`` tensor by tensor.

**Memory.** Points are processed in blocks sized so that the working memory —
the features (or Jacobians) of two blocks, the forward graph of one block and
the Gram products — stays under ``memory`` (bytes, or text such as
``"2GiB"``); the features of ``x'`` are kept between blocks when they fit in
half of it. The result, ``P·k·P'·k`` numbers, is not counted.

**Layout.** ``[P, k, P', k]``, ``theta[μ, k, ν, l] = Θ^{kl}(x_μ, x'_ν)``:
one member of the ensemble layout ``[E, P, k, P', k]`` that
:func:`symscape.measure.ntk` returns for symscape's own architectures (a
model here is one network, ``E = 1``: the ensemble kernel's member ``e`` is
this kernel of member ``e`` alone). A model whose output per point is a
scalar has ``k = 1``.

The model is evaluated as it is (``train()`` or ``eval()``); a
``BatchNorm`` in training mode mixes the points of a batch, so there is no
kernel per point: call ``model.eval()``.

>>> import torch
>>> net = torch.nn.Sequential(
...     torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
... ).double()
>>> x = torch.randn(5, 3, dtype=torch.float64)
>>> fast, slow = ntk(net, x), ntk(net, x, method="jacobian")
>>> fast.shape, bool(torch.allclose(fast, slow, rtol=1e-12, atol=1e-12))
(torch.Size([5, 2, 5, 2]), True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure.module import as_functional, check_data
from symscape.validation import parse_memory

__all__ = ["METHODS", "ntk"]

METHODS = ("auto", "layers", "jacobian")
DEFAULT_MEMORY = "1GiB"

# one term of the kernel: (a [B, n] or None, d [B, k, m], bias) adds (a·a' + [bias]) (d·d'),
# or d·d' alone when a is None
Term = tuple[torch.Tensor | None, torch.Tensor, bool]


@dataclass
class _Layer:
    """A module whose trainable parameters the per-layer formula covers."""

    name: str
    module: nn.Module
    weight: bool  # its weight is trained
    bias: bool  # its bias is trained


def ntk(
    model,
    x: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    params: Mapping[str, torch.Tensor] | None = None,
    memory: int | str = DEFAULT_MEMORY,
    method: str = "auto",
) -> torch.Tensor:
    """The empirical NTK ``Θ^{kl}(x_μ, x'_ν)`` of a model: ``[P, k, P', k]``.

    ``model`` is a ``torch.nn.Module`` (its parameters that require gradients;
    ``params`` overrides their values) or a function ``f(params, x)`` with its
    ``params``. ``x2=None`` means ``x' = x`` (exactly symmetric). ``method``:
    ``"layers"`` (the per-layer formula: ``nn.Linear``/``nn.Conv2d`` models),
    ``"jacobian"`` (any model) or ``"auto"``. Gradients are not tracked.
    """
    if method not in METHODS:
        raise UnknownNameError(f"unknown NTK method {method!r}", fix=f"use one of {METHODS}")
    budget = parse_memory(memory, "memory")
    f, params = as_functional(model, params)
    _check_points(params, x, x2)
    _check_batch_norm(model)
    layers = None
    if method != "jacobian":
        layers, reason = _covering_layers(model, params, x[:1])
        if layers is not None and not _agrees_with_jacobian(model, layers, f, params, x[:1]):
            layers = None
            reason = (
                "the per-layer formula does not reproduce a backward pass on x[0] "
                "(a parameter used outside its module's forward?)"
            )
        if layers is None and method == "layers":
            raise InvalidOptionError(
                f"method='layers' does not apply: {reason}", fix="use method='jacobian' or 'auto'"
            )

    def features(points: torch.Tensor) -> list[Term]:
        if layers is None:
            return _jacobian_terms(f, params, points)
        return _layer_terms(model, layers, params, points)

    return _blocked(features, x, x2, budget)


# ------------------------------------------------------------------------ checks
def _check_points(params, x, x2) -> None:
    for name, points in (("x", x), ("x2", x2)):
        if points is None:
            continue
        check_data(params, points, name=name)
        if not points.is_floating_point() or points.ndim < 1 or len(points) == 0:
            raise InvalidOptionError(
                f"{name} must be floating points [P, ...] with P >= 1, got "
                f"{points.dtype} {tuple(points.shape)}",
                fix="pass a float tensor whose first axis runs over the points",
            )
    if x2 is not None and x2.shape[1:] != x.shape[1:]:
        raise InvalidOptionError(
            f"x2 has points of shape {tuple(x2.shape[1:])}, x {tuple(x.shape[1:])}",
            fix="pass points of one shape",
        )


def _check_batch_norm(model) -> None:
    if not isinstance(model, nn.Module):
        return
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.training:
            raise InvalidOptionError(
                f"{type(module).__name__} {name!r} is in training mode: it mixes the points "
                "of a batch, so the kernel per point is undefined",
                fix="call model.eval() first",
            )


def _supported(module: nn.Module) -> str | None:
    """Why the per-layer formula cannot cover ``module``'s parameters (None: it can)."""
    if type(module) is nn.Linear:
        return None
    if type(module) is nn.Conv2d:
        if module.groups != 1 or module.padding_mode != "zeros" or module.padding == "same":
            return "a Conv2d with groups, non-zero or 'same' padding"
        return None
    return f"a {type(module).__name__}"


def _covering_layers(model, params, x1) -> tuple[list[_Layer] | None, str]:
    """The ``Linear``/``Conv2d`` modules holding every trainable parameter, or why not."""
    if not isinstance(model, nn.Module):
        return None, "a function f(params, x) has no modules to hook"
    layers, owner = [], {}
    for prefix, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        names = {n: f"{prefix}.{n}" if prefix else n for n in own}
        for p in own.values():
            if id(p) in owner:
                return None, f"module {prefix!r} shares a parameter with {owner[id(p)]!r}"
            owner[id(p)] = prefix
        trained = {n for n in own if names[n] in params}
        if not trained:
            continue
        why = _supported(module)
        if why is not None:
            return None, f"module {prefix!r} ({why}) has trainable parameters"
        layers.append(_Layer(prefix, module, "weight" in trained, "bias" in trained))
    calls = {layer.name: [] for layer in layers}
    handles = [
        layer.module.register_forward_hook(
            lambda m, i, o, name=layer.name: calls[name].append(o.requires_grad)
        )
        for layer in layers
    ]
    try:
        with torch.enable_grad():
            torch.func.functional_call(model, dict(params), (x1.detach().requires_grad_(True),))
    finally:
        for handle in handles:
            handle.remove()
    for name, seen in calls.items():
        if len(seen) != 1:
            return None, f"module {name!r} is called {len(seen)} times per forward pass"
        if not seen[0]:
            return None, f"the output of module {name!r} does not depend on the input"
    return layers, ""


def _agrees_with_jacobian(model, layers, f, params, x1) -> bool:
    """``vᵀ Θ(x₁, x₁) v`` of the formula equals ``‖∂(v·f(x₁))/∂w‖²``, for a random ``v``.

    One backward pass (memory of one gradient, not of a Jacobian ``k × N``).
    """
    theta = _gram(*[_layer_terms(model, layers, params, x1)] * 2)[0, :, 0, :]
    g = torch.Generator(device=x1.device).manual_seed(0)
    v = torch.randn(len(theta), dtype=x1.dtype, device=x1.device, generator=g)
    with torch.enable_grad():
        _, pull = torch.func.vjp(lambda p: f(p, x1).reshape(-1), dict(params))
        (grad,) = pull(v)
    slow = sum(float(t.square().sum()) for t in grad.values())
    fast = float(v @ theta @ v)
    return abs(fast - slow) <= 1e3 * torch.finfo(x1.dtype).eps * max(slow, 1e-30)


# ---------------------------------------------------------------------- features
def _jacobian_terms(f, params, x: torch.Tensor) -> list[Term]:
    """Per-sample Jacobians ``[B, k, n_w]`` of every parameter tensor ``w``."""
    from torch.func import jacrev, vmap

    def single(values, point):
        return f(values, point.unsqueeze(0)).reshape(-1)

    with torch.enable_grad():
        jac = vmap(jacrev(single), (None, 0))(dict(params), x)
    return [(None, j.reshape(len(x), j.shape[1], -1).detach(), False) for j in jac.values()]


def _layer_terms(model, layers: list[_Layer], params, x: torch.Tensor) -> list[Term]:
    """Each layer's inputs ``a`` and output gradients ``δ^k`` on the points ``x``."""
    records: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(module, inputs, output, name):
        records[name] = (inputs[0].detach(), output)
        return output.clone()  # later in-place operations must not touch the recorded z

    handles = [
        layer.module.register_forward_hook(lambda m, i, o, name=layer.name: hook(m, i, o, name))
        for layer in layers
    ]
    try:
        with torch.enable_grad():
            out = torch.func.functional_call(model, dict(params), (x.detach().requires_grad_(),))
            out = out.reshape(len(x), -1)
            z = [records[layer.name][1] for layer in layers]
            k = out.shape[1]
            per_output = [
                torch.autograd.grad(out[:, c].sum(), z, retain_graph=c < k - 1, allow_unused=True)
                for c in range(k)
            ]
    finally:
        for handle in handles:
            handle.remove()
    terms: list[Term] = []
    for i, layer in enumerate(layers):
        a, zi = records[layer.name][0], z[i]
        d = torch.stack(
            [g[i] if g[i] is not None else torch.zeros_like(zi) for g in per_output], 1
        )  # [B, k, *z.shape[1:]]
        terms += _layer_share(layer, a, d.detach())
    return terms


def _layer_share(layer: _Layer, a: torch.Tensor, d: torch.Tensor) -> list[Term]:
    """The terms of one layer from its input ``a`` and output gradients ``d [B, k, ...]``."""
    B, k = d.shape[:2]
    module = layer.module
    if isinstance(module, nn.Conv2d):
        padding = (0, 0) if module.padding == "valid" else module.padding
        a = nn.functional.unfold(
            a, module.kernel_size, module.dilation, padding, module.stride
        ).transpose(1, 2)  # patches [B, T, n]
        d = d.flatten(3).transpose(2, 3)  # [B, k, T, m]
    elif a.ndim == 2:  # a plain linear layer: the Gram identity
        delta = d.reshape(B, k, -1)
        if layer.weight:
            return [(a.reshape(B, -1), delta, layer.bias)]
        return [(None, delta, False)]
    else:  # a linear layer over extra axes t
        a = a.reshape(B, -1, a.shape[-1])
        d = d.reshape(B, k, -1, d.shape[-1])
    terms: list[Term] = []
    if layer.weight:  # Σ_t δ_t a_tᵀ, per point
        terms.append((None, torch.einsum("bktm,btn->bkmn", d, a).reshape(B, k, -1), False))
    if layer.bias:
        terms.append((None, d.sum(2), False))
    return terms


def _gram(t1: list[Term], t2: list[Term]) -> torch.Tensor:
    """``Σ_terms (a·a' + [b]) d·d'``: ``[B1, k, B2, k]``."""
    out = None
    for (a1, d1, bias), (a2, d2, _) in zip(t1, t2, strict=True):
        (B1, k), B2 = d1.shape[:2], len(d2)
        gd = (d1.reshape(B1 * k, -1) @ d2.reshape(B2 * k, -1).T).reshape(B1, k, B2, k)
        if a1 is not None:
            ga = a1 @ a2.T
            if bias:
                ga = ga + 1.0
            gd = gd.mul_(ga[:, None, :, None])
        out = gd if out is None else out.add_(gd)
    return out


# ------------------------------------------------------------------------ blocks
def _terms_size(terms: list[Term]) -> int:
    """Numbers stored per point by ``terms``."""
    return sum(d[0].numel() + (0 if a is None else a[0].numel()) for a, d, _ in terms)


def _block_points(P: int, feat: int, k: int, itemsize: int, budget: int) -> int:
    """Points per block: ``itemsize (2 B · 2 feat + 3 B² k²) ≤ budget / 2``.

    Features are counted twice: the forward graph (or ``jacrev``'s work)
    of a block holds about as much again.
    """
    a, b, c = 3 * k * k, 4 * feat, budget / 2 / itemsize
    points = int((-b + math.sqrt(b * b + 4 * a * c)) / (2 * a))
    if points < 1:
        need = 2 * itemsize * (4 * feat + 3 * k * k)
        raise InvalidOptionError(
            f"memory budget {budget} bytes is too small for a block of one point ({need} bytes)",
            fix="raise memory= (e.g. '1GiB')",
        )
    return min(P, points)


def _blocked(features, x: torch.Tensor, x2: torch.Tensor | None, budget: int) -> torch.Tensor:
    """``Θ(x, x')`` assembled from blocks of points."""
    symmetric = x2 is None
    x2 = x if symmetric else x2
    first = features(x[:1])
    k, feat = first[0][1].shape[1], _terms_size(first)
    P, P2 = len(x), len(x2)
    B = _block_points(max(P, P2), feat, k, x.element_size(), budget)
    rows = [slice(i, min(i + B, P)) for i in range(0, P, B)]
    cols = rows if symmetric else [slice(i, min(i + B, P2)) for i in range(0, P2, B)]
    keep = P2 * feat * x.element_size() <= budget // 2
    cache: dict[int, list[Term]] = {}

    def col_features(j: int) -> list[Term]:
        if j in cache:
            return cache[j]
        terms = features(x2[cols[j]])
        if keep:
            cache[j] = terms
        return terms

    out = torch.empty(P, k, P2, k, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for i, r in enumerate(rows):
            f1 = col_features(i) if symmetric else features(x[r])
            for j, c in enumerate(cols):
                if symmetric and j < i:
                    continue
                block = _gram(f1, col_features(j))
                if symmetric and j == i:  # exactly symmetric, not to rounding
                    block = (block + block.permute(2, 3, 0, 1)) / 2
                out[r, :, c, :] = block
                if symmetric and j > i:
                    out[c, :, r, :] = block.permute(2, 3, 0, 1)
    return out
