"""The equivariant network and the fast paths of its tensor products."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from symscape.equivariant import (
    E3NN_INSTALL,
    EquivariantEnsemble,
    EquivariantNetwork,
    hidden_irreps,
    radius_graph,
)
from symscape.equivariant.fast import (
    FastTensorProduct,
    accelerate,
    check_tensor_product,
    fast_tensor_product,
)
from symscape.errors import InvalidOptionError, SymscapeError, UnknownNameError
from symscape.measure.equivariance import equivariance_errors


def clouds(batch=3, n=12, seed=0, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(batch, n, 3, generator=g, dtype=dtype)


def by_name(records):
    return {(r.transformation, r.dtype): r for r in records}


# --------------------------------------------------------------------------- without e3nn


def test_symscape_imports_without_e3nn_and_says_how_to_install_it():
    code = """
import sys
sys.modules["e3nn"] = None  # makes 'import e3nn' fail
import torch
import symscape, symscape.equivariant, symscape.measure.equivariance as m
from symscape.errors import SymscapeError
r = m.invariance_errors(lambda x: x.mean((2, 3)), torch.rand(2, 1, 4, 4), dtypes=[torch.float32])
assert len(r) == 3
for call in (lambda: symscape.equivariant.EquivariantNetwork(),
             lambda: m.equivariance_errors(lambda p: p, torch.rand(1, 2, 3), "1o")):
    try:
        call()
    except ImportError as err:
        assert isinstance(err, SymscapeError), type(err)
        print(err)
    else:
        raise AssertionError("no error without e3nn")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("reinstall symscape, or " + E3NN_INSTALL in line for line in lines)


@pytest.fixture
def o3():
    """e3nn's ``o3``; the test is skipped where e3nn is not installed."""
    return pytest.importorskip("e3nn").o3


needs_e3nn = pytest.mark.usefixtures("o3")

SMALL = dict(layers=2, multiplicity=4, l_max=2)


# --------------------------------------------------------------------------- the graph


def test_radius_graph_is_every_pair_closer_than_the_radius():
    positions = clouds(batch=2, n=9, scale=0.8)
    sender, receiver = radius_graph(positions, 1.0)
    found = set(zip(sender.tolist(), receiver.tolist(), strict=True))
    expected = {
        (b * 9 + j, b * 9 + i)
        for b in range(2)
        for i in range(9)
        for j in range(9)
        if i != j and float((positions[b, i] - positions[b, j]).norm()) < 1.0
    }
    assert found == expected and len(found) == len(sender)
    with pytest.raises(InvalidOptionError, match="radius"):
        radius_graph(positions, -1.0)


@needs_e3nn
def test_hidden_irreps_hold_every_degree_and_parity():
    assert str(hidden_irreps(3, 2)) == "3x0e+3x0o+3x1o+3x1e+3x2e+3x2o"


# --------------------------------------------------------------------------- equivariance


@needs_e3nn
@pytest.mark.parametrize(
    "options",
    [
        dict(irreps_out="0e + 1o", **SMALL),  # an invariant and a vector, pooled
        dict(  # odd and even irreps in and out, l up to 3, per-point outputs
            irreps_in="2x0e + 0o + 1o + 1e",
            irreps_out="0o + 1e + 2e + 3o",
            l_max=3,
            layers=3,
            multiplicity=3,
            pool="none",
        ),
    ],
)
def test_network_is_equivariant(options):
    """Rounding errors only (SCIENCE.md §5): ~1e-6 in float32, ~1e-12 in float64."""
    net = EquivariantNetwork(dtype=torch.float64, pool=options.pop("pool", "mean"), **options)
    positions = clouds()
    features = None
    if net.irreps_in is not None:
        g = torch.Generator().manual_seed(1)
        features = torch.randn(3, 12, net.irreps_in.dim, generator=g, dtype=torch.float64)
    records = equivariance_errors(
        net, positions, net.irreps_out, features=features, irreps_in=net.irreps_in
    )
    assert len(records) == 8
    for r in records:
        if r.dtype == "float32":  # ~10 ulp of the largest output
            assert r.relative < 1e-5, r
        else:
            assert r.absolute < 1e-10 and r.relative < 1e-12, r
    scale = net(positions, *([features] if features is not None else [])).abs().max()
    assert scale > 0.1  # a network that outputs zeros would be trivially equivariant


