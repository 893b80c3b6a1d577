"""The empirical NTK (per-layer formula), its Jacobian baseline and the infinite-width limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure import kernel_change, ntk, ntk_infinite
from symscape.nets import PARAMETRIZATIONS, ConvNet, FullyConnected
from symscape.nets.activations import ACTIVATIONS, activation_derivative


def _perturbed(net, seeds, scale=0.1):
    """Parameters away from init (biases non-zero), so every term of the formula counts."""
    params = net.initialize(seeds)
    g = torch.Generator().manual_seed(123)
    return {
        n: p + scale * torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in params.items()
    }


def _autograd_kernel(net, params, e, x, x2):
    """Θ of member ``e`` from one backward pass per (point, output): the definition."""

    def jacobian(points):
        rows = []
        for point in points:
            for out in range(net.k):
                member = {n: p[e : e + 1].clone().requires_grad_(True) for n, p in params.items()}
                value = net.apply(member, point.unsqueeze(0))[0, 0, out]
                grads = torch.autograd.grad(value, list(member.values()))
                rows.append(torch.cat([g.flatten() for g in grads]))
        return torch.stack(rows)

    j1, j2 = jacobian(x), jacobian(x2)
    return (j1 @ j2.T).reshape(len(x), net.k, len(x2), net.k)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("parametrization", PARAMETRIZATIONS)
def test_per_layer_formula_equals_the_jacobian_contraction(activation, depth, parametrization):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 4, 3, dtype=torch.float64, generator=g)
    x2 = torch.randn(5, 4, 3, dtype=torch.float64, generator=g)
    for bias in (False, True):
        net = FullyConnected(
            (4, 3),
            k=3,
            depth=depth,
            width=7,
            bias=bias,
            activation=activation,
            parametrization=parametrization,
        )
        params = _perturbed(net, [0, 1, 2])
        for other in (None, x2):
            fast = ntk(net, params, x, other)
            slow = ntk(net, params, x, other, method="jacobian")
            torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    # and the Jacobian path against one backward pass per (point, output)
    reference = _autograd_kernel(net, params, 1, x[:4], x2[:3])
    torch.testing.assert_close(
        ntk(net, params, x[:4], x2[:3])[1], reference, rtol=1e-12, atol=1e-12
    )


def test_blocks_and_member_chunks_change_nothing():
    net = FullyConnected((6,), k=2, depth=2, width=9, bias=True)
    params = _perturbed(net, [0, 1, 2, 3, 4])
    x = torch.randn(23, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    whole = ntk(net, params, x)
    # one block of chunks of (2, 2, 1) members; several blocks; single members too
    for memory in (400_000, 40_000, 6_000, "3kB"):
        torch.testing.assert_close(
            ntk(net, params, x, memory=memory), whole, rtol=1e-13, atol=1e-13
        )
        torch.testing.assert_close(
            ntk(net, params, x, x[:11], memory=memory), whole[:, :, :, :11], rtol=1e-13, atol=1e-13
        )


def test_kernel_is_symmetric_and_positive():
    """Θ(x, x') = Θ(x', x)ᵀ and Θ ⪰ 0, on kernels computed with x2 given (no block is
    mirrored: ``ntk(x)`` fills its lower blocks from the upper ones, so its symmetry
    alone would prove nothing)."""
    net = FullyConnected((5,), depth=2, width=12)
    params = net.initialize([0, 1])
    z = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x, y = z[:17], z[17:]
    xy = ntk(net, params, x, y, memory=20_000)[:, :, 0, :, 0]
    yx = ntk(net, params, y, x, memory=20_000)[:, :, 0, :, 0]
    torch.testing.assert_close(xy, yx.transpose(1, 2), rtol=1e-13, atol=1e-13)
    full = ntk(net, params, z, z.clone(), memory=20_000)[:, :, 0, :, 0]
    torch.testing.assert_close(full, full.transpose(1, 2), rtol=1e-13, atol=1e-13)
    assert float(torch.linalg.eigvalsh((full + full.transpose(1, 2)) / 2).min()) > -1e-10
    mirrored = ntk(net, params, z, memory=20_000)[:, :, 0, :, 0]
    torch.testing.assert_close(mirrored, full, rtol=1e-13, atol=1e-13)


def test_each_member_is_the_network_alone():
    net = FullyConnected((5,), depth=2, width=10, activation="tanh")
    x = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    together = ntk(net, net.initialize([4, 7]), x)
    alone = ntk(net, net.initialize([7]), x)
    torch.testing.assert_close(together[1:], alone, rtol=1e-13, atol=1e-13)


def test_convnet_kernel_matches_autograd():
    net = ConvNet(input_shape=(2, 6, 6), k=2, depth=2, width=3, bias=True)
    params = _perturbed(net, [0, 1])
    g = torch.Generator().manual_seed(4)
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64, generator=g)
    x2 = torch.randn(3, 2, 6, 6, dtype=torch.float64, generator=g)
    theta = ntk(net, params, x, x2, memory=50_000)
    assert theta.shape == (2, 4, 2, 3, 2)
    for e in range(2):
        reference = _autograd_kernel(net, params, e, x, x2)
        torch.testing.assert_close(theta[e], reference, rtol=1e-12, atol=1e-12)


def test_wide_network_kernel_is_the_infinite_width_kernel():
    net = FullyConnected((10,), depth=2, width=4096)
    x = torch.randn(8, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    theta = ntk(net, net.initialize([0, 1, 2, 3]), x)[:, :, 0, :, 0]
    limit = ntk_infinite(net, x)
    relative = (theta - limit).flatten(1).norm(dim=-1) / limit.norm()
    assert float(relative.max()) < 0.08  # fluctuations O(1/√h) per member
    assert float((theta.mean(0) - limit).norm() / limit.norm()) < 0.04


def test_infinite_width_exact_limits():
    x = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    gram = x @ x.T / 6
    for depth in (0, 1, 4):
        linear = FullyConnected((6,), depth=depth, activation="linear", bias=True)
        torch.testing.assert_close(ntk_infinite(linear, x), (depth + 1) * (gram + 1))
        # the normalised ReLU keeps E[a²]: on the diagonal each layer adds |x|²/d
        relu = FullyConnected((6,), depth=depth)
        torch.testing.assert_close(ntk_infinite(relu, x).diagonal(), (depth + 1) * gram.diagonal())
    # and the arc-cosine kernel of depth 1 by Monte Carlo over the first layer's weights
    g = torch.Generator().manual_seed(7)
    w = torch.randn(400_000, 6, dtype=torch.float64, generator=g)
    z = x @ w.T / math.sqrt(6)
    a, slope = math.sqrt(2) * torch.relu(z), math.sqrt(2) * (z > 0).double()
    mc = gram * (slope @ slope.T) / len(w) + a @ a.T / len(w)
    exact = ntk_infinite(FullyConnected((6,), depth=1), x)
    torch.testing.assert_close(mc, exact, rtol=0.02, atol=0.02)


def _gaussian_moments(activation, s11, s22, s12, nodes=64, cut=12.0):
    """``(E[c²φ(u)φ(v)], E[c²φ'(u)φ'(v)])`` for ``(u, v)`` Gaussian of covariance
    ``[[s11, s12], [s12, s22]]``, by quadrature over ``u = √s11 z₁``,
    ``v = √s22 (ρ z₁ + √(1 − ρ²) z₂)`` with ``z₁, z₂`` independent N(0, 1).

    Linear (c = 1): 2-D Gauss–Hermite, exact for these polynomials. ReLU (c² = 2):
    the integrands vanish outside the wedge ``z₁ > 0, ρ z₁ + √(1 − ρ²) z₂ > 0``,
    where they are smooth, so the integral is split at the kinks and done by
    product Gauss–Legendre on the wedge cut at |z| = 12 (the Gaussian tail
    beyond is ~1e-32): converged to ~1e-14, with no arc-cosine formula.
    """
    rho = min(max(s12 / math.sqrt(s11 * s22), -1.0), 1.0)
    s = math.sqrt(1 - rho * rho)
    if activation == "linear":
        t, w = np.polynomial.hermite.hermgauss(4)  # weight e^{-t²}: z = √2 t
        z1, z2 = math.sqrt(2) * t[:, None], math.sqrt(2) * t[None, :]
        weight = w[:, None] * w[None, :] / math.pi
        u, v = math.sqrt(s11) * z1, math.sqrt(s22) * (rho * z1 + s * z2)
        return float((weight * u * v).sum()), float(weight.sum())
    t, w = np.polynomial.legendre.leggauss(nodes)
    z1, w1 = cut * (t + 1) / 2, cut / 2 * w  # z₁ ∈ [0, cut]
    # z₂ > −ρ z₁ / s; at ρ = ±1 (s = 0), v = ±√s22 z₁: all of z₂ or none
    edge = -cut if rho > 0 else cut
    low = np.maximum(-rho * z1 / s, -cut) if s > 0 else np.full_like(z1, edge)
    low = np.minimum(low, cut)[:, None]  # z₂ ∈ [low(z₁), cut]
    z2, w2 = low + (cut - low) * (t + 1) / 2, (cut - low) / 2 * w
    weight = w1[:, None] * w2 * np.exp(-(z1[:, None] ** 2 + z2**2) / 2) / (2 * math.pi)
    u, v = math.sqrt(s11) * z1[:, None], math.sqrt(s22) * (rho * z1[:, None] + s * z2)
    return float(2 * (weight * u * v).sum()), float(2 * weight.sum())


def _quadrature_ntk(activation, depth, bias, x):
    """Jacot's recursion, written out: Σ₀ = x·x'/d, Θ₀ = Σ₀ (+1); per hidden layer
    Σ ← E[c²φ(u)φ(v)], Θ ← Θ · E[c²φ'(u)φ'(v)] + Σ (+1) (biases start at zero)."""
    a = x.reshape(len(x), -1).numpy()
    sigma = a @ a.T / a.shape[1]
    theta = sigma + bias
    for _ in range(depth):
        pairs = [
            [(sigma[i, i], sigma[j, j], sigma[i, j]) for j in range(len(a))] for i in range(len(a))
        ]
        moments = np.array([[_gaussian_moments(activation, *p) for p in row] for row in pairs])
        theta = theta * moments[..., 1] + moments[..., 0] + bias
        sigma = moments[..., 0]
    return torch.from_numpy(theta)


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("bias", [False, True])
def test_infinite_width_kernel_is_the_quadrature_of_its_recursion(activation, depth, bias):
    g = torch.Generator().manual_seed(11)
    scales = torch.tensor([0.5, 1.0, 2.0, 1.3, 0.8, 1.1, 0.7, 1.6], dtype=torch.float64)
    points = torch.randn(8, 4, dtype=torch.float64, generator=g) * scales[:, None]
    points[5] = -points[0]  # ρ = −1: ReLU's first layer gives Σ = 0 there
    x, x2 = points[:6], points[6:]
    net = FullyConnected((4,), depth=depth, width=3, activation=activation, bias=bias)
    reference = _quadrature_ntk(activation, depth, float(bias), points)
    torch.testing.assert_close(ntk_infinite(net, x), reference[:6, :6], rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(ntk_infinite(net, x, x2), reference[:6, 6:], rtol=1e-11, atol=1e-12)


def test_activation_derivatives_match_autograd():
    z = torch.linspace(-3, 3, 61, dtype=torch.float64).requires_grad_(True)
    from symscape.nets.activations import activation_parts

    for name in ACTIVATIONS:
        phi, _ = activation_parts(name)
        (auto,) = torch.autograd.grad(phi(z).sum(), [z])
        torch.testing.assert_close(activation_derivative(name)(z.detach()), auto)


def test_kernel_change():
    theta0 = torch.randn(3, 4, 4, dtype=torch.float64)
    assert kernel_change(theta0, theta0).tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(kernel_change(-theta0, theta0), torch.full((3,), 2.0).double())
    with pytest.raises(InvalidOptionError, match="different shapes"):
        kernel_change(theta0[:, :3], theta0)


def test_bad_input_is_named():
    net = FullyConnected((5,), depth=1, width=4)
    params = net.initialize([0])
    x = torch.randn(3, 5, dtype=torch.float64)
    with pytest.raises(InvalidOptionError, match=r"expects inputs \[P, 5\]"):
        ntk(net, params, torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(InvalidOptionError, match=r"expects inputs \[P, 5\]"):
        ntk(net, params, x, torch.randn(3, 6, dtype=torch.float64))
    with pytest.raises(InvalidOptionError, match="parameter 'w0' should be"):
        ntk(net, {**params, "w0": params["w0"][:, :2]}, x)
    with pytest.raises(InvalidOptionError, match=r"'w1' should be .* got missing"):
        ntk(net, {"w0": params["w0"]}, x)
    with pytest.raises(InvalidOptionError, match="dict of tensors"):
        ntk(net, [params["w0"]], x)
    with pytest.raises(InvalidOptionError, match="different dtypes"):
        ntk(net, params, x.float())
    with pytest.raises(InvalidOptionError, match="needs floating points"):
        ntk(net, params, torch.ones(3, 5, dtype=torch.long))
    with pytest.raises(InvalidOptionError, match="x2 is on meta, the parameters on cpu"):
        ntk(net, params, x, x.to("meta"))
    assert ntk(net, params, x[:0]).shape == (1, 0, 1, 0, 1)
    with pytest.raises(UnknownNameError, match="unknown NTK method"):
        ntk(net, params, x, method="fast")
    with pytest.raises(InvalidOptionError, match="not a memory size"):
        ntk(net, params, x, memory="lots")
    with pytest.raises(InvalidOptionError, match="too small for one point"):
        ntk(net, params, x, memory=16)
    conv = ConvNet(input_shape=(1, 4, 4), depth=1, width=2)
    with pytest.raises(InvalidOptionError, match="method='layers' needs a fully connected"):
        ntk(conv, conv.initialize([0]), torch.randn(2, 1, 4, 4).double(), method="layers")
    with pytest.raises(InvalidOptionError, match="parametrization='ntk'"):
        ntk_infinite(FullyConnected((5,), depth=1, activation="tanh"), x)
    with pytest.raises(InvalidOptionError, match="fully connected"):
        ntk_infinite(conv, x)


def test_kernel_regression_agrees_with_scikit_learn():
    from sklearn.kernel_ridge import KernelRidge

    from symscape.data import load
    from symscape.measure import kernel_regression

    ds = load("stripe", P=40, n_test=30, d=5, dtype="float64", seed=1)
    net = FullyConnected((5,), depth=2, width=16)
    params = net.initialize([0, 1])
    train, test = ntk(net, params, ds.x_train), ntk(net, params, ds.x_test, ds.x_train)
    for ridge in (0.0, 0.1):
        ours = kernel_regression(train, test, ds.y_train, ridge=ridge)
        for e in range(2):
            K = train[e, :, 0, :, 0].numpy()
            lam = ridge * K.diagonal().mean()
            model = KernelRidge(alpha=lam if ridge else 1e-14, kernel="precomputed")
            model.fit(K, ds.y_train.numpy())
            expected = model.predict(test[e, :, 0, :, 0].numpy())
            assert abs(ours[e, :, 0].numpy() - expected).max() < 1e-6
    # without a ridge it interpolates the training labels
    fitted = kernel_regression(train, train, ds.y_train)
    torch.testing.assert_close(fitted[:, :, 0], ds.y_train.expand(2, -1), rtol=1e-8, atol=1e-8)
    # multiclass labels: one output per class
    multi = FullyConnected((5,), k=3, depth=1, width=64)  # N > P k: interpolates
    p3 = multi.initialize([0])
    labels = torch.arange(40) % 3
    out = kernel_regression(ntk(multi, p3, ds.x_train), ntk(multi, p3, ds.x_train), labels)
    assert (out[0].argmax(-1) == labels).all()
    with pytest.raises(InvalidOptionError, match="do not fit 40 training points"):
        kernel_regression(train, test, ds.y_train[:5])
    with pytest.raises(InvalidOptionError, match="does not fit the training kernel"):
        kernel_regression(train, test[:1], ds.y_train)
    with pytest.raises(InvalidOptionError, match="ridge=-1"):
        kernel_regression(train, test, ds.y_train, ridge=-1)
    with pytest.raises(InvalidOptionError, match=r"±1 floats .* or class indices"):
        kernel_regression(train, test, ds.y_train.long())
    # fewer weights (N = 5·2 + 2·2 + 2 = 16) than points (40): no interpolation exists
    narrow = FullyConnected((5,), depth=2, width=2)
    p0 = narrow.initialize([0])
    with pytest.raises(InvalidOptionError, match="singular"):
        kernel_regression(
            ntk(narrow, p0, ds.x_train), ntk(narrow, p0, ds.x_test, ds.x_train), ds.y_train
        )
    ridged = kernel_regression(
        ntk(narrow, p0, ds.x_train), ntk(narrow, p0, ds.x_test, ds.x_train), ds.y_train, ridge=1e-3
    )
    assert torch.isfinite(ridged).all()


def test_training_records_how_far_the_kernel_moves():
    from symscape.train import TrainConfig, train

    base = dict(
        dataset="stripe",
        data={"P": 32, "n_test": 20, "d": 4},
        depth=2,
        width=32,
        activation="swish",
        loss="soft_hinge",
        seeds=(0, 1),
        kernel_points=16,
        max_steps=3000,
    )
    changes = {}
    for alpha in (0.03, 100.0):
        record = train(TrainConfig(**base, alpha=alpha))
        change = record["trajectory"]["kernel_change"]  # [R, E]
        assert change.shape == (len(record["trajectory"]["step"]), 2)
        assert (change[0] == 0).all()
        changes[alpha] = record["final"]["kernel_change"]
    # feature regime: the kernel moves by more than its own size; lazy: barely
    assert min(changes[0.03]) > 1.0
    assert max(changes[100.0]) < 0.05
    # the lazy limit (its kernel change is 0 by construction, so check what that means):
    # its outputs are Θ₀ a on the training set and Θ₀(test, train) a on the test set, with
    # Θ₀ from the initial network's Jacobians (not the per-layer formula the flow uses)
    config = TrainConfig(**{**base, "max_steps": 10}, dynamics="kernel_flow")
    lazy = train(config)
    from symscape.data import load

    ds = load(config.dataset, **config.data, dtype=config.dtype)
    arch = config.architecture(ds.input_shape, 1)
    params0 = arch.initialize(config.seeds, dtype=config.dtype)
    a = torch.as_tensor(lazy["params"]["a"]).reshape(2, -1, 1)
    for x, out in ((ds.x_train, "train_output"), (ds.x_test, "test_output")):
        theta = ntk(arch, params0, x, ds.x_train, method="jacobian")[:, :, 0, :, 0]
        expected = torch.bmm(theta, a)[..., 0]
        torch.testing.assert_close(
            torch.as_tensor(lazy[out])[..., 0], expected, rtol=1e-10, atol=1e-10
        )
    assert np.abs(lazy["params"]["a"]).max() > 0  # it moved
    with pytest.raises(InvalidOptionError, match="kernel_points=33 must be between 0 and P=32"):
        TrainConfig(**{**base, "kernel_points": 33})


def test_kernel_regression_survives_a_change_of_thread_count():
    """MKL's batched LU failed ("Pivots given to lu_solve ...") after the thread count went
    from 1 to 2, as it does around every symscape run: the solve must not depend on it."""
    from symscape.data import load
    from symscape.measure import kernel_regression

    ds = load("stripe", P=256, n_test=50, d=10, dtype="float64")
    net = FullyConnected((10,), depth=2, width=16, activation="swish")
    params = net.initialize([0, 1, 2, 3])
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train, test = ntk(net, params, ds.x_train), ntk(net, params, ds.x_test, ds.x_train)
        one = kernel_regression(train, test, ds.y_train)
        torch.set_num_threads(2)
        two = kernel_regression(train, test, ds.y_train)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(one, two, rtol=1e-6, atol=1e-6)
