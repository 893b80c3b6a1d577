"""The Hessian of any model's loss over a data set (``symscape.measure.curvature``).

Every quantity is checked against an independent computation: products
against central differences of the gradient, the dense Hessian against
``torch.func.jacrev(jacrev)`` of the flattened loss, the spectrum against
``torch.linalg.eigvalsh`` of the dense Hessian, H₀ + H_p against H.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure.curvature import (
    dense_hessian,
    eigenvalues,
    flatten,
    hessian_operator,
    hvp,
    layer_blocks,
    spectral_density,
    trace,
    unflatten,
)
from symscape.measure.curvature.hinge import hinge_split
from symscape.measure.module import as_functional

mse = torch.nn.functional.mse_loss


def _problem(P=64, seed=0):
    """A tanh MLP 5-16-16-1 (N = 385 weights, float64) and regression data."""
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(16, 1)).double()
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(P, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(P, 1, generator=gen, dtype=torch.float64)
    return net, x, y


@pytest.fixture(scope="module")
def exact():
    """The small problem with its dense Hessian and eigenvalues."""
    with torch.random.fork_rng():
        net, x, y = _problem()
        H = dense_hessian(net, mse, (x, y))
    return net, x, y, H, torch.linalg.eigvalsh(H).numpy()


def _flat_loss(net, x, y):
    f, params = as_functional(net)
    return (lambda w: mse(f(unflatten(w, params), x), y)), flatten(params)


def test_hvp_is_the_central_difference_of_the_gradient():
    net, x, y = _problem()
    loss, w = _flat_loss(net, x, y)
    v = torch.randn(len(w), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grad = torch.func.grad(loss)
    eps = 1e-5  # truncation O(eps² ‖∇³L‖) ~ 1e-10, rounding O(eps_64 / eps) ~ 1e-11
    differences = (grad(w + eps * v) - grad(w - eps * v)) / (2 * eps)
    product = hvp(net, mse, (x, y), v)
    torch.testing.assert_close(product, differences, rtol=1e-7, atol=1e-9)
    # a dict in, a dict out; rows in, rows out; the same numbers
    as_dict = hvp(net, mse, (x, y), unflatten(v, dict(as_functional(net)[1])))
    torch.testing.assert_close(flatten(as_dict), product, rtol=1e-12, atol=1e-14)
    rows = hvp(net, mse, (x, y), torch.stack([v, 2 * v]))
    torch.testing.assert_close(rows, torch.stack([product, 2 * product]), rtol=1e-12, atol=1e-14)


def test_other_weights_and_a_functional_model_give_the_same_products():
    net, x, y = _problem(P=16)
    f, params = as_functional(net)
    moved = {k: p + 0.05 * torch.randn_like(p) for k, p in params.items()}
    v = torch.randn(385, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():  # the module at the moved weights, its own parameters
        for k, p in net.named_parameters():
            p.copy_(moved[k])
    at_module = hvp(net, mse, (x, y), v)
    torch.testing.assert_close(hvp(f, mse, (x, y), v, params=moved), at_module)
    torch.testing.assert_close(hvp(_problem(P=16)[0], mse, (x, y), v, params=moved), at_module)


def test_dense_hessian_and_blocks_against_torch_func(exact):
    net, x, y, H, _ = exact
    loss, w = _flat_loss(net, x, y)
    reference = torch.func.jacrev(torch.func.jacrev(loss))(w)  # functorch, not autograd.grad
    torch.testing.assert_close(H, reference, rtol=1e-10, atol=1e-12)
    blocks = layer_blocks(net, mse, (x, y))
    start = 0
    for name, p in net.named_parameters():
        n = p.numel()
        torch.testing.assert_close(blocks[name], H[start : start + n, start : start + n])
        start += n
    assert start == len(w)


def test_a_dataloader_weighs_batches_by_their_size(exact):
    net, x, y, H, _ = exact
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=10, shuffle=True
    )  # 6 batches of 10 and one of 4
    v = torch.randn(len(H), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(hvp(net, mse, loader, v), H @ v, rtol=1e-10, atol=1e-12)
    # the plain mean of the batch means is another (wrong) loss: the weighting is seen
    means = sum(hvp(net, mse, (x[i : i + 10], y[i : i + 10]), v) for i in range(0, 64, 10)) / 7
    assert float((means - H @ v).norm()) > 1e-3 * float((H @ v).norm())
    # the SciPy operator: float64 numpy in and out, one column or several
    op = hessian_operator(net, mse, loader)
    np.testing.assert_allclose(op.matvec(v.numpy()), (H @ v).numpy(), rtol=1e-10, atol=1e-12)
    V = np.random.default_rng(0).standard_normal((len(H), 3))
    np.testing.assert_allclose(op.matmat(V), H.numpy() @ V, rtol=1e-10, atol=1e-12)


def test_extreme_eigenvalues_are_those_of_the_dense_hessian(exact):
    net, x, y, _, eig = exact
    scale = np.abs(eig).max()
    top = eigenvalues(net, mse, (x, y), k=4, which="top")
    bottom = eigenvalues(net, mse, (x, y), k=4, which="bottom")
    np.testing.assert_allclose(top, eig[::-1][:4], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(bottom, eig[:4], rtol=0, atol=1e-10 * scale)
    assert eig[0] < 0 < eig[-1]  # not at a minimum: both ends are informative


def test_hutchinson_trace_is_inside_its_interval_which_narrows(exact):
    net, x, y, H, _ = exact
    true = float(torch.trace(H))
    few = trace(net, mse, (x, y), samples=25, seed=1)
    many = trace(net, mse, (x, y), samples=400, seed=2)
    for estimate in (few, many):
        assert estimate.low < true < estimate.high
        assert estimate.value == pytest.approx(estimate.samples.mean())
    # the half-width goes as 1/√S: 4x narrower for 16x the probes, up to the spread's noise
    assert many.high - many.low < 0.5 * (few.high - few.low)


def test_slq_density_moments_are_those_of_the_spectrum(exact):
    net, x, y, _, eig = exact
    N, n_probes = len(eig), 20
    sd = spectral_density(net, mse, (x, y), n_probes=n_probes, steps=30, seed=0)
    assert sd.nodes.shape == sd.weights.shape == (n_probes, 30)
    np.testing.assert_allclose(sd.weights.sum(1), 1.0, rtol=1e-12)
    assert np.trapezoid(sd.density, sd.grid) == pytest.approx(1.0, abs=1e-6)
    # Σ τ θ^p = vᵀH^p v/vᵀv exactly (Gauss quadrature, degree ≤ 2m−1); for v uniform on
    # the sphere its mean is mean(λ^p) and its variance 2/(N+2) · Var(λ^p): the estimate
    # over n_probes lies within 4 standard errors
    for power in (1, 2):
        values = eig**power
        stderr = np.sqrt(2 / (N + 2) * values.var() / n_probes)
        assert abs(sd.moment(power) - values.mean()) < 4 * stderr
    # the smoothed density's first moment is the quadrature's (a Gaussian is symmetric)
    assert np.trapezoid(sd.grid * sd.density, sd.grid) == pytest.approx(sd.moment(1), abs=1e-6)


def test_a_full_lanczos_run_finds_the_exact_eigenvalues(exact):
    net, x, y, _, eig = exact
    sd = spectral_density(net, mse, (x, y), n_probes=1, steps=len(eig) + 10, seed=4)
    assert sd.nodes.shape == (1, len(eig))  # steps capped at N
    # with full reorthogonalisation no spurious copy appears: each node is an eigenvalue
    kept = sd.nodes[0][sd.weights[0] > 1e-12]
    gaps = np.abs(kept[:, None] - eig[None]).min(1)
    assert gaps.max() < 1e-10 * np.abs(eig).max()


def _hinge_net(d, h, seed):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, 1)]
    return torch.nn.Sequential(*layers).double()


def test_hinge_split_away_from_a_minimum_has_rank_n_delta():
    net = _hinge_net(4, 6, 0)  # N = 37
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    y = (2 * torch.randint(0, 2, (20,), generator=gen) - 1).double()
    split = hinge_split(net, (x, y))
    N = split.H.shape[0]
    assert 0 < split.n_delta < N
    torch.testing.assert_close(split.H0 + split.Hp, split.H, rtol=1e-10, atol=1e-12)
    assert split.rank_H0 == split.n_delta  # independent per-sample gradients
    # H₀ is the Gram matrix of the per-sample gradients: the same non-zero spectrum as
    # the P x P matrix J Jᵀ / P on the unsatisfied constraints
    J = split.jacobian[split.gaps > 0]
    gram = torch.linalg.eigvalsh(J @ J.T / len(y))
    top = torch.linalg.eigvalsh(split.H0)[-len(gram) :]
    torch.testing.assert_close(top, gram, rtol=1e-8, atol=1e-12)
    # the linear hinge: ℓ'' = 0, H = H_p
    linear = hinge_split(net, (x, y), loss="hinge")
    assert float(linear.H0.abs().max()) == 0.0 and linear.rank_H0 == 0
    torch.testing.assert_close(linear.Hp, linear.H, rtol=1e-10, atol=1e-12)


def test_hinge_split_at_a_jammed_minimum():
    """A tanh net that can fit its 12 points, plus 3 points each given both labels: at the
    minimum f = 0 on those (Δ = κ on both copies), the rest fitted; N_Δ = 6 < N = 25."""
    net = _hinge_net(2, 6, 0)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(15, 2, generator=gen, dtype=torch.float64)
    y = (2 * torch.randint(0, 2, (15,), generator=gen) - 1).double()
    x, y = torch.cat([x, x[:3]]), torch.cat([y, -y[:3]])
    optimiser = torch.optim.LBFGS(
        net.parameters(),
        max_iter=1000,
        tolerance_grad=1e-12,
        tolerance_change=0,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimiser.zero_grad()
        loss = 0.5 * (1 - y * net(x)[:, 0]).clamp(min=0).pow(2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        optimiser.step(closure)
    loss = float(closure().detach())
    gradient = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    split = hinge_split(net, (x, y))
    N = split.H.shape[0]
    assert loss > 0.1 and float(gradient.norm()) < 1e-8  # a minimum, not a fit
    assert split.n_delta == 6 < N
    torch.testing.assert_close(split.H0 + split.Hp, split.H, rtol=1e-10, atol=1e-12)
    # Σ_μ Δ_μ ∇Δ_μ = P ∇L = 0 relates the unsatisfied constraints: here the 3 pairs,
    # ∇Δ(x, +1) = −∇Δ(x, −1), so rank H₀ = N_Δ − 3 (and N_Δ − 1 for generic gradients)
    active = split.gaps > 1e-6
    relation = split.jacobian[active].T @ split.gaps[active]  # P ∇L, up to rounding
    assert float(relation.norm()) < 2 * len(y) * float(gradient.norm()) + 1e-12
    assert split.rank_H0 == split.n_delta - 3 == torch.linalg.matrix_rank(split.jacobian[active])
    assert float(torch.linalg.eigvalsh(split.H).min()) > -1e-8  # a minimum: H ⪰ 0


def test_bad_input_gets_one_line():
    net, x, y = _problem(P=8)
    v = torch.zeros(385, dtype=torch.float64)
    with pytest.raises(InvalidOptionError, match=r"the loss returned \(8, 1\), not a scalar"):
        hvp(net, lambda out, t: (out - t) ** 2, (x, y), v)
    with pytest.raises(
        InvalidOptionError, match=r"x is torch\.float32, the parameters torch\.float64"
    ):
        hvp(net, mse, (x.float(), y), v)
    with pytest.raises(InvalidOptionError, match="x is on meta, the parameters on cpu"):
        hvp(net, mse, (x.to("meta"), y), v)
    frozen, _, _ = _problem(P=8)
    frozen.requires_grad_(False)
    with pytest.raises(InvalidOptionError, match="no parameter that requires gradients"):
        hvp(frozen, mse, (x, y), v)
    with pytest.raises(InvalidOptionError, match=r"v of shape \(10,\) is not a floating vector"):
        hvp(net, mse, (x, y), torch.zeros(10, dtype=torch.float64))
    with pytest.raises(InvalidOptionError, match="k=385 must be below N=385"):
        eigenvalues(net, mse, (x, y), k=385)
    with pytest.raises(UnknownNameError, match="unknown end of the spectrum 'middle'"):
        eigenvalues(net, mse, (x, y), which="middle")
    with pytest.raises(InvalidOptionError, match="samples=1 must be an integer >= 2"):
        trace(net, mse, (x, y), samples=1)
    with pytest.raises(InvalidOptionError, match="N=385 weights, more than max_weights=100"):
        dense_hessian(net, mse, (x, y), max_weights=100)
    with pytest.raises(InvalidOptionError, match="loss_fn of type int is not callable"):
        hvp(net, 3, (x, y), v)
    two = torch.nn.Linear(5, 2).double()
    with pytest.raises(InvalidOptionError, match=r"returned \(8, 2\) for 8 points"):
        hinge_split(two, (x, y[:, 0].sign()))
    with pytest.raises(InvalidOptionError, match="needs ±1 labels"):
        hinge_split(torch.nn.Linear(5, 1).double(), (x, torch.ones(8, dtype=torch.long)))