@needs_e3nn
def test_parity_of_the_output_is_not_a_free_choice():
    """A 1o network output claimed to be 1e fails the inversion test: parities are real."""
    net = EquivariantNetwork(irreps_out="1o", dtype=torch.float64, **SMALL)
    errors = by_name(equivariance_errors(net, clouds(), "1e", dtypes=[torch.float64]))
    assert errors["rotation", "float64"].relative < 1e-12
    assert errors["inversion", "float64"].relative == pytest.approx(2.0)


@needs_e3nn
def test_smooth_cutoff_makes_the_output_continuous_across_the_radius():
    """An edge entering the graph at |r| = radius comes in with weight zero: no jump."""
    net = EquivariantNetwork(radius=1.0, dtype=torch.float64, **SMALL)
    positions = torch.zeros(3, 2, 3, dtype=torch.float64)
    positions[:, 1, 0] = torch.tensor([1.0 - 1e-6, 1.0 + 1e-6, 0.5])
    inside, outside, near = net(positions)
    assert len(radius_graph(positions[:1], 1.0)[0]) == 2
    assert len(radius_graph(positions[1:2], 1.0)[0]) == 0
    assert (inside - outside).abs().max() < 1e-12
    assert (near - outside).abs().max() > 1e-3  # closer in, the edge does matter


@needs_e3nn
def test_float32_network_is_the_float64_network_rounded():
    net32 = EquivariantNetwork(seed=3, **SMALL)
    net64 = EquivariantNetwork(seed=3, dtype=torch.float64, **SMALL)
    for (name, a), b in zip(net32.state_dict().items(), net64.state_dict().values(), strict=True):
        assert a.dtype == torch.float32 and b.dtype == torch.float64, name
        assert torch.equal(a, b.float()), name
    # casting up recomputes the 3j constants in float64: float64-exact equivariance
    up = EquivariantNetwork(seed=3, irreps_out="1o", **SMALL).double()
    [rotation] = equivariance_errors(
        up, clouds(), "1o", transformations=["rotation"], dtypes=[torch.float64]
    )
    assert rotation.relative < 1e-12


@needs_e3nn
def test_ensemble_members_are_the_networks_built_alone():
    options = dict(irreps_out="0e + 1o", **SMALL)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    ensemble = EquivariantEnsemble([5, 0, 9], **options)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    positions = clouds(batch=4)
    out = ensemble(positions.float())
    assert out.shape == (3, 4, 4)
    for member, seed, o in zip(ensemble.members, [5, 0, 9], out, strict=True):
        alone = EquivariantNetwork(seed=seed, **options)
        for a, b in zip(member.state_dict().values(), alone.state_dict().values(), strict=True):
            assert torch.equal(a, b)
        assert torch.equal(o, alone(positions.float()))
    assert not torch.equal(out[0], out[1])  # different seeds, different networks


@needs_e3nn
def test_single_cloud_and_per_point_outputs():
    net = EquivariantNetwork(irreps_out="1o", pool="none", dtype=torch.float64, **SMALL)
    positions = clouds(batch=2)
    out = net(positions)
    assert out.shape == (2, 12, 3)
    assert torch.allclose(net(positions[1]), out[1], atol=1e-14)


