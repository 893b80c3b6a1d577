"""The engine: ensembles equal separate runs, gradients, dynamics, stopping, limits."""

import dataclasses

import numpy as np
import pytest
import torch

from symscape.data import load
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.nets import build_architecture
from symscape.train import (
    SGD,
    Adam,
    AdaptiveFlow,
    CenteredNetwork,
    FrozenKernel,
    LossSpec,
    StopRules,
    TrainConfig,
    fit,
    train,
)

SMALL = dict(
    dataset="random",
    data={"P": 30, "n_test": 20, "d": 6},
    depth=2,
    width=12,
    activation="swish",
    max_steps=150,
    stop_when_fitted=False,
)


CONV = dict(
    dataset="digits",
    data={"P": 30, "n_test": 20, "labels": "parity", "flatten": False},
    arch="cnn",
    width=2.0,
    max_steps=60,
    stop_when_fitted=False,
)
ALONE_CASES = {
    "flow": dict(SMALL, dynamics="flow"),
    "momentum_flow": dict(SMALL, dynamics="momentum_flow", tau=10.0),
    "kernel_flow": dict(SMALL, dynamics="kernel_flow"),
    "adam": dict(SMALL, dynamics="adam", lr=1e-2),
    "sgd": dict(SMALL, dynamics="sgd"),
    "minibatch sgd": dict(SMALL, dynamics="sgd", batch_size=7, batch_seed=3),
    "lbfgs": dict(SMALL, dynamics="lbfgs"),
    "convnet flow": dict(CONV, dynamics="flow"),
    "convnet minibatch sgd": dict(CONV, dynamics="sgd", batch_size=8),
}


@pytest.mark.parametrize("case", sorted(ALONE_CASES))
def test_member_of_an_ensemble_is_exactly_the_network_trained_alone(case):
    options = ALONE_CASES[case]
    dynamics = options["dynamics"]
    ensemble = train(TrainConfig(**options, seeds=(4, 9, 13)))
    for i, seed in enumerate((4, 9, 13)):
        alone = train(TrainConfig(**options, seeds=(seed,)))
        for name, value in alone["params"].items():
            assert np.allclose(ensemble["params"][name][i], value[0], rtol=0, atol=1e-10)
        if dynamics == "lbfgs":  # members stop when they converge: compare the end points
            assert ensemble["status"][i] == alone["status"][0]
            # a stall counter can reach its threshold one step apart (rounding of the
            # batched products), after which the member no longer moves
            assert abs(ensemble["stop_step"][i] - alone["stop_step"][0]) <= 2
            assert np.isclose(ensemble["final"]["loss"][i], alone["final"]["loss"][0], atol=1e-12)
            continue
        for key in ("loss", "t", "dt", "n_delta"):
            assert np.allclose(
                ensemble["trajectory"][key][:, i],
                alone["trajectory"][key][:, 0],
                rtol=0,
                atol=1e-10,
            )


def _model(alpha=1.0, loss="quadratic_hinge", seeds=(0, 1), P=25, activation="tanh"):
    ds = load("teacher", P=P, n_test=10, d=4, dtype="float64", seed=1)
    arch = build_architecture("fc", (4,), 1, depth=2, width=9, activation=activation)
    return CenteredNetwork(arch, arch.initialize(list(seeds)), ds, alpha, LossSpec(loss))


@pytest.mark.parametrize("loss", ["quadratic_hinge", "soft_hinge", "mse", "cross_entropy"])
def test_gradient_agrees_with_finite_differences(loss):
    model = _model(alpha=2.0, loss=loss)
    params = {n: p + 0.3 * torch.randn_like(p) for n, p in model.initial().items()}
    ev = model.evaluate(params)
    direction = {n: torch.randn_like(p) for n, p in params.items()}
    eps = 1e-6
    plus = model.evaluate({n: p + eps * direction[n] for n, p in params.items()}).loss
    minus = model.evaluate({n: p - eps * direction[n] for n, p in params.items()}).loss
    numeric = (plus - minus) / (2 * eps)
    analytic = sum((ev.grad[n] * direction[n]).flatten(1).sum(1) for n in params)
    assert torch.allclose(numeric, analytic, rtol=1e-6, atol=1e-10)


def test_adaptive_flow_converges_as_thresholds_shrink():
    model = _model(activation="softplus", seeds=(0,), P=15)
    stop = StopRules(max_steps=100_000, max_time=2.0, stop_when_fitted=False)
    outputs = []
    for grad_tol, output_tol in ((1e-2, 1e-1), (1e-3, 1e-2), (1e-4, 1e-3), (1e-5, 1e-4)):
        flow = AdaptiveFlow(grad_tol=grad_tol, output_tol=output_tol, max_time=2.0)
        traj = fit(model, flow, stop)
        assert traj.status == ["max_time"]
        assert float(traj.final["t"][0]) == pytest.approx(2.0)
        outputs.append(model.train_outputs(traj.params))
    errors = [float((o - outputs[-1]).abs().max()) for o in outputs[:-1]]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < errors[0] / 5


