r"""The neural tangent kernel of every member of an ensemble: empirical and at infinite width.

The empirical NTK of a network ``f`` with weights ``w`` and outputs ``k, l`` is

    Θ^{kl}(x, x') = Σ_w ∂f^k(x)/∂w · ∂f^l(x')/∂w.

**Fully connected networks** (:class:`~symscape.nets.FullyConnected`) are a
chain ``z_i = s_i W_i a_i + b_i`` with ``a_0 = x``, ``a_{i+1} = c φ(z_i)``
and ``f = z_L`` (``s_i`` the forward multiplier of the parametrisation, ``c``
the activation's normalisation). The gradient with respect to a layer's
weights is an outer product, ``∂f^k/∂W_i = s_i δ_i^k a_iᵀ``, of the layer's
input and of the signal backpropagated to it, ``δ_L^k = e_k``,
``δ_{i−1}^k = c φ'(z_{i−1}) ⊙ s_i W_iᵀ δ_i^k``. Hence

    Θ^{kl}(x, x') = Σ_i (s_i² a_i(x)·a_i(x') + [b_i]) δ_i^k(x)·δ_i^l(x'),

a sum over layers of products of Gram matrices, ``O(P P' Σ_i (n_i + k m_i))``
operations for a layer ``i`` of fan-in ``n_i`` and width ``m_i``: no per-sample
Jacobian (``P × N``) is ever formed. Every member of the ensemble is done in
the same batched products. ``[b_i]`` is 1 when layer ``i`` has a bias.

**Other architectures** (the :class:`~symscape.nets.ConvNet`) fall back to
per-sample Jacobians from ``torch.func`` (``vmap`` of ``jacrev``),
contracted block by block (``method="jacobian"``; any architecture).

**Memory.** Points are processed in blocks sized so that the working memory —
the features of two blocks and their Gram products — stays under ``memory``
(bytes, or text such as ``"2GiB"``); the features of ``x'`` are kept between
blocks when they fit in half of it. The result itself, ``E·P·k·P'·k``
numbers, is not counted.

**Infinite width.** :func:`ntk_infinite` is the limit ``h → ∞`` of the NTK of
an NTK-parametrised fully connected network at initialisation (Jacot, Gabriel,
Hongler 2018), by the arc-cosine recursion of Cho & Saul (2009) for the
normalised ReLU ``√2 max(0, z)``, and exactly for the linear activation.
Starting from ``Σ_0 = x·x'/d`` and ``Θ_0 = Σ_0`` (+1 with biases: they
start at zero, so they add to Θ, not to Σ), each hidden layer gives

    Σ_{l+1} = E[c²φ(u)φ(v)],  Θ_{l+1} = Θ_l · E[c²φ'(u)φ'(v)] + Σ_{l+1} (+1),

over ``(u, v)`` Gaussian with covariance ``Σ_l``; for ReLU, with ``cos θ =
Σ_l(x, x') / √(Σ_l(x, x) Σ_l(x', x'))``, these are ``√(Σ_l(x,x) Σ_l(x',x'))
(sin θ + (π − θ) cos θ)/π`` and ``(π − θ)/π``. Then ``Θ^{kl} = δ_kl Θ``.

The per-layer kernel equals the Jacobian contraction to rounding:

>>> import torch
>>> from symscape.nets import FullyConnected
>>> net = FullyConnected(input_shape=(5,), depth=2, width=16, bias=True)
>>> params = net.initialize(seeds=[0, 1])
>>> x = torch.randn(7, 5, dtype=torch.float64)
>>> fast, slow = ntk(net, params, x), ntk(net, params, x, method="jacobian")
>>> fast.shape, bool(torch.allclose(fast, slow, rtol=1e-12, atol=1e-12))
(torch.Size([2, 7, 1, 7, 1]), True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure import module_ntk
from symscape.nets import Architecture, FullyConnected, Params
from symscape.nets.activations import activation_derivative, activation_parts
from symscape.validation import parse_memory

__all__ = ["METHODS", "kernel_change", "kernel_regression", "ntk", "ntk_infinite"]

METHODS = ("auto", "layers", "jacobian")
DEFAULT_MEMORY = "1GiB"

# one block's features: [(a [E, B, n] or None (all ones), d [E, B, k, m] or None (e_k), s², bias)]
Features = list[tuple[torch.Tensor | None, torch.Tensor | None, float, bool]]


def _check_params(arch: Architecture, params: Mapping[str, torch.Tensor]) -> int:
    """The ensemble size of ``params``, checked against the layers of ``arch``."""
    if not isinstance(params, Mapping):
        raise InvalidOptionError(
            f"params must be a dict of tensors, got {type(params).__name__}",
            fix="pass arch.initialize(seeds) or a trained record's parameters",
        )
    sizes = set()
    for layer in arch.layers():
        names = [(layer.name, layer.shape)]
        if layer.bias is not None:
            names.append((layer.bias, layer.shape[:1]))
        for name, shape in names:
            p = params.get(name)
            if not isinstance(p, torch.Tensor) or tuple(p.shape[1:]) != tuple(shape):
                got = tuple(p.shape) if isinstance(p, torch.Tensor) else "missing"
                raise InvalidOptionError(
                    f"parameter {name!r} should be [E, {', '.join(map(str, shape))}], got {got}",
                    fix="pass parameters drawn by this architecture (arch.initialize)",
                )
            sizes.add(p.shape[0])
    if len(sizes) != 1:
        raise InvalidOptionError(
            f"parameters disagree on the ensemble size: {sorted(sizes)}",
            fix="give every tensor the same leading (member) axis",
        )
    return sizes.pop()


def _check_points(params: Mapping[str, torch.Tensor], x, x2) -> None:
    """Floating points on the parameters' device (the shapes are the architecture's check)."""
    devices = {p.device for p in params.values()}
    for name, points in (("x", x), ("x2", x2)):
        if points is None:
            continue
        if not points.is_floating_point():
            raise InvalidOptionError(
                f"{name} has dtype {points.dtype}; the NTK needs floating points",
                fix=f"convert it, e.g. {name}.double()",
            )
        if {points.device} != devices:
            raise InvalidOptionError(
                f"{name} is on {points.device}, the parameters on "
                f"{', '.join(sorted(map(str, devices)))}",
                fix="move the points and the parameters to one device",
            )


# --------------------------------------------------------------------- features
def _fc_features(arch: FullyConnected, params: Params, x: torch.Tensor) -> Features:
    """Each layer's input ``a_i`` and backpropagated signal ``δ_i`` on the points ``x``."""
    phi, gain = activation_parts(arch.activation)
    dphi = activation_derivative(arch.activation)
    layers = arch.layers()
    E = params[layers[0].name].shape[0]
    a: torch.Tensor = x.reshape(len(x), -1)
    inputs, slopes = [], []
    for i, layer in enumerate(layers):
        w = params[layer.name]  # [E, m, n]; s multiplies the products, not a copy of w
        inputs.append(a)
        if a.ndim == 2:  # the input, shared by every member
            z = (a @ w.reshape(-1, w.shape[-1]).T).reshape(len(x), E, -1).transpose(0, 1)
        else:
            z = torch.bmm(a, w.transpose(1, 2))
        if layer.scale != 1.0:
            z = z.mul_(layer.scale)
        if layer.bias is not None:
            z = z + params[layer.bias].unsqueeze(-2)
        if i < len(layers) - 1:
            slopes.append(gain * dphi(z))
            a = gain * phi(z)
    features: Features = []
    delta = None  # δ_L^k = e_k
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        features.append((inputs[i], delta, layer.scale**2, layer.bias is not None))
        if i == 0:
            break
        w = params[layer.name]  # [E, m, n]
        if delta is None:  # s e_k W: the rows of W
            back = (w * layer.scale).unsqueeze(1)  # [E, 1, k, n], broadcast over points
        else:
            B, k, m = delta.shape[1:]
            back = torch.bmm(delta.reshape(E, B * k, m), w).reshape(E, B, k, -1)
            if layer.scale != 1.0:
                back = back.mul_(layer.scale)
        delta = back * slopes[i - 1].unsqueeze(2)
    return features