@needs_e3nn
def test_network_trains():
    """A few Adam steps on an invariant target lower the loss (gradients flow)."""
    torch.manual_seed(0)
    net = EquivariantNetwork(**SMALL)
    positions = clouds(batch=16, dtype=torch.float32)
    target = positions.norm(dim=2).mean(1, keepdim=True)
    optimizer = torch.optim.Adam(net.parameters(), 1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = (net(positions) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@needs_e3nn
def test_bad_options_give_one_line_errors():
    cases = [
        (dict(irreps_out="1x"), "'1x'"),
        (dict(irreps_out="2x1q"), "'2x1q'"),
        (
            dict(irreps_in="0e + 1o", irreps_hidden="4x0e + 4x1o", irreps_out="0o", layers=2),
            "0o cannot be reached",
        ),
        (dict(irreps_hidden=["4x0e", "4x0e"], layers=2), "2 entries"),
        (dict(pool="max"), "pool='max'"),
        (dict(l_max=-1), "l_max=-1"),
        (dict(radius=0), "radius=0"),
        (dict(dtype=torch.float16), "dtype"),
    ]
    for options, message in cases:
        with pytest.raises(InvalidOptionError, match=message) as info:
            EquivariantNetwork(**options)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidOptionError, match="repeat"):
        EquivariantEnsemble([1, 1])
    with pytest.raises(InvalidOptionError, match="seeds"):
        EquivariantEnsemble(3)


@needs_e3nn
def test_bad_inputs_give_one_line_errors():
    net = EquivariantNetwork(irreps_in="0e + 1o", **SMALL)
    positions = clouds(dtype=torch.float32)
    with pytest.raises(InvalidOptionError, match=r"\(3, 12, 4\)") as info:
        net(positions, torch.randn(3, 12, 3))
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidOptionError, match="3D coordinates"):
        net(torch.randn(3, 12, 2), torch.randn(3, 12, 4))
    with pytest.raises(InvalidOptionError, match="positions must be"):
        net(torch.randn(12), torch.randn(12, 4))
    with pytest.raises(InvalidOptionError, match="irreps_in=None"):
        EquivariantNetwork(**SMALL)(positions, torch.randn(3, 12, 4))


@needs_e3nn
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_network_on_cuda_matches_cpu():
    net = EquivariantNetwork(irreps_out="0e + 1o", dtype=torch.float64, **SMALL)
    gpu = EquivariantNetwork(irreps_out="0e + 1o", dtype=torch.float64, device="cuda", **SMALL)
    assert torch.allclose(gpu(clouds().cuda()).cpu(), net(clouds()), atol=1e-12)


# --------------------------------------------------------------------------- fast paths


def random_tensor_products(seed=0, count=3):
    """Fully connected and channel-wise products of random irreps, odd parities, l up to 4."""
    from e3nn import o3

    g = torch.Generator().manual_seed(seed)

    def irreps(l_max):
        pick = lambda: int(torch.randint(0, 3, (1,), generator=g))  # noqa: E731
        terms = [
            (pick() + (degree == 0), (degree, parity))
            for degree in range(l_max + 1)
            for parity in (1, -1)
        ]
        return o3.Irreps([t for t in terms if t[0] > 0])

    products = []
    for _ in range(count):
        a, b = irreps(4), o3.Irreps.spherical_harmonics(2) + o3.Irreps("0o + 1e")
        products.append(o3.FullyConnectedTensorProduct(a, b, irreps(4), shared_weights=False))
    net = EquivariantNetwork(irreps_in="0e + 0o + 1o + 1e", irreps_out="0e + 1o", l_max=4, **{
        k: v for k, v in SMALL.items() if k != "l_max"
    })  # fmt: skip
    products.append(net.convolutions[1].tensor_product)  # channel-wise "uvu", e3nn-built
    products.append(o3.FullyConnectedTensorProduct("2x0e + 1x1o", "1x1o + 1x2e", "1x1e + 2x2e"))
    return products


@needs_e3nn
def test_cuequivariance_matches_e3nn_forward_and_gradients():
    pytest.importorskip("cuequivariance_torch")
    for tp in random_tensor_products(count=2):
        for dtype, tolerance in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
            [check] = check_tensor_product(tp, ["cuequivariance"], dtype=dtype)
            assert check.available and check.ok, (tp, check)
            assert check.forward_error < tolerance and check.gradient_error < tolerance


@needs_e3nn
def test_eager_path_is_the_module():
    tp = random_tensor_products(count=1)[0]
    [check] = check_tensor_product(tp, ["eager"])
    assert check.ok and check.forward_error == 0 and check.gradient_error == 0
    fast = fast_tensor_product(tp, "eager")
    x, y = tp.irreps_in1.randn(5, -1), tp.irreps_in2.randn(5, -1)
    w = torch.randn(5, tp.weight_numel)
    assert torch.equal(fast(x, y, w), tp(x, y, w))


