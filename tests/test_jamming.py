"""Jamming: N* by bisection through the store, the line N*(P), the Hessian at the minimum."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import numpy as np
import pytest
import torch

from symscape.cli import main
from symscape.errors import InvalidOptionError
from symscape.experiments.jamming import (
    JammingConfig,
    find_transition,
    fit_line,
    hessian_at_minimum,
    hessian_extremes,
    markdown_section,
    paper_configs,
    run,
    save_results,
)
from symscape.experiments.jamming.minimum import _model_of_row
from symscape.sweep import Store
from symscape.sweep.runner import Runner
from symscape.train import TrainConfig, train
from symscape.train.config import load
from symscape.train.dynamics import flat_params, unflat_params
from symscape.train.models import CenteredNetwork, LossSpec

SMALL = JammingConfig(
    data={"d": 5, "n_test": 20}, P_values=(24,), seeds=(0, 1, 2, 3), width_max=8.0, bisections=2
)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    db = tmp_path_factory.mktemp("jamming") / "j.db"
    return run(SMALL, db), db


def test_the_bisection_brackets_n_star_and_wider_nets_fit(searched):
    record, _ = searched
    [search] = record["searches"]
    low, high = search["bracket"]
    assert low < search["N_star"] < high
    by_width = {t["width"]: t for t in search["tried"]}
    w_low, w_high = search["width_bracket"]
    assert by_width[w_low]["fitted"] < 0.5 <= by_width[w_high]["fitted"]
    # N_Δ = 0 for every seed at every width tried above the bracket
    above = [t for t in search["tried"] if t["N"] > high]
    assert above and all(t["fitted"] == 1.0 and t["n_delta_over_N"] == 0 for t in above)
    assert all(t["undecided"] == 0 for t in search["tried"])


def test_a_rerun_reads_the_store_instead_of_training(searched):
    record, db = searched
    with sqlite3.connect(db) as connection:
        before = connection.execute("SELECT key, finished FROM runs ORDER BY key").fetchall()
    again = find_transition(SMALL, 24, db)  # the older form: a store path
    through_runner = run(SMALL, Runner(db, "inprocess"))
    with sqlite3.connect(db) as connection:
        after = connection.execute("SELECT key, finished FROM runs ORDER BY key").fetchall()
    assert after == before  # nothing trained, nothing rewritten
    assert again["N_star"] == record["searches"][0]["N_star"]
    assert through_runner["searches"] == record["searches"]
    assert through_runner["line"] == record["line"]
    assert through_runner["transition"]["eig_H"].tolist() == record["transition"]["eig_H"].tolist()


def test_results_files_and_summary(searched, tmp_path):
    record, _ = searched
    summary = save_results(record, tmp_path)
    assert (tmp_path / "jamming.json").exists()
    for name in ("jamming_ndelta", "jamming_phase_diagram"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
        assert (tmp_path / f"{name}.pdf").stat().st_size > 0
    assert json.loads((tmp_path / "jamming.json").read_text())["experiment"] == "jamming"
    assert summary["N_star"]["24"] == pytest.approx(record["searches"][0]["N_star"])
    text = markdown_section(summary)  # the Markdown of describe's part
    assert "| N* at P = 24 (width bisection) | " in text and "| gap exponent θ (" in text


def test_gap_exponents_pool_every_jammed_seed_at_the_transition(searched):
    record, _ = searched
    transition = record["transition"]
    fit = transition["gap_exponents"]
    assert transition["seeds_pooled"] >= 1
    # the one seed's N_Δ unsatisfied gaps are among the pooled ones
    assert fit["theta"]["n"] >= transition["n_delta"] > 0
    assert fit["theta"]["n"] + fit["gamma"]["n"] <= 24 * transition["seeds_pooled"]


@pytest.mark.parametrize(("theta", "gamma"), [(0.3, 0.2), (0.0, 0.5)])
def test_gap_exponents_recover_known_distributions(theta, gamma):
    """Unsatisfied gaps of density ∝ Δ^θ and satisfied ones ∝ |Δ|^−γ near zero."""
    from symscape.experiments.jamming import gap_exponents

    rng = np.random.default_rng(1)
    unsatisfied = rng.random(3000) ** (1 / (1 + theta))
    satisfied = -(rng.random(3000) ** (1 / (1 - gamma))) * 5
    fit = gap_exponents(np.concatenate([unsatisfied, satisfied]), n_bootstrap=200)
    for name, value in (("theta", theta), ("gamma", gamma)):
        e = fit[name]
        assert e["value"] == pytest.approx(value, abs=0.12)  # 750 gaps: ±0.05 of noise
        assert e["ci_low"] <= value <= e["ci_high"]  # covers the exponent drawn with
        assert e["ci_high"] - e["ci_low"] < 0.4
    few = gap_exponents(np.array([0.1, 0.2, -0.3]))
    assert few["theta"]["value"] is None and few["gamma"]["n"] == 1


def test_gap_exponents_near_zero_only_and_resampling_the_minima():
    """A power law only near 0 (an exponential tail): a small fraction finds θ, the bulk
    does not, and the drift shows it; several minima are resampled as clusters."""
    from symscape.experiments.jamming import gap_exponents

    rng = np.random.default_rng(2)
    theta = 0.3
    # density ∝ Δ^θ e^−Δ: a Gamma(1 + θ) variable
    minima = [rng.gamma(1 + theta, size=2000) for _ in range(8)]
    fit = gap_exponents(minima, fraction=0.02, n_bootstrap=200)
    assert fit["resampled"] == "minima" and fit["minima"] == 8
    assert fit["theta"]["value"] == pytest.approx(theta, abs=0.1)
    assert fit["theta"]["ci_low"] <= theta <= fit["theta"]["ci_high"]
    drift = fit["theta"]["drift"]
    # the bulk bends the cumulative distribution: the larger the fraction, the lower θ
    assert drift["0.5"] < drift["0.25"] < drift["0.1"] < theta
    # gaps at the margin to rounding count in C but are not fitted
    with_margin = [np.concatenate([g, np.full(100, 1e-12)]) for g in minima]
    shifted = gap_exponents(with_margin, fraction=0.1, n_bootstrap=0, tol=1e-9)
    assert shifted["theta"]["n"] == 8 * 2000
    assert shifted["theta"]["value"] is not None


def test_fit_line_recovers_a_power_law():
    P = [100, 200, 400, 800]
    line = fit_line(P, [3.0 * p**0.8 for p in P])
    assert line["slope"] == pytest.approx(0.8)
    assert line["slope_stderr"] == pytest.approx(0, abs=1e-9)
    assert fit_line([100], [5.0]) is None


def _trained_net(P=20, width=2.0, seed=0, alpha=1.0, dynamics="lbfgs", steps=5000):
    config = TrainConfig(
        dataset="random",
        data={"P": P, "n_test": 10, "d": 5},
        depth=2,
        width=width,
        activation="swish",
        alpha=alpha,
        dynamics=dynamics,
        seeds=(seed,),
        max_steps=steps,
        **({"lr": 0.5, "stop_when_fitted": False} if dynamics == "sgd" else {}),
    )
    result = train(config)
    row = {"config": config.to_dict(), "seed": seed}
    arrays = {f"params/{k}": v[0] for k, v in result["params"].items()}
    return result, _model_of_row(row, arrays)


def test_hessian_is_the_derivative_of_the_engine_gradient():
    """H against central differences of the training gradient, column by column (α = 2)."""
    _, (model, params) = _trained_net(alpha=2.0, dynamics="sgd", steps=30)
    details = hessian_at_minimum(model, params)
    flat = flat_params(params)[0]

    def grad_at(w):
        return flat_params(model.evaluate(unflat_params(w[None], params)).grad)[0]

    eps = 1e-6
    columns = [
        (grad_at(flat + eps * e) - grad_at(flat - eps * e)) / (2 * eps)
        for e in torch.eye(details["N"], dtype=flat.dtype)
    ]
    finite_differences = torch.stack(columns, 1).numpy()
    np.testing.assert_allclose(details["H"], finite_differences, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(np.linalg.eigvalsh(details["H"]), details["eig_H"], atol=1e-10)


def test_h0_nonzero_spectrum_is_the_gram_matrix_and_its_rank_counts_constraints():
    result, (model, params) = _trained_net(width=4.0, dynamics="sgd", steps=50)
    details = hessian_at_minimum(model, params)
    n_delta = details["n_delta"]
    assert n_delta == result["final"]["n_delta"][0] > 0
    assert n_delta < details["N"]
    # H0 is a sum of N_Δ rank-one terms: of rank N_Δ away from a minimum (at a minimum
    # Σ Δ_μ ∇Δ_μ = P ∇L = 0 is one relation among them)
    assert details["rank_H0"] == n_delta
    # the N_Δ-th eigenvalue of H0, over the largest, is the one the rank test kept
    top_down = np.sort(details["eig_H0"])[::-1]
    assert details["smallest_H0_relative"] == pytest.approx(top_down[n_delta - 1] / top_down[0])
    assert details["lowest_H_relative"] == pytest.approx(details["eig_H"].min() / top_down[0])
    # H0 = Jᵀ J / P and the P x P Gram matrix J Jᵀ / P share their non-zero eigenvalues
    from torch.func import jacrev

    def outputs(w):
        moved = unflat_params(w[None], params)
        return model.outputs(moved, model.x_train, model.f0_train).reshape(-1)

    J = jacrev(outputs)(flat_params(params)[0])[torch.as_tensor(details["gaps"]) > 0]
    gram = np.sort(torch.linalg.eigvalsh(J @ J.T / details["P"]).numpy())
    top = np.sort(details["eig_H0"])[-n_delta:]
    np.testing.assert_allclose(gram, top, rtol=1e-8, atol=1e-10 * top.max())


def test_a_linear_model_has_no_hp():
    config = TrainConfig(
        dataset="random", data={"P": 60, "n_test": 5, "d": 10}, arch="linear", dynamics="lbfgs"
    )
    ds = load("random", **config.data, dtype="float64")
    arch = config.architecture(ds.input_shape, 1)
    model = CenteredNetwork(arch, arch.initialize([0]), ds, 1.0, LossSpec())
    result = train(config)
    params = {k: torch.as_tensor(v) for k, v in result["params"].items()}
    details = hessian_at_minimum(model, params)
    assert result["status"] == ["jammed"]
    np.testing.assert_allclose(details["eig_Hp"], 0, atol=1e-12)
    assert details["rank_H0"] == 10  # N_Δ > N: H0 has full rank N
    assert details["negative_H"] == 0


def test_bad_configs_and_the_command_line(tmp_path, capsys):
    with pytest.raises(InvalidOptionError, match="several seeds"):
        JammingConfig(seeds=(0,))
    with pytest.raises(InvalidOptionError, match="range"):
        JammingConfig(width_min=8.0, width_max=4.0)
    with pytest.raises(InvalidOptionError, match="P_values"):
        JammingConfig(data={"P": 3})
    out = tmp_path / "out"
    argv = [
        "jamming",
        "--P-values",
        "16",
        "--seeds",
        "0-3",
        "--width-max",
        "8",
        "--bisections",
        "1",
        "--d",
        "4",
        "--n-test",
        "100",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "N* at P = 16" in printed  # a row of describe's part
    assert f"results in {out}" in printed
    assert (out / "jamming.json").exists() and (out / "jamming.db").exists()
    with Store(out / "jamming.db", create=False) as store:
        assert store.counts()["done"] > 0
    assert main(["jamming", "--P-values", "x"]) == 2
    assert "--P-values 'x' is not a list of ints" in capsys.readouterr().err


def test_lanczos_extremes_match_the_exact_spectrum(searched, tmp_path):
    _, (model, params) = _trained_net(width=4.0, dynamics="sgd", steps=50)
    exact = hessian_at_minimum(model, params)
    extremes = hessian_extremes(model, params, k=4)
    np.testing.assert_allclose(extremes["eig_H_top"], np.sort(exact["eig_H"])[::-1][:4], rtol=1e-7)
    np.testing.assert_allclose(extremes["eig_H_bottom"], np.sort(exact["eig_H"])[:4], atol=1e-9)
    assert extremes["n_delta"] == exact["n_delta"]
    # a large network's transition is drawn from its extremes
    record = {**searched[0], "transition": {**extremes, "width": 4.0}}
    save_results(record, tmp_path)
    assert (tmp_path / "jamming_transition.png").stat().st_size > 0


def test_paper_protocols_are_valid_configs_reported_per_data_set(searched, tmp_path):
    configs = paper_configs("/nowhere")
    assert set(configs) == {"random", "random-authors", "mnist", "cifar10"}
    assert all(c.activation == "relu" for c in configs.values())
    assert configs["random-authors"].authors_architecture  # ReLU, orthogonal, biases, d = h
    assert configs["mnist"].data["pca"] == 10 and configs["cifar10"].data["labels"] == "halves"
    part = save_results(searched[0], tmp_path, name="jamming_random")
    text = markdown_section({"scale": "paper", "datasets": {"random": part}})
    assert text.startswith("## 1. The jamming transition")
    assert "| N* at P = 24 (width bisection) (random) | " in text
    assert (tmp_path / "jamming_random_phase_diagram.png").stat().st_size > 0


def test_describe_says_where_an_unlocated_n_star_lies():
    summary = {
        "N_star": {"16": None, "32": 20.5},
        "bracket": {"16": None, "32": [18, 23]},
        "outside": {"16": "above width_max"},
        "line": None,
        "transition": {},
        "figures": [],
        "record": "jamming.json",
    }
    text = markdown_section(summary)
    assert "| N* at P = 16 (width bisection) | not located (above width_max) |" in text
    assert "| N* at P = 32 (width bisection) | 20.5 [18, 23] |" in text


def test_an_undecided_run_is_never_counted_as_fitted(tmp_path):
    from symscape.experiments.jamming.search import measure_many, outcome_counts

    counts = outcome_counts(["max_steps", "max_steps", "plateau", "fitted"])
    assert counts["fitted"] == 0.25 and counts["undecided"] == 3 and counts["flagged"]
    # a wide network stopped after one step: neither fitted nor jammed, so not fitted
    config = JammingConfig(data={"d": 5, "n_test": 5}, P_values=(8,), seeds=(0, 1), max_steps=1)
    runner = Runner(tmp_path / "j.db", "inprocess")
    [point] = measure_many([(config.train_configs(8, 16.0), "undecided")], runner)
    assert point["outcomes"] == ["max_steps", "max_steps"]
    assert point["fitted"] == 0 and point["undecided_fraction"] == 1 and point["flagged"]


def test_the_window_rule_is_the_jamming_config_s_to_choose():
    """window_steps and window_tol reach the minimiser: a looser rule (the loss must fall by
    half over 50 steps) stops the slow seed of a hopeless network (P = 96, N = 7) more than
    five times sooner (56 steps against 573), with the same verdict, and the defaults leave
    every run's config unchanged."""
    from symscape.train import TrainConfig, train

    common = dict(data={"d": 5, "n_test": 5}, P_values=(8,), seeds=(0, 1, 2), max_steps=3000)
    default = JammingConfig(**common).train_config(96, 1.0)
    loose = JammingConfig(**common, window_steps=50, window_tol=0.5).train_config(96, 1.0)
    assert (loose.window_steps, loose.window_tol) == (50, 0.5)
    plain = {k: v for k, v in default.to_dict().items() if not k.startswith("window_")}
    assert TrainConfig(**plain) == default  # the defaults are TrainConfig's: same store keys
    slow, fast = train(default), train(loose)
    assert slow["status"] == fast["status"] == ["jammed"] * 3
    assert fast["stop_step"][1] * 5 < slow["stop_step"][1]
    assert all(f <= s for f, s in zip(fast["stop_step"], slow["stop_step"], strict=True))


