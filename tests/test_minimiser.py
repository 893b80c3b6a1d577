"""The jamming minimiser (``dynamics="lbfgs"``): fast end points, and jammed told from fitted."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from symscape.train import TrainConfig, train
from symscape.train.dynamics import _inverse_hessian_times, flat_params


def _perceptron(P: int, seed: int, d: int = 100) -> dict:
    return train(
        TrainConfig(
            dataset="random",
            data={"P": P, "n_test": 10, "d": d, "seed": seed},
            arch="linear",
            dynamics="lbfgs",
            max_steps=3000,
        )
    )


def test_the_perceptron_jams_at_p_over_n_near_2():
    """Random labels on Gaussian inputs are separable up to P = 2N (Cover 1965)."""
    N, seeds = 100, range(8)
    fractions = {}
    for P in (160, 180, 200, 220, 240):
        runs = [_perceptron(P, s) for s in seeds]
        assert all(r["status"][0] in ("fitted", "jammed") for r in runs)  # every run decided
        assert all(r["stop_step"][0] < 300 for r in runs)  # in a few hundred evaluations
        fractions[P] = np.mean([r["status"][0] == "fitted" for r in runs])
    assert fractions[160] == 1.0 and fractions[240] == 0.0
    Ps = sorted(fractions)
    # where half of the instances fit (linear interpolation of the fraction)
    crossing = next(
        a + (b - a) * (fractions[a] - 0.5) / (fractions[a] - fractions[b])
        for a, b in itertools.pairwise(Ps)
        if fractions[a] >= 0.5 > fractions[b]
    )
    assert abs(crossing / N - 2.0) <= 0.2, crossing


def test_jammed_members_sit_at_a_minimum_with_unsatisfied_constraints():
    result = _perceptron(300, seed=1)
    assert result["status"] == ["jammed"]
    assert result["final"]["n_delta"][0] > 0.1 * 100  # a finite fraction of N
    # a minimum: the (convex) loss does not go lower with a long plain gradient descent
    longer = train(
        TrainConfig(
            dataset="random",
            data={"P": 300, "n_test": 10, "d": 100, "seed": 1},
            arch="linear",
            dynamics="sgd",
            lr=0.5,
            max_steps=20000,
            stop_when_fitted=False,
        )
    )
    assert result["final"]["loss"][0] <= longer["final"]["loss"][0] * (1 + 1e-6)


def test_wide_networks_fit_in_few_evaluations():
    result = train(
        TrainConfig(
            dataset="random",
            data={"P": 50, "n_test": 10, "d": 10},
            depth=2,
            width=16.0,
            activation="swish",
            dynamics="lbfgs",
            seeds=(0, 1, 2),
            max_steps=2000,
        )
    )
    assert result["status"] == ["fitted"] * 3
    assert max(result["stop_step"]) < 200


def test_the_compact_inverse_hessian_is_the_two_loop_recursion():
    """Independent check: Nocedal & Wright's two-loop recursion, written out for one member."""
    gen = torch.Generator().manual_seed(0)
    m, E, N = 5, 3, 8
    S = torch.randn(m, E, N, generator=gen, dtype=torch.float64)
    Y = S + 0.3 * torch.randn(m, E, N, generator=gen, dtype=torch.float64)
    rho = 1 / (S * Y).sum(-1)
    rho[:, 2] = torch.tensor([0.0, 0.0, rho[2, 2], rho[3, 2], 0.0])  # member 2: a partial history
    head = torch.tensor([2, 0, 4])
    g = torch.randn(E, N, generator=gen, dtype=torch.float64)
    Hg, has_history = _inverse_hessian_times(g, S, Y, rho, head)
    for e in range(E):
        slots = [(head[e] - 1 - k) % m for k in range(m)]  # newest first
        slots = [i for i in slots if rho[i, e] > 0]
        q, alphas = g[e].clone(), []
        for i in slots:
            a = rho[i, e] * S[i, e] @ q
            q -= a * Y[i, e]
            alphas.append(a)
        newest = (head[e] - 1) % m
        gamma = (S[newest, e] @ Y[newest, e]) / (Y[newest, e] @ Y[newest, e])
        z = gamma * q
        for i, a in zip(reversed(slots), reversed(alphas), strict=True):
            z += (a - rho[i, e] * Y[i, e] @ z) * S[i, e]
        assert bool(has_history[e]) == (rho[newest, e] > 0)
        if has_history[e]:
            torch.testing.assert_close(Hg[e], z, rtol=1e-10, atol=1e-12)