def test_a_diverging_member_does_not_disturb_the_others():
    model = _model(seeds=(0, 1, 2))
    blown = model.initial()
    blown = {n: p.clone() for n, p in blown.items()}
    for p in blown.values():
        p[1] *= 1e200  # member 1 overflows at its first step
    model.params0 = blown
    traj = fit(model, SGD(lr=0.5), StopRules(max_steps=40, stop_when_fitted=False))
    assert traj.status == ["max_steps", "diverged", "max_steps"]
    reference = _model(seeds=(0, 2))
    ref = fit(reference, SGD(lr=0.5), StopRules(max_steps=40, stop_when_fitted=False))
    for name in ref.params:
        assert torch.allclose(traj.params[name][[0, 2]], ref.params[name], atol=1e-12)


def test_perceptron_fits_below_capacity_and_jams_above():
    """Random ±1 labels on Gaussian inputs: separable up to P = 2N (Cover; Gardner)."""
    n = 40
    base = dict(
        dataset="random",
        arch="linear",
        seeds=(0,),
        max_steps=6000,
        plateau_window=200,
        plateau_tol=1e-5,
    )
    below = train(TrainConfig(**base, data={"P": n // 2, "n_test": 10, "d": n, "seed": 3}))
    assert below["status"] == ["fitted"]
    above = train(TrainConfig(**base, data={"P": 4 * n, "n_test": 10, "d": n, "seed": 3}))
    assert above["status"] == ["plateau"]
    assert above["final"]["n_delta"][0] > 0.1 * n  # jammed: a finite fraction of N


def test_frozen_kernel_flow_is_the_large_alpha_limit():
    ds = load("stripe", P=20, n_test=15, d=3, dtype="float64", seed=0)
    arch = build_architecture("fc", (3,), 1, depth=1, width=30, activation="softplus")
    params0 = arch.initialize([0])
    stop = StopRules(max_steps=100_000, max_time=2.0, stop_when_fitted=False)
    flow = AdaptiveFlow(grad_tol=1e-4, output_tol=0.05, max_time=2.0)
    kernel = FrozenKernel(arch, params0, ds)
    lazy = kernel.test_outputs(fit(kernel, flow, stop).params)
    gaps = []
    for alpha in (10.0, 1000.0):
        model = CenteredNetwork(arch, params0, ds, alpha)
        gaps.append(float((model.test_outputs(fit(model, flow, stop).params) - lazy).abs().max()))
    # the distance to the kernel flow falls like 1/α
    assert gaps[1] < gaps[0] / 30
    assert gaps[1] < 1e-4 * float(lazy.abs().max())


def test_adam_schedule_follows_the_jamming_protocol():
    adam = Adam()
    assert adam.learning_rate(0) == 1e-4
    assert adam.learning_rate(249_999) == 1e-4
    assert adam.learning_rate(250_000) == pytest.approx(1e-5)
    assert adam.learning_rate(10_000_000) == 1e-7


def test_minibatch_sgd_runs_and_records_log_spaced():
    result = train(
        TrainConfig(**{**SMALL, "max_steps": 300}, dynamics="sgd", batch_size=8, seeds=(0, 1))
    )
    steps = result["trajectory"]["step"]
    assert steps[0] == 0 and steps[-1] == 300
    assert np.all(np.diff(steps) > 0)
    assert np.all(np.diff(np.log(steps[1:])) > 0)
    assert result["trajectory"]["margin_quantiles"].shape == (len(steps), 2, 5)
    assert np.isfinite(result["trajectory"]["ensemble_test_error"]).all()


def test_stopping_when_fitted_per_member():
    result = train(
        TrainConfig(
            dataset="random",
            data={"P": 10, "n_test": 5, "d": 20},
            arch="linear",
            seeds=(0, 1),
            max_steps=5000,
        )
    )
    assert result["status"] == ["fitted", "fitted"]
    assert result["final"]["n_delta"] == [0, 0]


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"width": -3}, InvalidOptionError, "width=-3"),
        ({"loss": "l1"}, UnknownNameError, "unknown loss 'l1'"),
        ({"alpha": 0.0}, InvalidOptionError, "alpha=0.0 must be > 0"),
        ({"dynamics": "momentum_flow"}, InvalidOptionError, "needs tau"),
        ({"dataset": "nope"}, UnknownNameError, "unknown data set"),
        ({"seeds": ()}, InvalidOptionError, "seeds"),
        ({"data": {"dtype": "float32"}}, InvalidOptionError, "set by the run"),
    ],
)
def test_bad_configs_are_clear_errors(changes, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**changes)


def test_dataset_architecture_mismatch_is_a_clear_error():
    with pytest.raises(InvalidOptionError, match="image inputs"):
        train(TrainConfig(arch="cnn", max_steps=1))