def test_compile_falls_back_to_eager_when_unavailable(monkeypatch, o3):
    import symscape.equivariant.fast as fast_module

    monkeypatch.setattr(fast_module, "compile_available", lambda: (False, "no compiler here"))
    tp = o3.FullyConnectedTensorProduct("2x0e + 1o", "0e + 1o", "1x0e + 1x1o")
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        fast = FastTensorProduct(tp, "compile")
    assert fast.backend == "eager"
    x, y = tp.irreps_in1.randn(4, -1), tp.irreps_in2.randn(4, -1)
    assert torch.equal(fast(x, y), tp(x, y))
    [check] = check_tensor_product(tp, ["compile"])
    assert not check.available and not check.ok and "no compiler here" in check.message
    net = EquivariantNetwork(**SMALL)
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        compiled = accelerate(net, "compile")
    assert compiled is net


def test_compile_failure_at_run_time_falls_back_to_eager(monkeypatch, o3):
    def broken_compile(module, **options):
        def run(*args, **kwargs):
            raise RuntimeError("inductor exploded\nlong traceback")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    tp = o3.FullyConnectedTensorProduct("2x0e + 1o", "0e + 1o", "1x0e + 1x1o")
    fast = FastTensorProduct(tp, "compile")
    x, y = tp.irreps_in1.randn(4, -1), tp.irreps_in2.randn(4, -1)
    with pytest.warns(RuntimeWarning, match="inductor exploded"):
        out = fast(x, y)
    assert torch.equal(out, tp(x, y)) and fast.backend == "eager"
    # a failing path is not chosen by fast_tensor_product either
    with pytest.warns(RuntimeWarning, match="compile path not used"):
        chosen = fast_tensor_product(tp, "compile")
    assert chosen.backend == "eager"
    assert all(key.startswith("tensor_product.") for key in fast.state_dict())
    net = EquivariantNetwork(**SMALL)
    compiled = accelerate(net, "compile")
    assert set(compiled.state_dict()) == {f"model.{key}" for key in net.state_dict()}
    with pytest.warns(RuntimeWarning, match="running the model eagerly"):
        assert torch.equal(compiled(clouds(dtype=torch.float32)), net(clouds(dtype=torch.float32)))


def test_fast_path_errors(o3):
    tp = o3.FullyConnectedTensorProduct("2x0e", "0e", "1x0e")
    with pytest.raises(UnknownNameError, match="'cuda'"):
        FastTensorProduct(tp, "cuda")
    with pytest.raises(UnknownNameError, match="'fastest'"):
        fast_tensor_product(tp, "fastest")
    with pytest.raises(InvalidOptionError, match="Linear is not an e3nn"):
        FastTensorProduct(o3.Linear("2x0e", "1x0e"))
    with pytest.raises(InvalidOptionError, match="n=0"):
        check_tensor_product(tp, n=0)
    with pytest.raises(SymscapeError, match=r"not a torch\.nn\.Module"):
        accelerate(lambda x: x)


