"""The NTK of any PyTorch model: per-layer formula and Jacobian path against vmap(jacrev)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure import module_ntk, ntk, ntk_infinite
from symscape.nets import PARAMETRIZATIONS, FullyConnected
from symscape.nets.activations import activation_parts

F64 = torch.float64


class Scale(nn.Module):
    """Multiplies by a constant: a module without parameters."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def _reference(f, params, x, x2):
    """Θ by the plain recipe: vmap(jacrev) per point, Σ over parameter tensors of J J'ᵀ."""

    def single(p, point):
        return f(p, point.unsqueeze(0)).reshape(-1)

    j1 = vmap(jacrev(single), (None, 0))(params, x)
    j2 = vmap(jacrev(single), (None, 0))(params, x2)
    return sum(torch.einsum("akn,bln->akbl", j1[n].flatten(2), j2[n].flatten(2)) for n in params)


def _module_reference(model, x, x2=None):
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}

    def f(p, points):
        return functional_call(model, p, (points,))

    return _reference(f, params, x, x if x2 is None else x2)


def _points(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _mlp(k: int, bias: bool, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 6, bias=bias),
        nn.Tanh(),
        nn.Linear(6, 5, bias=bias),
        nn.ReLU(),
        nn.Linear(5, k, bias=bias),
    ).double()


def _spy_jacobian(monkeypatch) -> list[int]:
    """The numbers of points the Jacobian path is asked for."""
    sizes, inner = [], module_ntk._jacobian_terms

    def spy(f, params, x):
        sizes.append(len(x))
        return inner(f, params, x)

    monkeypatch.setattr(module_ntk, "_jacobian_terms", spy)
    return sizes


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
def test_both_methods_equal_vmap_jacrev(k, bias):
    model = _mlp(k, bias)
    x, x2 = _points(9, 4), _points(5, 4, seed=1)
    for other in (None, x2):
        reference = _module_reference(model, x, other)
        for method in ("layers", "jacobian", "auto"):
            theta = ntk(model, x, other, method=method)
            assert theta.shape == (9, k, 9 if other is None else 5, k)
            torch.testing.assert_close(theta, reference, rtol=1e-12, atol=1e-12)
    symmetric = ntk(model, x)
    assert torch.equal(symmetric, symmetric.permute(2, 3, 0, 1))


def test_auto_takes_the_layers_for_linear_models_and_the_jacobian_otherwise(monkeypatch):
    sizes = _spy_jacobian(monkeypatch)
    x = _points(12, 4)
    ntk(_mlp(2, True), x)
    assert sizes == []  # no Jacobian at all
    sizes.clear()
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 1))
    model = model.double().eval()
    theta = ntk(model, x)
    assert max(sizes) == 12
    torch.testing.assert_close(theta, _module_reference(model, x), rtol=1e-12, atol=1e-12)


def test_frozen_parameters_are_not_in_the_kernel():
    model = _mlp(2, True)
    x = _points(6, 4)
    whole = ntk(model, x)
    model[2].weight.requires_grad_(False)
    model[4].bias.requires_grad_(False)
    reference = _module_reference(model, x)
    for method in ("layers", "jacobian"):
        theta = ntk(model, x, method=method)
        torch.testing.assert_close(theta, reference, rtol=1e-12, atol=1e-12)
    assert (whole - theta).abs().max() > 1e-3  # the frozen tensors' share is gone


def test_scalar_output_convolutions_and_linear_over_extra_axes(monkeypatch):
    torch.manual_seed(1)
    scalar = nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 1), nn.Flatten(0)).double()
    conv = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 2, stride=2, dilation=1, bias=False),
        nn.Tanh(),
        nn.Conv2d(4, 2, 2, padding="valid", dilation=2),
        nn.Flatten(),
        nn.Linear(2 * 2 * 2, 3),
    ).double()
    axes = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), nn.Flatten()).double()
    sizes = _spy_jacobian(monkeypatch)
    for model, x in (
        (scalar, _points(6, 4)),
        (conv, _points(5, 2, 8, 8)),
        (axes, _points(5, 4, 3)),
    ):
        theta = ntk(model, x, method="layers")
        torch.testing.assert_close(theta, _module_reference(model, x), rtol=1e-12, atol=1e-12)
    assert ntk(scalar, _points(6, 4)).shape == (6, 1, 6, 1)
    assert sizes == []


@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_equals_symscapes_own_fully_connected_kernel(parametrization, activation):
    # z_i = s_i W_i a_i + b_i, a_{i+1} = c φ(z_i): Scale(s_i c) before nn.Linear(W_i, b_i)
    net = FullyConnected(
        (5,), k=2, depth=2, width=7, bias=True, activation=activation,
        parametrization=parametrization,
    )  # fmt: skip
    params = net.initialize([3])
    g = torch.Generator().manual_seed(2)
    params = {
        n: p + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in params.items()
    }
    gain = activation_parts(activation)[1]
    modules = []
    for i, layer in enumerate(net.layers()):
        if i:
            modules.append(nn.Tanh() if activation == "tanh" else nn.ReLU())
        modules.append(Scale(layer.scale * (gain if i else 1.0)))
        linear = nn.Linear(layer.shape[1], layer.shape[0], dtype=F64)
        with torch.no_grad():
            linear.weight.copy_(params[layer.name][0])
            linear.bias.copy_(params[layer.bias][0])
        modules.append(linear)
    model = nn.Sequential(*modules)
    x, x2 = _points(8, 5), _points(4, 5, seed=1)
    torch.testing.assert_close(model(x), net.apply(params, x)[0], rtol=1e-13, atol=1e-13)
    for other in (None, x2):
        torch.testing.assert_close(
            ntk(model, x, other, method="layers"),
            ntk(net, params, x, other)[0],
            rtol=1e-12,
            atol=1e-12,
        )