def test_the_perceptron_capacity_is_two_n_through_the_p_bisection(tmp_path):
    """Cover (1965): P Gaussian points in d dimensions with random labels are linearly
    separable with probability 1/2 at P = 2d, so the P bisection must find P*/N ≈ 2."""
    from symscape.experiments.jamming import find_capacity

    d = 20
    config = JammingConfig(
        data={"d": d, "n_test": 5, "center": True, "sphere": True},
        P_values=(),
        control_d=(d,),
        seeds=(0, 1),
        control_draws=12,
        ratio_min=1.5,
        ratio_max=3.0,
        P_bisections=5,
    )
    scan = find_capacity(config, 1.0, Runner(tmp_path / "p.db", "inprocess"), d=d)
    assert scan["N"] == d and scan["draws"] == 12
    assert scan["P_star"] / d == pytest.approx(2.0, rel=0.1)
    assert all(t["undecided"] == 0 for t in scan["tried"])  # a convex problem decides


def test_bisections_in_lockstep_are_the_bisections_one_at_a_time(tmp_path):
    """find_capacities trains every network's next P as one sweep (a pool's workers train
    them side by side) and gives what each bisection gives alone, the same runs in the
    store; two perceptrons and a depth-2 net of different N."""
    from symscape.experiments.jamming import find_capacities, find_capacity
    from symscape.sweep import Store

    config = JammingConfig(
        data={"d": 6, "n_test": 5, "center": True, "sphere": True},
        P_values=(),
        widths=(2.0,),
        control_d=(6, 10),
        seeds=(0, 1),
        control_draws=4,
        ratio_min=1.0,
        ratio_max=4.0,
        P_bisections=3,
        max_steps=2000,
    )
    networks = [(1.0, 6), (2.0, None), (1.0, 10)]
    together = find_capacities(config, networks, Runner(tmp_path / "a.db", "pool"))
    alone = [
        find_capacity(config, width, Runner(tmp_path / "b.db", "inprocess"), d=d)
        for width, d in networks
    ]
    assert together == alone
    with Store(tmp_path / "a.db", create=False) as a, Store(tmp_path / "b.db", create=False) as b:
        assert sorted(a.statuses()) == sorted(b.statuses())


