"""Ensemble-batched networks: counts, inits, parametrisations, agreement with plain torch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.nets import ConvNet, FullyConnected, build_architecture, layer_widths


def x64(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_n_weights_counts_weights_only():
    net = FullyConnected(input_shape=(10,), depth=3, width=7, bias=True)
    assert net.n_weights == 10 * 7 + 7 * 7 + 7 * 7 + 7 * 1
    assert net.n_parameters == net.n_weights + 7 + 7 + 7 + 1
    assert build_architecture("linear", (13,)).n_weights == 13
    cnn = ConvNet(input_shape=(3, 8, 8), depth=2, width=5)
    assert cnn.n_weights == 3 * 5 * 9 + 5 * 5 * 9 + 5


def test_fractional_widths_sweep_N_almost_continuously():
    assert layer_widths(12, 4) == [12] * 4
    counts = [
        FullyConnected(input_shape=(10,), depth=3, width=h).n_weights
        for h in [8 + i / 3 for i in range(13)]
    ]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    # a third of a unit more width adds one unit to exactly one layer
    assert layer_widths(8 + 1 / 3, 3) == [9, 8, 8]


def test_member_depends_on_its_own_seed_only():
    net = FullyConnected(input_shape=(6,), depth=2, width=9, init="orthogonal")
    alone = net.initialize([7])
    ensemble = net.initialize([3, 7, 11])
    for name in alone:
        assert torch.equal(alone[name][0], ensemble[name][1])
    x = x64(20, 6)
    assert torch.allclose(net.apply(alone, x)[0], net.apply(ensemble, x)[1], rtol=0, atol=1e-13)


def test_orthogonal_init_is_orthogonal_with_unit_second_moment():
    net = FullyConnected(input_shape=(30,), depth=1, width=50, init="orthogonal")
    w0 = net.initialize([0])["w0"][0]  # [50, 30]: orthogonal columns
    gram = w0.T @ w0
    assert torch.allclose(gram, gram[0, 0] * torch.eye(30, dtype=torch.float64), atol=1e-10)
    assert math.isclose(float(w0.pow(2).mean()), 1.0, rel_tol=1e-12)


def test_standard_and_ntk_parametrisations_are_the_same_function_at_init():
    x = x64(15, 4)
    kwargs = dict(input_shape=(4,), depth=2, width=11)
    standard = FullyConnected(parametrization="standard", **kwargs)
    ntk = FullyConnected(parametrization="ntk", **kwargs)
    mean_field = FullyConnected(parametrization="mean-field", **kwargs)
    f_standard = standard.apply(standard.initialize([5]), x)
    f_ntk = ntk.apply(ntk.initialize([5]), x)
    f_mf = mean_field.apply(mean_field.initialize([5]), x)
    assert torch.allclose(f_standard, f_ntk, atol=1e-12)
    assert torch.allclose(f_mf, f_ntk / math.sqrt(11), atol=1e-12)


def test_fc_agrees_with_a_plain_torch_network():
    net = FullyConnected(input_shape=(5,), depth=2, width=6, bias=True, activation="tanh")
    params = net.initialize([0, 1])
    for name in params:  # non-zero biases, to test them too
        if name.startswith("b"):
            params[name] = x64(*params[name].shape, seed=3)
    x = x64(8, 5)
    # c = 1/√E[tanh(z)²], z ~ N(0, 1), by Gauss–Hermite (converged to 1e-15 at 200 nodes:
    # tanh's poles at ±iπ/2 keep it analytic in a strip)
    t, w = np.polynomial.hermite.hermgauss(200)
    c = 1 / math.sqrt((w * np.tanh(math.sqrt(2) * t) ** 2).sum() / math.sqrt(math.pi))
    for e in range(2):
        h = x
        for i in range(3):
            h = F.linear(h, params[f"w{i}"][e] / math.sqrt(h.shape[1]), params[f"b{i}"][e])
            if i < 2:
                h = torch.tanh(h) * c
        torch.testing.assert_close(net.apply(params, x)[e], h, rtol=1e-12, atol=1e-12)


def test_cnn_groups_agree_with_one_convolution_per_member():
    net = ConvNet(input_shape=(2, 7, 7), depth=3, width=4, stride=2, bias=True)
    params = net.initialize([0, 1, 2])
    params["conv1_bias"] = x64(3, 4, seed=1)
    x = x64(5, 2, 7, 7)
    out = net.apply(params, x)
    relu = lambda z: math.sqrt(2) * torch.relu(z)  # noqa: E731
    for e in range(3):
        h = x
        for i in range(3):
            w = params[f"conv{i}"][e]
            h = F.conv2d(
                h,
                w / math.sqrt(w[0].numel()),
                params[f"conv{i}_bias"][e],
                stride=1 if i == 0 else 2,
                padding=1,
            )
            h = relu(h)
        h = h.mean((-2, -1)) @ params["readout"][e].T / 2 + params["readout_bias"][e]
        assert torch.allclose(out[e], h, atol=1e-12)


def test_bad_architectures_are_clear_errors():
    with pytest.raises(InvalidOptionError, match="image inputs"):
        ConvNet(input_shape=(10,))
    with pytest.raises(InvalidOptionError, match="width=0"):
        FullyConnected(input_shape=(3,), width=0)
    with pytest.raises(UnknownNameError, match="unknown activation 'gelu'"):
        FullyConnected(input_shape=(3,), activation="gelu")
    with pytest.raises(UnknownNameError, match="unknown architecture"):
        build_architecture("transformer", (3,))
    net = FullyConnected(input_shape=(3,))
    with pytest.raises(InvalidOptionError, match=r"expects inputs \[P, 3\]"):
        net.apply(net.initialize([0]), torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(InvalidOptionError, match="seeds"):
        net.initialize([])