def _jacobian_features(arch: Architecture, params: Params, x: torch.Tensor) -> Features:
    """Per-sample Jacobians ``[E, B, k, N]`` (``torch.func``), one member at a time."""
    from torch.func import jacrev, vmap

    E = next(iter(params.values())).shape[0]

    def single(member, point):
        return arch.apply(member, point.unsqueeze(0))[0, 0]  # [k]

    per_member = []
    for e in range(E):
        member = {n: p[e : e + 1] for n, p in params.items()}
        jac = vmap(jacrev(single), (None, 0))(member, x)  # name -> [B, k, 1, *shape]
        per_member.append(torch.cat([j.flatten(2) for j in jac.values()], -1))
    return [(None, torch.stack(per_member), 1.0, False)]


def _block(f1: Features, f2: Features, k: int) -> torch.Tensor:
    """Σ over layers of (s² a·a' + [b]) δ·δ': ``[E, B1, k, B2, k]``."""
    out = None
    for (a1, d1, s2, bias), (a2, d2, _, _) in zip(f1, f2, strict=True):
        if a1 is None:
            ga = None
        elif a1.ndim == 2:  # shared input: [B1, B2], broadcast over members
            ga = (a1 @ a2.T).mul_(s2).unsqueeze(0)
        else:
            ga = torch.bmm(a1, a2.transpose(1, 2)).mul_(s2)
        if ga is not None and bias:
            ga = ga + 1.0
        if d1 is None:  # the read-out layer: δ·δ' = δ_kl
            eye = torch.eye(k, dtype=ga.dtype, device=ga.device)
            term = ga[:, :, None, :, None] * eye[None, None, :, None, :]
        else:
            E, B1, _, m = d1.shape
            B2 = d2.shape[1]
            gd = torch.bmm(d1.reshape(E, B1 * k, m), d2.reshape(E, B2 * k, m).transpose(1, 2))
            gd = gd.reshape(E, B1, k, B2, k)
            term = gd if ga is None else gd.mul_(ga[:, :, None, :, None])
        out = term if out is None else out.add_(term)
    return out