def test_data_sets_in_one_lockstep_give_each_run_alone(tmp_path):
    """run_many advances two configs' bisections (random data of different d, networks and
    a perceptron control the two share) in one queue per round, and gives each config's
    run() record, wall time and host aside."""
    from symscape.experiments.jamming import run
    from symscape.experiments.jamming.experiment import run_many

    base = JammingConfig(
        data={"d": 6, "n_test": 5, "center": True, "sphere": True},
        P_values=(),
        widths=(2.0,),
        seeds=(0, 1),
        control_draws=3,
        ratio_min=1.0,
        ratio_max=4.0,
        P_bisections=2,
        max_steps=1500,
        gap_minima=1,
        gap_count=1,
    )
    configs = [
        dataclasses.replace(base, control_d=(6,)),
        dataclasses.replace(base, data={**base.data, "d": 5}, widths=(1.5, 3.0), control_d=(6,)),
    ]
    rounds = []

    class Counting(Runner):
        def complete(self, spec, what=""):
            rounds.append(what)
            return super().complete(spec, what)

    together = run_many(configs, Counting(tmp_path / "a.db", "pool"))
    alone = [run(c, Runner(tmp_path / "b.db", "inprocess")) for c in configs]
    assert len(rounds) <= 1 + base.P_bisections  # one queue per round, not one per config

    def comparable(record):
        return {k: v for k, v in record.items() if k not in ("wall_time_s", "host")}

    assert [comparable(r) for r in together] == [comparable(r) for r in alone]
    assert [len(r["scans"]) for r in together] == [1, 2]
    assert together[0]["controls"] == together[1]["controls"]  # the same perceptron runs