def test_config_round_trips_through_json():
    config = TrainConfig(width=10.5, seeds=(1, 2), tau=3.0, dynamics="momentum_flow")
    again = TrainConfig.from_dict(__import__("json").loads(config.to_json()))
    assert again == config
    with pytest.raises(InvalidOptionError, match="unknown config field"):
        TrainConfig.from_dict({"widht": 3})
    assert dataclasses.replace(config, width=11).to_json() != config.to_json()


def test_diverged_members_are_left_out_of_the_ensemble_mean():
    result = train(
        TrainConfig(
            dataset="random",
            data={"P": 20, "n_test": 10, "d": 5},
            depth=1,
            width=4,
            activation="tanh",
            seeds=(0, 1, 2, 3),
            dynamics="sgd",
            lr=5.0,
            loss="mse",
            stop_when_fitted=False,
            max_steps=300,
        )
    )
    assert result["status"] == ["diverged"] * 4
    assert np.isnan(result["final"]["ensemble_test_error"])


def test_a_stopped_member_keeps_its_weights_even_with_an_infinite_gradient():
    model = _model(seeds=(0, 1))
    for dynamics in (SGD(lr=0.1), Adam(lr=0.1)):
        state = dynamics.init(model, model.initial())
        before = {n: p.clone() for n, p in state.params.items()}
        for g in state.grad.values():
            g[1] = float("inf")
        state = dynamics.step(model, state, torch.tensor([True, False]))
        for name, p in state.params.items():
            assert torch.equal(p[1], before[name][1])
            assert not torch.equal(p[0], before[name][0])


def test_adaptive_flow_on_relu_kinks_stays_at_or_above_dt_min():
    model = _model(activation="relu", seeds=(0,), P=30)
    flow = AdaptiveFlow(dt_min=1e-4)
    state = flow.init(model, model.initial())
    active = torch.tensor([True])
    smallest = float("inf")
    for _ in range(400):
        state = flow.step(model, state, active)
        smallest = min(smallest, float(state.dt))
    assert smallest >= 1e-4
    assert float(state.t) > 1.0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"tau": 3.0}, "does not use tau"),
        ({"dynamics": "kernel_flow", "alpha": 7.0}, "does not use alpha"),
        ({"lr": 0.1}, "does not use lr"),
        ({"dynamics": "adam", "batch_size": 8}, "does not use batch_size"),
        ({"history": 5}, "does not use history"),
        ({"dynamics": "lbfgs", "lr": 0.1}, "does not use lr"),
        ({"beta": 0.0}, "beta=0.0 must be > 0"),
        ({"dynamics": "adam", "lr": 1e-9}, "below the schedule's floor"),
        ({"data": {"P": 0, "n_test": 5, "d": 3}}, "P=0 is too small"),
    ],
)
def test_fields_the_dynamics_ignores_or_cannot_use_are_errors(changes, match):
    with pytest.raises(InvalidOptionError, match=match):
        train(TrainConfig(**changes))


def test_one_sweep_spans_several_dynamics_with_their_tolerances_fixed():
    """Outside TrainConfig.STRICT, a field another dynamics reads is ignored, as before
    issue 16 (a sweep with dt0 fixed and a grid over dynamics expands, and its stored run
    keys stay), and the run is the same as without it."""
    fixed = {"dt0": 0.5, "grad_tol": 1e-3, "batch_seed": 3, "decay_every": 10, "lr_min": 1e-8}
    for dynamics in ("flow", "sgd", "adam", "lbfgs"):
        lr = {"lr": 0.01} if dynamics in ("sgd", "adam") else {}
        config = TrainConfig(dynamics=dynamics, **lr, **fixed)
        assert config.dt0 == 0.5 and config.dynamics == dynamics
    assert set(TrainConfig.STRICT) == {
        "alpha", "tau", "lr", "batch_size", "history", "stall_tol", "stall_steps",
        "window_steps", "window_tol",
    }  # fmt: skip


@pytest.mark.parametrize("case", ["flow", "minibatch sgd", "lbfgs", "convnet flow"])
def test_the_same_config_gives_the_same_numbers(case):
    """A run is a pure function of its config: twice the same bits; and on two threads
    the same numbers to rounding (the reductions may be summed in another order)."""
    options = ALONE_CASES[case]
    first = train(TrainConfig(**options, seeds=(0, 1)))
    again = train(TrainConfig(**options, seeds=(0, 1)))
    two = train(TrainConfig(**options, seeds=(0, 1), threads=2))
    for name, value in first["params"].items():
        assert np.array_equal(again["params"][name], value)
        np.testing.assert_allclose(two["params"][name], value, rtol=0, atol=1e-9)
    for key, value in first["trajectory"].items():
        if key != "wall_time":
            assert np.array_equal(again["trajectory"][key], value, equal_nan=True), key
    assert first["status"] == again["status"] == two["status"]