def _feature_size(arch: Architecture, method: str) -> int:
    """Numbers stored per point and member by the features of ``method``."""
    layers = arch.layers()
    if method == "jacobian":
        biases = sum(layer.shape[0] for layer in layers if layer.bias is not None)
        return arch.k * (arch.n_weights + biases)
    total = 0
    for i, layer in enumerate(layers):
        m, n = layer.shape
        total += (n if i > 0 else 0) + (arch.k * m if i < len(layers) - 1 else 0)
    return total


def _plan(E: int, P: int, feat: int, k: int, itemsize: int, budget: int) -> tuple[int, int]:
    """``(members per chunk, points per block)`` whose working memory fits half ``budget``."""

    def block_points(members: int) -> int:
        # members · itemsize · (2 B feat + 3 B² k²) ≤ budget
        a, b = 3 * k * k, 2 * feat
        c = budget / 2 / (members * itemsize)
        return int((-b + math.sqrt(b * b + 4 * a * c)) / (2 * a))

    members = E
    while members > 1 and block_points(members) < min(P, 64):
        members = max(1, members // 2)
    points = min(P, block_points(members))
    if points < 1:
        need = 2 * itemsize * (2 * feat + 3 * k * k)
        raise InvalidOptionError(
            f"memory budget {budget} bytes is too small for one point ({need} bytes)",
            fix="raise memory= (e.g. '1GiB')",
        )
    return members, points


def ntk(model, *args, **kwargs) -> torch.Tensor:
    """The empirical NTK, of symscape's ensembles or of any PyTorch model.

    * ``ntk(arch, params, x, x2=None, *, memory, method)`` with an
      :class:`~symscape.nets.Architecture` and its ensemble's ``params``:
      ``[E, P, k, P', k]``, every member (below);
    * ``ntk(model, x, x2=None, *, params=None, memory, method)`` with a
      ``torch.nn.Module`` or a function ``f(params, x)``: ``[P, k, P', k]``,
      one network (:func:`symscape.measure.module_ntk.ntk`).
    """
    if isinstance(model, Architecture):
        return _ensemble_ntk(model, *args, **kwargs)
    return module_ntk.ntk(model, *args, **kwargs)


def _ensemble_ntk(
    arch: Architecture,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    memory: int | str = DEFAULT_MEMORY,
    method: str = "auto",
) -> torch.Tensor:
    """The empirical NTK ``Θ^{kl}(x_μ, x'_ν)`` of every member: ``[E, P, k, P', k]``.

    ``x2=None`` means ``x' = x`` (the train×train kernel: computed once per
    pair of blocks, and exactly symmetric). ``method``: ``"layers"`` (the per-layer formula,
    fully connected networks only), ``"jacobian"`` (any architecture) or
    ``"auto"`` (the first that applies). Gradients are not tracked.
    """
    if method not in METHODS:
        raise UnknownNameError(f"unknown NTK method {method!r}", fix=f"use one of {METHODS}")
    if method == "auto":
        method = "layers" if isinstance(arch, FullyConnected) else "jacobian"
    if method == "layers" and not isinstance(arch, FullyConnected):
        raise InvalidOptionError(
            f"method='layers' needs a fully connected network, got {type(arch).__name__}",
            fix="use method='jacobian' (or 'auto')",
        )
    budget = parse_memory(memory, "memory")
    E = _check_params(arch, params)
    arch.check_input(x)
    if x2 is not None:
        arch.check_input(x2)
    _check_points(params, x, x2)
    dtypes = (
        {p.dtype for p in params.values()} | {x.dtype} | ({x2.dtype} if x2 is not None else set())
    )
    if len(dtypes) != 1:
        raise InvalidOptionError(
            f"inputs and parameters have different dtypes: {sorted(map(str, dtypes))}",
            fix="convert the points to the parameters' dtype",
        )
    features = _fc_features if method == "layers" else _jacobian_features
    symmetric = x2 is None
    x2 = x if symmetric else x2
    k, P, P2 = arch.k, len(x), len(x2)
    feat = _feature_size(arch, method)
    out = torch.empty(E, P, k, P2, k, dtype=x.dtype, device=x.device)
    if P == 0 or P2 == 0:
        return out
    members, B = _plan(E, max(P, P2), feat, k, x.element_size(), budget)
    rows = [slice(i, min(i + B, P)) for i in range(0, P, B)]
    cols = rows if symmetric else [slice(i, min(i + B, P2)) for i in range(0, P2, B)]
    keep = members * P2 * feat * x.element_size() <= budget // 2
    with torch.no_grad():
        for e in range(0, E, members):
            chunk = {n: p[e : e + members].detach() for n, p in params.items()}
            cache: dict[int, Features] = {}

            def col_features(j: int, chunk=chunk, cache=cache) -> Features:
                if j in cache:
                    return cache[j]
                f = features(arch, chunk, x2[cols[j]])
                if keep:
                    cache[j] = f
                return f

            for i, r in enumerate(rows):
                f1 = col_features(i) if symmetric else features(arch, chunk, x[r])
                for j, c in enumerate(cols):
                    if symmetric and j < i:
                        continue
                    block = _block(f1, col_features(j), k)
                    if symmetric and j == i:  # exactly symmetric, not to rounding
                        block = (block + block.permute(0, 3, 4, 1, 2)) / 2
                    out[e : e + members, r, :, c, :] = block
                    if symmetric and j > i:
                        out[e : e + members, c, :, r, :] = block.permute(0, 3, 4, 1, 2)
    return out


def kernel_change(theta: torch.Tensor, theta0: torch.Tensor) -> torch.Tensor:
    """``‖Θ − Θ₀‖_F / ‖Θ₀‖_F`` per member (leading axis).

    >>> import torch
    >>> t0 = torch.eye(3).expand(2, 3, 3)
    >>> kernel_change(2 * t0, t0).tolist()
    [1.0, 1.0]
    """
    if theta.shape != theta0.shape:
        raise InvalidOptionError(
            f"kernels of different shapes: {tuple(theta.shape)} and {tuple(theta0.shape)}",
            fix="measure both on the same points and members",
        )
    diff = (theta - theta0).flatten(1).norm(dim=-1)
    return diff / theta0.flatten(1).norm(dim=-1)


def ntk_infinite(arch: FullyConnected, x: torch.Tensor, x2: torch.Tensor | None = None):
    """The infinite-width NTK ``Θ(x_μ, x'_ν)`` of ``arch`` at initialisation: ``[P, P']``.

    ``arch`` must be a :class:`~symscape.nets.FullyConnected` network in the
    ``ntk`` parametrisation with a ``relu`` or ``linear`` activation; its
    width is ignored (the limit). For ``k`` outputs, ``Θ^{kl} = δ_kl Θ``.

    >>> import torch
    >>> from symscape.nets import FullyConnected
    >>> x = 2**0.5 * torch.eye(2, dtype=torch.float64)  # orthogonal, |x|² = d
    >>> theta = ntk_infinite(FullyConnected(input_shape=(2,), depth=1), x)
    >>> torch.allclose(theta, torch.tensor([[2, 1 / torch.pi], [1 / torch.pi, 2]]).double())
    True
    """
    if not isinstance(arch, FullyConnected):
        raise InvalidOptionError(
            f"the infinite-width NTK is implemented for fully connected networks, "
            f"not {type(arch).__name__}",
            fix="build a FullyConnected architecture",
        )
    if arch.parametrization != "ntk" or arch.activation not in ("relu", "linear"):
        raise InvalidOptionError(
            f"the infinite-width NTK needs parametrization='ntk' and activation relu or linear, "
            f"got {arch.parametrization!r} and {arch.activation!r}",
            fix="use parametrization='ntk' with activation='relu' or 'linear'",
        )
    arch.check_input(x)
    if x2 is not None:
        arch.check_input(x2)
    for name, points in (("x", x), ("x2", x2)):
        if points is not None and (points.dtype != x.dtype or not points.is_floating_point()):
            raise InvalidOptionError(
                f"{name} has dtype {points.dtype} (x: {x.dtype}); the kernel needs floating "
                "points of one dtype",
                fix="convert both to one floating dtype, e.g. .double()",
            )
    a = x.reshape(len(x), -1)
    b = a if x2 is None else x2.reshape(len(x2), -1)
    bias = 1.0 if arch.bias else 0.0
    d = a.shape[1]
    s11, s22, s12 = a.square().sum(-1) / d, b.square().sum(-1) / d, a @ b.T / d
    theta = s12 + bias
    if x2 is None:  # the same numbers on the diagonal: cos θ = 1 exactly there, where
        s11 = s22 = s12.diagonal()  # arccos turns a rounding error ε into an angle √(2ε)
    for _ in range(arch.depth):
        if arch.activation == "relu":
            norm = (s11[:, None] * s22[None, :]).sqrt()
            cos = torch.where(norm > 0, s12 / norm.clamp_min(1e-300), 0.0).clamp(-1.0, 1.0)
            angle = torch.arccos(cos)
            s12 = norm * (torch.sin(angle) + (math.pi - angle) * cos) / math.pi
            theta = theta * (math.pi - angle) / math.pi + s12 + bias
        else:
            theta = theta + s12 + bias
    return theta


def kernel_regression(
    theta_train: torch.Tensor,
    theta_test: torch.Tensor,
    y_train: torch.Tensor,
    ridge: float = 0.0,
) -> torch.Tensor:
    """Kernel (ridge) regression with each member's kernel: outputs ``[E, P', k]``.

    ``f(x') = Θ(x', X) (Θ(X, X) + λ I)⁻¹ Y`` with ``λ = ridge · tr Θ / (P k)``
    (``ridge`` is relative to the mean eigenvalue), ``Y`` the labels ±1
    (``k = 1``) or one-hot class indicators. ``theta_train`` is
    ``[E, P, k, P, k]`` and ``theta_test`` ``[E, P', k, P, k]``, as returned by
    :func:`ntk`. With ``ridge=0`` it interpolates the training labels.

    >>> import torch
    >>> theta = torch.eye(3, dtype=torch.float64).reshape(1, 3, 1, 3, 1)
    >>> kernel_regression(theta, theta, torch.tensor([1.0, -1.0, 1.0]))[0, :, 0].tolist()
    [1.0, -1.0, 1.0]
    """
    if theta_train.ndim != 5 or theta_test.ndim != 5:
        raise InvalidOptionError(
            f"kernels must be [E, P, k, P, k], got {tuple(theta_train.shape)} "
            f"and {tuple(theta_test.shape)}",
            fix="pass the outputs of symscape.measure.ntk",
        )
    E, P, k = theta_train.shape[:3]
    if theta_test.shape[0] != E or tuple(theta_test.shape[2:]) != (k, P, k):
        raise InvalidOptionError(
            f"test kernel {tuple(theta_test.shape)} does not fit the training kernel "
            f"{tuple(theta_train.shape)}",
            fix="compute it as ntk(arch, params, x_test, x_train)",
        )
    if y_train.ndim != 1 or len(y_train) != P:
        raise InvalidOptionError(
            f"labels {tuple(y_train.shape)} do not fit {P} training points", fix="pass labels [P]"
        )
    if not ridge >= 0:
        raise InvalidOptionError(f"ridge={ridge} must be >= 0", fix="use e.g. ridge=0 or 1e-6")
    if y_train.is_floating_point():
        targets = y_train.reshape(P, 1).to(theta_train.dtype)
    elif y_train.dtype != torch.bool and bool((y_train >= 0).all()) and int(y_train.max()) < k:
        targets = torch.nn.functional.one_hot(y_train, k).to(theta_train.dtype)
    else:
        raise InvalidOptionError(
            f"labels of dtype {y_train.dtype} must be ±1 floats (k = 1) or class indices "
            f"0..{k - 1}",
            fix="pass the data set's y_train",
        )
    if targets.shape[1] != k:
        raise InvalidOptionError(
            f"labels need {targets.shape[1]} output(s), the kernel has k={k}",
            fix="use ±1 labels with k=1, class indices with k classes",
        )
    gram = theta_train.reshape(E, P * k, P * k)
    if ridge:
        scale = gram.diagonal(dim1=1, dim2=2).mean(-1) * ridge
        gram = gram + scale[:, None, None] * torch.eye(P * k, dtype=gram.dtype, device=gram.device)
    # a kernel of rank < P k (fewer weights than constraints) cannot be inverted: its
    # smallest eigenvalues are rounding noise, and solving would return garbage
    # (an eigendecomposition, not LU: with MKL, batched LU solves break after
    # torch.set_num_threads changes the thread count, as symscape's runs do)
    eigenvalues, vectors = torch.linalg.eigh(gram)
    floor = eigenvalues[:, -1] * P * k * torch.finfo(gram.dtype).eps
    if bool((eigenvalues[:, 0] <= floor).any()):
        raise InvalidOptionError(
            f"the training kernel ({P * k} × {P * k}) is singular: the network has fewer "
            "weights than training constraints, or points repeat",
            fix="use ridge > 0, or a wider network",
        )
    rhs = vectors.transpose(1, 2) @ targets.reshape(1, P * k, 1)
    coef = vectors @ (rhs / eigenvalues.unsqueeze(-1))
    return (theta_test.reshape(E, -1, P * k) @ coef).reshape(E, -1, k)
