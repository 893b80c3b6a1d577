"""Each dynamics' update rule against an independent reference, step by step.

SGD and Adam against ``torch.optim`` on the same parameters and gradients (the
jamming protocol's schedule written out here); the adaptive flow's accept/reject
rule and the momentum flow's update (SCIENCE.md §3) against a few-line
re-implementation, member by member, on flat vectors.
"""

import dataclasses
import math

import pytest
import torch

from symscape.data import load
from symscape.nets import build_architecture
from symscape.train import SGD, Adam, AdaptiveFlow, CenteredNetwork, LossSpec


def _model(seeds=(0, 1), P=25, activation="tanh", loss="quadratic_hinge", alpha=1.0):
    ds = load("teacher", P=P, n_test=10, d=4, dtype="float64", seed=1)
    arch = build_architecture("fc", (4,), 1, depth=2, width=9, activation=activation)
    return CenteredNetwork(arch, arch.initialize(list(seeds)), ds, alpha, LossSpec(loss))


def _all(model):
    E = next(iter(model.params0.values())).shape[0]
    return torch.ones(E, dtype=torch.bool)


def _assert_params_close(ours, reference, atol=1e-12):
    for name, value in reference.items():
        torch.testing.assert_close(ours[name], value, rtol=0, atol=atol)


def _torch_run(model, optimiser_of, steps, gradient_of, schedule=None):
    """The parameters after each of ``steps`` steps of a torch optimiser, the gradient at
    each step given by ``gradient_of(params, step)``."""
    leaves = {n: p.clone().requires_grad_(True) for n, p in model.initial().items()}
    optimiser = optimiser_of(list(leaves.values()))
    history = []
    for k in range(steps):
        if schedule is not None:
            for group in optimiser.param_groups:
                group["lr"] = schedule(k)
        current = {n: p.detach().clone() for n, p in leaves.items()}
        for name, g in gradient_of(current, k).items():
            leaves[name].grad = g.clone()
        optimiser.step()
        history.append({n: p.detach().clone() for n, p in leaves.items()})
    return history


def test_sgd_steps_are_torch_optim_sgd():
    model = _model()
    sgd = SGD(lr=0.3)
    reference = _torch_run(
        model, lambda ps: torch.optim.SGD(ps, lr=0.3), 8, lambda p, k: model.evaluate(p).grad
    )
    state = sgd.init(model, model.initial())
    for expected in reference:
        state = sgd.step(model, state, _all(model))
        _assert_params_close(state.params, expected)
        # the state stays consistent: loss and gradient evaluated at the new weights
        torch.testing.assert_close(state.loss, model.evaluate(state.params).loss, rtol=0, atol=0)
    assert torch.allclose(state.t, torch.full_like(state.t, 8 * 0.3))


def test_minibatch_sgd_steps_are_torch_optim_sgd_on_the_documented_batches():
    """Each epoch a fresh permutation from ``batch_seed``, cut into batches of
    ``batch_size``; its last ``P mod batch_size`` points are skipped. The batch gradient
    of the reference is that of a model built on the batch's points alone."""
    P, batch_size, seed = 23, 5, 7
    model = _model(P=P)
    ds = load("teacher", P=P, n_test=10, d=4, dtype="float64", seed=1)
    generator = torch.Generator().manual_seed(seed)
    batches = []
    while len(batches) < 13:  # three epochs and a bit: four batches per epoch, 3 points left
        permutation = torch.randperm(P, generator=generator)
        batches += [
            permutation[i : i + batch_size] for i in range(0, P - batch_size + 1, batch_size)
        ]
    assert all(len(set(torch.cat(batches[e * 4 : e * 4 + 4]).tolist())) == 20 for e in range(3))

    def batch_gradient(params, k):
        sub = dataclasses.replace(
            ds, x_train=ds.x_train[batches[k]], y_train=ds.y_train[batches[k]]
        )
        alone = CenteredNetwork(model.arch, model.params0, sub, model.alpha, model.loss)
        return alone.evaluate(params).grad

    lr = 0.2
    reference = _torch_run(model, lambda ps: torch.optim.SGD(ps, lr=lr), 13, batch_gradient)
    sgd = SGD(lr=lr, batch_size=batch_size, batch_seed=seed)
    state = sgd.init(model, model.initial())
    for expected in reference:
        state = sgd.step(model, state, _all(model))
        _assert_params_close(state.params, expected)