def test_flat_vectors_keep_member_order():
    params = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.arange(4.0).reshape(2, 2, 1)}
    assert flat_params(params).tolist() == [[0, 1, 2, 0, 1], [3, 4, 5, 2, 3]]


def _jamming_model(seeds, P=150, width=16.0):
    from symscape.data import load
    from symscape.train.models import CenteredNetwork, LossSpec

    config = TrainConfig(
        dataset="random",
        data={"P": P, "n_test": 10, "d": 8, "center": True, "sphere": True},
        depth=2,
        width=width,
        seeds=seeds,
    )
    ds = load(config.dataset, **config.data, dtype=config.dtype)
    arch = config.architecture(ds.input_shape, 1)
    params = arch.initialize(config.seeds, dtype=config.dtype)
    return CenteredNetwork(arch, params, ds, 1.0, LossSpec(config.loss, config.kappa)), params


def test_the_saddle_check_of_a_member_does_not_depend_on_its_ensemble():
    """The lowest curvature (Lanczos: 30 steps on N = 400 weights, so the start vector
    matters) of a member is the one it has alone: one start vector for every member."""
    from symscape.train.dynamics import LBFGS

    curvatures = []
    for seeds in ((0, 1, 2), (1,)):
        model, params = _jamming_model(seeds)
        assert model.arch.n_weights == 400
        dynamics = LBFGS()
        state = dynamics.init(model, params)
        everyone = torch.ones(len(seeds), dtype=torch.bool)
        dynamics._escape_saddles(model, state, everyone)
        curvatures.append(state.extra["lowest_curvature"])
    torch.testing.assert_close(curvatures[0][1:2], curvatures[1], rtol=1e-10, atol=1e-13)


def test_the_loss_stops_moving_window():
    """A member whose loss falls by less than ``window_tol`` (relative) over
    ``window_steps`` accepted steps has stopped moving (jammed, here: N = 22 < P = 54); a
    longer window with a smaller tolerance stops it later, at a lower loss."""
    options = dict(
        dataset="random",
        data={"P": 54, "n_test": 10, "d": 8, "center": True, "sphere": True},
        depth=2,
        width=2.0,
        activation="swish",
        dynamics="lbfgs",
        max_steps=20_000,
    )
    quick = train(TrainConfig(window_steps=100, window_tol=1e-2, **options))
    patient = train(TrainConfig(window_steps=200, window_tol=1e-3, **options))
    assert quick["status"] == patient["status"] == ["jammed"]
    assert quick["stop_step"][0] < patient["stop_step"][0] < 20_000
    assert patient["final"]["loss"][0] < quick["final"]["loss"][0]
    assert min(quick["final"]["n_delta"][0], patient["final"]["n_delta"][0]) > 10


def test_the_fraction_of_separable_draws_is_covers_count():
    """Cover (1965): P Gaussian points in general position in N dimensions, with random
    labels, are linearly separable (through the origin) with probability
    C(P, N) / 2^P, C(P, N) = 2 Σ_{k<N} binom(P−1, k). The minimiser fits exactly the
    separable draws, so its fitted fraction follows that law at every P/N, not only
    at the crossing P = 2N."""
    N, draws, chi2 = 10, 50, 0.0
    for P in (14, 18, 22, 26):
        exact = 2 * sum(math.comb(P - 1, k) for k in range(N)) / 2**P
        outcomes = []
        for seed in range(draws):
            run = train(
                TrainConfig(
                    dataset="random",
                    data={"P": P, "n_test": 2, "d": N, "seed": seed},
                    arch="linear",
                    dynamics="lbfgs",
                    max_steps=3000,
                    record_points=2,
                )
            )
            outcomes.append(run["status"][0])
        assert set(outcomes) <= {"fitted", "jammed"}  # every draw decided
        fraction = outcomes.count("fitted") / draws
        chi2 += (fraction - exact) ** 2 / (exact * (1 - exact) / draws)
    # χ² with 4 degrees of freedom: 13.28 is its 99 % quantile; a capacity off by one
    # dimension (N = 9 or 11) would add about 18–23 to its mean of 4
    assert chi2 < 13.28, chi2