@needs_e3nn
def test_cuequivariance_accelerates_the_network_in_place():
    pytest.importorskip("cuequivariance_torch")
    net = EquivariantNetwork(irreps_out="0e + 1o", **SMALL)
    positions = clouds(dtype=torch.float32)
    before = net(positions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = accelerate(net, "cuequivariance")
    assert fast is net
    assert all(isinstance(c.tensor_product, FastTensorProduct) for c in net.convolutions)
    assert torch.allclose(fast(positions), before, atol=1e-5)
    with pytest.warns(RuntimeWarning, match="no e3nn tensor product"):
        accelerate(net, "cuequivariance")  # a second call leaves the fast paths alone
    assert torch.allclose(net(positions), before, atol=1e-5)


@needs_e3nn
@pytest.mark.slow
def test_compiled_tensor_products_match_e3nn():
    for tp in random_tensor_products(count=1):
        [check] = check_tensor_product(tp, ["compile"])
        assert check.available and check.ok, (tp, check)


@needs_e3nn
@pytest.mark.slow
def test_compiled_network_matches_eager_forward_and_gradients():
    net = EquivariantNetwork(irreps_out="0e + 1o", **SMALL)
    compiled = accelerate(net, "compile")
    for seed in range(3):  # clouds with different numbers of edges
        positions = clouds(seed=seed, dtype=torch.float32)
        eager_out = net(positions)
        (eager_grad,) = torch.autograd.grad(
            eager_out.pow(2).sum(), [net.convolutions[0].radial[0].weight]
        )
        out = compiled(positions)
        (grad,) = torch.autograd.grad(out.pow(2).sum(), [net.convolutions[0].radial[0].weight])
        assert (out - eager_out).abs().max() < 1e-5
        assert (grad - eager_grad).abs().max() < 1e-5 * max(1.0, eager_grad.abs().max().item())


# --------------------------------------------------------------------------- tasks


@needs_e3nn
def test_task_targets_have_the_symmetry_they_claim():
    from symscape.equivariant.tasks import TASKS, point_cloud_task

    for task, (target, irreps) in TASKS.items():
        data = point_cloud_task(task, P=2, n_test=6, n_points=5)

        def f(x, target=target):
            return torch.stack([torch.from_numpy(target(c.numpy())) for c in x])

        assert torch.equal(f(data.x_test), data.y_test)
        for r in equivariance_errors(f, data.x_test, irreps, dtypes=[torch.float64]):
            assert r.relative < 1e-12, (task, r)
    # the dipole really is odd: claimed even, inversion flags it
    data = point_cloud_task("dipole", P=2, n_test=6)
    target = TASKS["dipole"][0]
    [inversion] = equivariance_errors(
        lambda x: torch.stack([torch.from_numpy(target(c.numpy())) for c in x]),
        data.x_test,
        "1e",
        transformations=["inversion"],
        dtypes=[torch.float64],
    )
    assert inversion.relative == pytest.approx(2.0)


@needs_e3nn
def test_task_sets_are_nested_and_reproducible():
    from symscape.equivariant.tasks import point_cloud_task

    big = point_cloud_task("energy", P=10, n_test=5, seed=3)
    small = point_cloud_task("energy", P=4, n_test=7, seed=3)
    assert torch.equal(big.x_train[:4], small.x_train)
    assert torch.equal(big.x_test, small.x_test[:5])
    assert torch.equal(big.y_train[:4], small.y_train)
    assert not torch.equal(point_cloud_task("energy", P=4, seed=4).x_train, small.x_train)
    assert big.x_train.norm(dim=-1).max() <= 1.5
    with pytest.raises(UnknownNameError, match="'forces'"):
        point_cloud_task("forces")
    with pytest.raises(InvalidOptionError, match="P=0"):
        point_cloud_task("energy", P=0)


@needs_e3nn
def test_learning_curves_report_every_model_size_and_seed():
    from symscape.equivariant.tasks import MODELS, learning_curves

    records = learning_curves(
        "dipole", sizes=(16, 8), seeds=(0, 1), steps=10, n_test=16, network=dict(multiplicity=2)
    )
    assert [(r.P, r.model, r.seed) for r in records] == [
        (P, m, s) for P in (8, 16) for m in MODELS for s in (0, 1)
    ]
    for r in records:
        assert 0 <= r.train_error < float("inf") and 0 <= r.test_error < float("inf")
        if r.model == "equivariant":
            assert r.rotation_error < 1e-5, r
        else:
            assert r.rotation_error > 1e-2, r
    with pytest.raises(UnknownNameError, match="'cnn'"):
        learning_curves(models=["cnn"])
    with pytest.raises(InvalidOptionError, match="at least one"):
        learning_curves(sizes=())


@needs_e3nn
def test_symmetry_buys_test_error_on_the_dipole():
    from symscape.equivariant.tasks import MODELS, learning_curves

    seeds = (0, 1, 2)
    records = learning_curves("dipole", sizes=(64,), seeds=seeds, steps=200, n_test=128)
    error = {m: np.array([r.test_error for r in records if r.model == m]) for m in MODELS}
    assert all(len(e) == len(seeds) for e in error.values())

    def below(a, b, k=3.0):
        """The mean of ``a`` below that of ``b`` by more than k standard errors of the
        difference (over the seeds)."""
        se = np.sqrt(error[a].var(ddof=1) / len(seeds) + error[b].var(ddof=1) / len(seeds))
        return error[b].mean() - error[a].mean() > k * se

    assert error["equivariant"].max() < 0.2
    # rotating the training clouds buys part of what the symmetry does, not all of it
    assert below("equivariant", "mlp_augmented") and below("mlp_augmented", "mlp")