def test_adam_steps_are_torch_optim_adam_with_the_jamming_schedule():
    """``lr · 10^−⌊k / decay_every⌋`` at step k (from 0), never below ``lr_min``."""
    lr, decay_every, lr_min = 0.05, 4, 2e-4

    def schedule(k):
        return max(lr * 0.1 ** (k // decay_every), lr_min)

    assert [schedule(k) for k in (0, 3, 4, 7, 8, 12, 40)] == pytest.approx(
        [0.05, 0.05, 0.005, 0.005, 5e-4, 2e-4, 2e-4]
    )
    model = _model()
    steps = 18
    reference = _torch_run(
        model,
        lambda ps: torch.optim.Adam(ps, lr=lr, betas=(0.9, 0.999), eps=1e-8),
        steps,
        lambda p, k: model.evaluate(p).grad,
        schedule,
    )
    adam = Adam(lr=lr, decay_every=decay_every, lr_min=lr_min)
    state = adam.init(model, model.initial())
    for k, expected in enumerate(reference):
        state = adam.step(model, state, _all(model))
        _assert_params_close(state.params, expected)
        assert torch.allclose(state.dt, torch.full_like(state.dt, schedule(k)), rtol=1e-12)
        assert adam.learning_rate(k) == pytest.approx(schedule(k), rel=1e-12)


def _flat(params, member):
    return torch.cat([p[member].reshape(-1) for p in params.values()])


def _unflat(vector, like, member):
    """The ensemble ``like`` with member ``member`` replaced by the flat ``vector``."""
    out, i = {}, 0
    for name, p in like.items():
        n = p[member].numel()
        out[name] = p.clone()
        out[name][member] = vector[i : i + n].reshape(p[member].shape)
        i += n
    return out


def _evaluator(model, member):
    """Gradient and training outputs of one member, as flat vectors, at flat weights."""
    like = model.initial()

    def evaluate(w):
        ev = model.evaluate(_unflat(w, like, member))
        return _flat(ev.grad, member), ev.output[member].reshape(-1)

    return evaluate


def _trial(evaluate, w, g, F, v, dt, tau):
    """One trial step of SCIENCE.md §3 from (w, g, F, v): plain ``w − dt g``, or momentum
    ``v ← e^{−dt/τ} v − (1 − e^{−dt/τ}) g``, ``w ← w + dt v``; the trial's weights,
    velocity, gradient and outputs, ``‖g − g'‖²/(‖g‖‖g'‖)`` and ``max|ΔF|``."""
    if tau is None:
        v_trial, w_trial = v, w - dt * g
    else:
        decay = math.exp(-dt / tau)
        v_trial = decay * v - (1 - decay) * g
        w_trial = w + dt * v_trial
    g_trial, F_trial = evaluate(w_trial)
    norms = math.sqrt(float(g.pow(2).sum()) * float(g_trial.pow(2).sum()))
    change = float((g_trial - g).pow(2).sum()) / norms
    jump = float((F_trial - F).abs().max())
    return w_trial, v_trial, g_trial, F_trial, change, jump


def _reference_flow(model, member, steps, dt0, grad_tol, output_tol, tau=None):
    """SCIENCE.md §3, one member on flat vectors: trial step from dt; accept when
    ‖g − g'‖²/(‖g‖‖g'‖) < grad_tol and max|ΔF| < output_tol; grow dt × 1.1 when both are
    under half their bound; on reject keep w (and v) and dt ÷ 10."""
    evaluate = _evaluator(model, member)
    w = _flat(model.initial(), member)
    g, F = evaluate(w)
    v = torch.zeros_like(w)
    dt, t = dt0, 0.0
    history = []
    for _ in range(steps):
        w_trial, v_trial, g_trial, F_trial, change, jump = _trial(evaluate, w, g, F, v, dt, tau)
        if change < grad_tol and jump < output_tol:
            w, v, g, F, t = w_trial, v_trial, g_trial, F_trial, t + dt
            grown = change < grad_tol / 2 and jump < output_tol / 2
            if grown:
                dt *= 1.1
            history.append(("grown" if grown else "kept", w, t, dt))
        else:
            dt /= 10
            history.append(("rejected", w, t, dt))
    return history


@pytest.mark.parametrize("tau", [None, 3.0], ids=["flow", "momentum_flow"])
def test_adaptive_flow_steps_follow_the_accept_reject_rule(tau):
    dt0, grad_tol, output_tol, steps = 4.0, 2e-3, 0.05, 40
    model = _model(seeds=(0, 1), alpha=2.0)
    flow = AdaptiveFlow(dt0=dt0, grad_tol=grad_tol, output_tol=output_tol, tau=tau, dt_min=1e-12)
    references = [_reference_flow(model, m, steps, dt0, grad_tol, output_tol, tau) for m in (0, 1)]
    for member, reference in enumerate(references):
        kinds = {kind for kind, *_ in reference}
        assert kinds == {"grown", "kept", "rejected"}, (member, kinds)  # every branch is taken
    state = flow.init(model, model.initial())
    for k in range(steps):
        state = flow.step(model, state, _all(model))
        for member, reference in enumerate(references):
            kind, w, t, dt = reference[k]
            assert bool(state.extra["accepted"][member]) == (kind != "rejected"), (k, member)
            torch.testing.assert_close(_flat(state.params, member), w, rtol=0, atol=1e-11)
            assert float(state.t[member]) == pytest.approx(t, rel=1e-12)
            assert float(state.dt[member]) == pytest.approx(dt, rel=1e-12)


@pytest.mark.parametrize("tau", [None, 3.0], ids=["flow", "momentum_flow"])
@pytest.mark.parametrize(
    ("grad_scale", "output_scale", "outcome"),
    [
        (2.5, 2.5, "grown"),  # both under half their bound
        (1.5, 2.5, "kept"),  # the gradient change over half its bound
        (2.5, 1.5, "kept"),  # the outputs' jump over half its bound
        (1 / 1.5, 4.0, "rejected"),  # the gradient change alone over its bound
        (4.0, 1 / 1.5, "rejected"),  # the outputs' jump alone over its bound
    ],
)
def test_adaptive_flow_first_step_at_each_bound(tau, grad_scale, output_scale, outcome):
    """The bounds set around the first trial's own gradient change C and outputs' jump J
    (grad_tol = grad_scale · C, output_tol = output_scale · J): each bound alone decides."""
    dt0 = 0.7
    model = _model(seeds=(3,), alpha=2.0)
    evaluate = _evaluator(model, 0)
    w = _flat(model.initial(), 0)
    g, F = evaluate(w)
    w_trial, _, _, _, change, jump = _trial(evaluate, w, g, F, torch.zeros_like(w), dt0, tau)
    assert change > 1e-6 and jump > 1e-3  # a trial that moves: the scales mean something
    flow = AdaptiveFlow(
        dt0=dt0,
        grad_tol=grad_scale * change,
        output_tol=output_scale * jump,
        tau=tau,
        dt_min=1e-12,
    )
    state = flow.step(model, flow.init(model, model.initial()), _all(model))
    assert bool(state.extra["accepted"][0]) == (outcome != "rejected")
    expected_dt = {"grown": 1.1 * dt0, "kept": dt0, "rejected": dt0 / 10}[outcome]
    assert float(state.dt[0]) == pytest.approx(expected_dt, rel=1e-12)
    expected_w = w if outcome == "rejected" else w_trial
    torch.testing.assert_close(_flat(state.params, 0), expected_w, rtol=0, atol=1e-12)