def _synthetic_scans(law, spread=0.1, runs=40, seed=0):
    """P scans whose every run has its own capacity law(N)(1 + spread z): fitted iff P < it."""
    from symscape.experiments.jamming import crossing

    rng = np.random.default_rng(seed)
    scans = []
    for N in (50, 100, 200, 400):
        capacities = law(N) * (1 + spread * rng.standard_normal(runs))
        grid = np.unique(np.geomspace(0.6 * law(N), 1.6 * law(N), 9).round().astype(int))
        tried = [
            {"P": int(P), "outcomes": ["fitted" if c > P else "jammed" for c in capacities]}
            for P in grid
        ]
        fractions = [np.mean([o == "fitted" for o in t["outcomes"]]) for t in tried]
        P_star = crossing([t["P"] for t in tried], fractions)
        scans.append({"N": N, "P_star": P_star, "tried": tried, "draws": 1})
    return scans


def test_the_slope_of_p_star_and_its_interval_tell_a_linear_law_from_another():
    from symscape.experiments.jamming import capacity_line

    linear = capacity_line(_synthetic_scans(lambda N: 3.0 * N), n_bootstrap=300)
    assert linear["points"] == 4
    assert linear["ci_low"] < 1.0 < linear["ci_high"]
    assert linear["ci_high"] - linear["ci_low"] < 0.2
    assert all(r["ratio"] == pytest.approx(3.0, rel=0.05) for r in linear["ratios"])
    steeper = capacity_line(_synthetic_scans(lambda N: 0.5 * N**1.3), n_bootstrap=300)
    assert steeper["ci_low"] > 1.0 and steeper["slope"] == pytest.approx(1.3, abs=0.1)
    # two networks: a slope but nothing to judge it by in the report
    two = capacity_line(_synthetic_scans(lambda N: 3.0 * N)[:2], n_bootstrap=50)
    assert two["points"] == 2