@pytest.mark.parametrize("bias", [False, True])
def test_large_width_is_the_arc_cosine_kernel(bias):
    d, h = 3, 4096
    torch.manual_seed(0)
    model = nn.Sequential(
        Scale(1 / math.sqrt(d)),
        nn.Linear(d, h, bias=bias),
        nn.ReLU(),
        Scale(math.sqrt(2 / h)),
        nn.Linear(h, 1, bias=bias),
    ).double()
    with torch.no_grad():  # NTK parametrisation: N(0, 1) weights, biases start at zero
        for name, p in model.named_parameters():
            p.normal_() if name.endswith("weight") else p.zero_()
    x = _points(6, d)
    x = x / x.norm(dim=1, keepdim=True) * math.sqrt(d)
    x[1] = -x[0]  # the full range of angles
    theta = ntk(model, x)[:, 0, :, 0]
    limit = ntk_infinite(FullyConnected((d,), depth=1, bias=bias), x)
    # fluctuations of order Θ/√h at finite width
    assert (theta - limit).abs().max() < 4 * limit.abs().max() / math.sqrt(h)
    assert (theta - limit).abs().max() > 1e-6  # finite width: not the limit itself


def test_memory_blocks_change_nothing(monkeypatch):
    model = _mlp(3, True)
    x, x2 = _points(23, 4), _points(11, 4, seed=1)
    blocks, inner = [], module_ntk._gram
    monkeypatch.setattr(module_ntk, "_gram", lambda a, b: blocks.append(1) or inner(a, b))
    for method in ("layers", "jacobian"):
        for other in (None, x2):
            whole = ntk(model, x, other, method=method)
            for memory in ("40kB", 20_000):
                blocks.clear()
                theta = ntk(model, x, other, memory=memory, method=method)
                assert len(blocks) > 4  # several blocks
                torch.testing.assert_close(theta, whole, rtol=1e-13, atol=1e-13)


def test_a_functional_model_and_the_fallbacks_equal_the_reference():
    g = torch.Generator().manual_seed(4)
    params = {"w": torch.randn(5, 3, dtype=F64, generator=g), "v": torch.randn(5, 2, dtype=F64)}

    def f(p, x):
        return torch.tanh(x @ p["w"].T) @ p["v"]

    x = _points(7, 3)
    torch.testing.assert_close(ntk(f, x, params=params), _reference(f, params, x, x))
    with pytest.raises(InvalidOptionError, match=r"f\(params, x\) has no modules to hook"):
        ntk(f, x, params=params, method="layers")

    class Tied(nn.Module):  # a weight used outside its module's own call
        def __init__(self):
            super().__init__()
            self.inner, self.out = nn.Linear(3, 3), nn.Linear(3, 1)

        def forward(self, x):
            return self.out(torch.tanh(self.inner(x)) @ self.inner.weight)

    shared = nn.Linear(3, 3)  # one module called twice
    twice = nn.Sequential(shared, nn.Tanh(), shared, nn.Tanh(), nn.Linear(3, 2))
    for model, message in (
        (Tied(), "does not reproduce a backward pass"),
        (twice, "called 2 times"),
    ):
        model = model.double()
        torch.testing.assert_close(ntk(model, x), _module_reference(model, x))
        with pytest.raises(InvalidOptionError, match=message):
            ntk(model, x, method="layers")


def test_each_bad_input_gets_one_line():
    model, x = _mlp(2, True), _points(4, 4)
    frozen = _mlp(1, False).requires_grad_(False)
    with pytest.raises(InvalidOptionError, match="no parameter that requires gradients"):
        ntk(frozen, x)
    with pytest.raises(
        InvalidOptionError, match=r"x is torch.float32, the parameters torch.float64"
    ):
        ntk(model, x.float())
    with pytest.raises(InvalidOptionError, match=r"x2 has points of shape \(3,\), x \(4,\)"):
        ntk(model, x, x[:, :3])
    with pytest.raises(
        InvalidOptionError, match=r"memory budget 100 bytes is too small.*raise memory="
    ):
        ntk(model, x, memory=100)
    with pytest.raises(UnknownNameError, match="unknown NTK method 'exact'"):
        ntk(model, x, method="exact")
    batch_norm = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 1)).double()
    with pytest.raises(InvalidOptionError, match=r"BatchNorm1d '1' is in training mode.*eval\(\)"):
        ntk(batch_norm, x)
    with pytest.raises(InvalidOptionError, match=r"module '1' \(a BatchNorm1d\) has trainable"):
        ntk(batch_norm.eval(), x, method="layers")