def test_gap_exponents_need_many_jammed_minima_just_past_the_transition(searched):
    from symscape.experiments.jamming.minimum import just_past, pooled_gaps

    record, db = searched
    keys = just_past([], record["searches"], 1.3)
    few = pooled_gaps(keys, db, minima=8, count=200)
    assert few["minima"] == len(keys) < 8
    assert "theta" not in few and "jammed minima" in few["untestable"]
    enough = pooled_gaps(keys, db, minima=1, count=1)
    assert enough["theta"]["n"] == enough["unsatisfied"] and "untestable" not in enough


def test_every_row_beside_a_paper_value_carries_a_verdict():
    from symscape.comparisons import VERDICTS
    from symscape.experiments.jamming import describe

    scans = _synthetic_scans(lambda N: 3.0 * N)
    from symscape.experiments.jamming import capacity_line

    summary = {
        "dataset": "random",
        "authors_architecture": False,
        "N_star": {"32": 20.5, "64": 30.0},
        "bracket": {"32": [18, 23], "64": [26, 34]},
        "search_undecided": {"32": [0.0, 0.25], "64": [0.0, 0.5]},
        "line": {"slope": 0.55, "intercept": 1.0, "slope_stderr": None},
        "scans": [
            {
                **{k: s[k] for k in ("N", "P_star")},
                "width": 2.0,
                "d": None,
                "bracket": [int(s["P_star"]), int(s["P_star"]) + 1],
                "outside": None,
                "undecided": [0.0, 0.0],
            }
            for s in scans
        ],
        "capacity": capacity_line(scans, n_bootstrap=50),
        "controls": [],
        "control": {
            "ratios": [{"N": 20, "P_star": 40.5, "ratio": 2.02, "ci_low": 1.9, "ci_high": 2.1}]
        },
        "gaps": {
            "minima": 3,
            "unsatisfied": 20,
            "satisfied": 40,
            "n_delta_over_N": 0.1,
            "untestable": "3 jammed minima just past the transition (8 needed)",
        },
        "undecided": {
            "runs": 10,
            "undecided": 1,
            "near_runs": 4,
            "near_undecided": 1,
            "flagged": [],
        },
        "transition": {"N": 26, "P": 64, "n_delta": 32, "rank_H0": 26, "negative_H": 0},
        "figures": [],
        "record": "jamming.json",
    }
    rows = describe(summary).comparisons
    judged_rows = [r for r in rows if r.reported != "—"]
    assert judged_rows and all(r.kind in VERDICTS for r in judged_rows)
    assert all(r.kind == "" for r in rows if r.reported == "—")
    by = {r.quantity.split(" (")[0]: r for r in rows}
    assert by["slope of ln N* against ln P"].kind == "not testable at this scale"  # 2 P
    assert by["slope of ln P* against ln N"].kind == "agrees"
    assert by["P*/N of the perceptron"].kind == "agrees"
    assert by["P*/N at the largest network"].kind == "not testable at this scale"
    assert "8 needed" in by["gap exponent θ"].verdict
    assert by["rank of H₀ at a jammed minimum"].kind == "agrees"
    # N_Δ ≤ N: at a stationary point Σ Δ_μ ∇Δ_μ = 0 ties the gradients, rank N_Δ − 1
    below = {**summary["transition"], "N": 40, "n_delta": 4}
    for rank, kind in ((3, "agrees"), (4, "differs")):
        rows = describe({**summary, "transition": {**below, "rank_H0": rank}}).comparisons
        (row,) = [r for r in rows if r.quantity.startswith("rank of H₀")]
        assert row.kind == kind and "N_Δ − 1" in row.reported


def test_a_P_star_outside_its_final_bracket_still_draws():
    """P* interpolates over every P tried; where the fitted fraction is not monotone it can
    fall outside the bisection's last bracket (seen at medium scale): the bars are clipped."""
    from matplotlib.figure import Figure

    from symscape.experiments.jamming.figures import _draw_scans

    tried = [{"P": 100, "fitted": 1.0}, {"P": 130, "fitted": 0.2}, {"P": 160, "fitted": 0.6}]
    scan = {"N": 40, "P_star": 125.0, "bracket": [130, 160], "tried": tried}
    ax = Figure().subplots()
    _draw_scans(ax, [scan], None, "C0", "scan")
    (bars,) = list(ax.containers)
    assert bars.lines[0].get_xdata()[0] == 125.0
