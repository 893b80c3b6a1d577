"""Feature vs lazy: the kernel change against α, the crossover α*(h), the lazy references."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3

import numpy as np
import pytest

from symscape.cli import main
from symscape.comparisons import AGREES, DIFFERS, NOT_TESTABLE, VERDICTS
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.experiments.feature_lazy import (
    FeatureLazyConfig,
    crossing,
    describe,
    markdown_section,
    run,
    save_results,
)
from symscape.experiments.feature_lazy.analysis import _fit_alpha_star, analyse, variance_fit
from symscape.experiments.feature_lazy.report import _regime_row
from symscape.report.markdown import markdown
from symscape.sweep.runner import Runner

SMALL = FeatureLazyConfig(
    data={"P": 48, "n_test": 300, "d": 4},
    widths=(1.0, 8.0, 64.0),
    alphas=(0.03, 1.0, 30.0),
    seeds=(0, 1, 2),
    max_steps=5000,
    kernel_points=16,
    n_bootstrap=100,
)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    return run(SMALL, tmp_path_factory.mktemp("fl") / "fl.db")


def test_kernel_change_falls_with_alpha_and_is_large_in_the_feature_regime(record):
    for width in SMALL.widths[1:]:
        change = [p["kernel_change"] for p in record["points"] if p["width"] == width]
        assert change[0] > 1.0  # the kernel is rebuilt
        assert change[-1] < 0.2  # lazy: it barely moves
        assert all(a > b for a, b in itertools.pairwise(change))
    weight = [p["weight_change"] for p in record["points"] if p["width"] == 64.0]
    assert weight[0] > weight[-1]


def test_crossover_is_found_for_every_fitted_width_with_an_interval(record):
    stars = {c["width"]: c["alpha_star"] for c in record["crossover"]}
    assert stars[1.0] is None  # no seed fits at h = 1: no α* there
    assert all(SMALL.alphas[0] < stars[w] < SMALL.alphas[-1] for w in (8.0, 64.0))
    for c in record["crossover"][1:]:
        assert c["alpha_star_code"] == pytest.approx(c["alpha_star"] * math.sqrt(c["width"]))
    fit = record["alpha_star_fit"]
    assert fit["n_widths"] == 2 and fit["widths"] == [8.0, 64.0]
    # two widths: the fitted exponent is the slope between their two α* in log-log
    two_point = math.log(stars[64.0] / stars[8.0]) / math.log(64.0 / 8.0)
    assert fit["slope"] == pytest.approx(two_point, rel=1e-9)


def test_jamming_line_from_the_same_flow_at_each_alpha(record):
    """h = 1 (N = 6 weights for P = 48 points) never fits: every seed ends undecided
    with N_Δ > 0, at every α; h = 8 fits. The line lies between them at every α."""
    cells = {(p["width"], p["alpha"]): p for p in record["points"]}
    for alpha in SMALL.alphas:
        assert cells[(1.0, alpha)]["fitted"] == 0 and cells[(1.0, alpha)]["undecided"] == 1
        assert cells[(1.0, alpha)]["n_delta"] > 0
        assert cells[(8.0, alpha)]["fitted"] == 1 and cells[(8.0, alpha)]["undecided"] == 0
    line = record["jamming_line"]
    assert [c["alpha"] for c in line] == list(SMALL.alphas)
    assert all(c["h_jammed"] == 1.0 and c["h_above"] == 8.0 for c in line)
    assert record["alpha_star_fit"]["min_width"] == pytest.approx(2 * 1.0)


def test_output_variance_over_seeds_falls_with_width(record):
    lazy_end = {p["width"]: p["output_variance"] for p in record["points"] if p["alpha"] == 30.0}
    assert lazy_end[64.0] < lazy_end[8.0]
    assert record["variance_fit"]["slope"] < 0
    assert record["variance_fit"]["widths"] == [8.0, 64.0]  # fitted cells only
    assert record["lazy_variance_fit"]["widths"] == [8.0, 64.0]


def test_the_lazy_end_of_the_flow_is_the_frozen_kernel_flow(record):
    """At large α the trained network F = α (f − f₀) is its linearisation: its test
    outputs approach those of the frozen-kernel flow F = Θ₀ a (a separate model, trained
    independently here), the closer the larger α."""
    from symscape.train import train

    kernel = train(SMALL.train_config(64.0, 1.0, "kernel_flow"))
    reference = np.asarray(kernel["test_output"])
    distance = {}
    for alpha in (1.0, 1000.0):
        out = np.asarray(train(SMALL.train_config(64.0, alpha))["test_output"])
        distance[alpha] = np.linalg.norm(out - reference) / np.linalg.norm(reference)
    assert distance[1000.0] < 0.02 < distance[1.0]
    y = np.asarray(record["lazy"][-1]["per_seed_error"])
    from symscape.data import load
    from symscape.train.losses import error_rate

    ds = load(SMALL.dataset, **SMALL.data, dtype="float64")
    direct = [error_rate(f, ds.y_test.numpy()) for f in reference]
    assert y.tolist() == pytest.approx(direct)  # the store's lazy reference is that flow
    regime = record["regime"]
    assert regime["lazy_source"] == "frozen-kernel flow"
    assert regime["lazy_error"] == pytest.approx(np.mean(direct))
    # its floor is paired on the test points: the sd over points of the seeds' mean lazy
    # error minus their mean feature error, over √n (the feature end trained again here)
    feature = np.asarray(train(SMALL.train_config(64.0, SMALL.alphas[0]))["test_output"])
    y_test = ds.y_test.numpy()
    d = (y_test * reference[..., 0] <= 0).mean(0) - (y_test * feature[..., 0] <= 0).mean(0)
    assert regime["floor"] == pytest.approx(d.std() / math.sqrt(len(y_test)))
    assert regime["difference"] == pytest.approx(d.mean())
    mean = (regime["feature_error"] + regime["lazy_error"]) / 2
    assert regime["unpaired_floor"] == pytest.approx(math.sqrt(mean * (1 - mean) / len(y_test)))


def _synthetic(outcome_of, E: int = 8):
    """A grid whose kernel change is 4/(α √h) and whose outputs have variance 1/h."""
    config = FeatureLazyConfig(
        widths=(8.0, 16.0, 32.0, 64.0),
        alphas=(0.1, 1.0, 10.0),
        seeds=tuple(range(E)),
        n_bootstrap=200,
    )
    rng = np.random.default_rng(1)
    y = np.sign(rng.standard_normal(200))
    rows, outputs = {}, {}
    for h in config.widths:
        for a in config.alphas:
            rows[(h, a)] = [
                {
                    "scalars": {
                        "outcome": outcome_of(h, a, e),
                        "n_weights": int(h * h),
                        "final": {
                            "kernel_change": 4 / (a * h**0.5),
                            "weight_change": 0.1,
                            "n_delta": 0 if outcome_of(h, a, e) == "fitted" else 3,
                        },
                    }
                }
                for e in range(E)
            ]
            outputs[(h, a)] = y[None, :, None] + rng.standard_normal((E, 200, 1)) / h**0.5
    return config, rows, outputs, y


def test_undecided_seeds_are_never_counted_as_fitted():
    """One seed of (h = 16, α = 10) reached its budget with N_Δ > 0: that cell is not
    fitted (7/8), its crossing is not used, and neither is its output variance."""

    def outcome(h, a, e):
        return "max_steps" if (h, a, e) == (16.0, 10.0, 3) else "fitted"

    config, rows, outputs, y = _synthetic(outcome)
    record = analyse(config, rows, outputs, y)
    cell = next(p for p in record["points"] if (p["width"], p["alpha"]) == (16.0, 10.0))
    assert cell["fitted"] == pytest.approx(7 / 8) and cell["undecided"] == pytest.approx(1 / 8)
    stars = {c["width"]: c["alpha_star"] for c in record["crossover"]}
    assert stars[16.0] is None  # α* = 4/√16 = 1 lies between α = 1 and the undecided cell
    for h in (8.0, 32.0, 64.0):
        assert stars[h] == pytest.approx(4 / h**0.5)
    fit = record["alpha_star_fit"]
    assert fit["widths"] == [8.0, 32.0, 64.0] and fit["slope"] == pytest.approx(-0.5)
    assert record["variance_fit"]["widths"] == [8.0, 32.0, 64.0]
    assert record["jamming_line"][2]["h_jammed"] is None  # one unfitted seed is not jamming
    every = analyse(config, *_synthetic(lambda h, a, e: "fitted")[1:])
    assert every["alpha_star_fit"]["widths"] == list(config.widths)


def test_variance_slope_recovers_the_law_and_its_absence():
    rng = np.random.default_rng(2)
    widths = [4.0, 8.0, 16.0, 32.0]
    law = variance_fit(widths, [rng.standard_normal((16, 300, 1)) / h**0.5 for h in widths])
    assert law["slope"] == pytest.approx(-1.0, abs=0.1)
    assert law["local_slope"] == pytest.approx(-1.0, abs=0.3)  # between h = 16 and 32
    assert law["ci_low"] <= -1 <= law["ci_high"] < 0
    flat = variance_fit(widths, [rng.standard_normal((16, 300, 1)) for _ in widths])
    assert flat["ci_low"] < 0 < flat["ci_high"] and abs(flat["slope"]) < 0.1
    assert variance_fit([4.0], [rng.standard_normal((16, 300, 1))]) is None


@pytest.mark.parametrize(
    ("difference", "interval", "floor", "kind"),
    [
        (-0.05, (-0.07, -0.03), 0.01, AGREES),  # lazy better, beyond the floor
        (0.05, (0.03, 0.07), 0.01, DIFFERS),  # feature better: FC nets should not be
        (-0.004, (-0.008, 0.0), 0.01, NOT_TESTABLE),  # within the test-error floor
        (-0.03, (-0.06, 0.01), 0.005, NOT_TESTABLE),  # the interval holds no difference
    ],
)
def test_regime_verdicts(difference, interval, floor, kind):
    regime = {
        "width": 64.0,
        "feature_error": 0.1,
        "lazy_error": 0.1 + difference,
        "lazy_source": "frozen-kernel flow",
        "difference": difference,
        "ci_low": interval[0],
        "ci_high": interval[1],
        "floor": floor,
    }
    row = _regime_row(regime, "fc", "")
    assert row.kind == kind, row.comparison
    assert _regime_row(regime, "cnn", "").kind == {AGREES: DIFFERS, DIFFERS: AGREES}.get(kind, kind)


def test_the_regime_is_judged_on_its_paired_floor():
    """A difference of 0.015 lies within two unpaired floors √(ε(1−ε)/n) ≈ 0.011 but beyond
    two paired floors (0.004, the regimes err on the same points): it is testable."""
    regime = {
        "width": 64.0,
        "feature_error": 0.13,
        "lazy_error": 0.145,
        "lazy_source": "frozen-kernel flow",
        "difference": 0.015,
        "ci_low": 0.01,
        "ci_high": 0.02,
        "floor": 0.004,
        "unpaired_floor": 0.011,
    }
    row = _regime_row(regime, "fc", "")
    assert row.kind == DIFFERS and "floor 0.004 paired (unpaired 0.011)" in row.measured
    old = {k: v for k, v in regime.items() if k != "unpaired_floor"} | {"floor": 0.011}
    assert _regime_row(old, "fc", "").kind == NOT_TESTABLE  # an old summary: unpaired floor


def test_results_files(record, tmp_path):
    summary = save_results(record, tmp_path, name="fl")
    assert json.loads((tmp_path / "fl.json").read_text())["experiment"] == "feature_lazy"
    for stem in ("kernel_change", "test_error", "crossover", "phase_diagram"):
        for suffix in ("png", "pdf"):
            assert (tmp_path / f"fl_{stem}.{suffix}").stat().st_size > 1000
    text = markdown(describe({"protocols": [summary]}, lambda path: (tmp_path / path).read_bytes()))
    assert "α* ~ h^b" in text and "better regime at h = 64" in text
    assert "fl_phase_diagram.png" in text  # the figures, linked
    assert "fitted / undecided fraction" in text
    part = describe({"protocols": [summary]})
    for row in part.comparisons:  # every row beside a paper's value carries a verdict
        assert (row.kind in VERDICTS) == (row.reported != "—"), row
    slope = next(r for r in part.comparisons if "α* ~ h^b" in r.quantity)
    assert slope.kind == NOT_TESTABLE and "needs at least 4" in slope.comparison  # two widths
    assert markdown_section({"protocols": [summary]}) == text  # the old hook, the same text


def test_a_rerun_resumes_from_the_store(record, tmp_path_factory):
    """The record was made with ``run(config, store_path)`` (the older form); a rerun
    through a :class:`Runner` on the same store trains nothing and gives the same record."""
    folder = tmp_path_factory.getbasetemp()
    db = next(folder.glob("fl*/fl.db"))
    query = "SELECT key, finished FROM runs ORDER BY key"
    with sqlite3.connect(db) as connection:
        before = connection.execute(query).fetchall()
    again = run(SMALL, Runner(db))
    with sqlite3.connect(db) as connection:
        assert connection.execute(query).fetchall() == before  # nothing trained again
    assert again["points"] == record["points"]


def test_known_crossings_give_the_known_exponent():
    """Kernel change c/(α h^γ) crosses 1 at α* = c h^−γ: the fit returns −γ exactly."""
    config = FeatureLazyConfig(
        widths=(8.0, 32.0, 128.0),
        alphas=tuple(float(a) for a in np.logspace(-3, 3, 13)),
        seeds=(0, 1, 2),
        n_bootstrap=50,
    )
    widths, alphas = np.array(config.widths), np.array(config.alphas)
    rng = np.random.default_rng(0)
    for gamma in (0.5, 1.0):
        ideal = 3.0 / (alphas[None, :, None] * widths[:, None, None] ** gamma)
        changes = ideal * np.exp(0.01 * rng.standard_normal((3, 13, 3)))
        fit = _fit_alpha_star(config, changes)
        assert fit["slope"] == pytest.approx(-gamma, abs=0.02)
        # the interval covers the exponent the data were made with, and is narrow
        assert fit["ci_low"] <= -gamma <= fit["ci_high"]
        assert fit["ci_high"] - fit["ci_low"] < 0.05
    assert crossing([1.0, 10.0], [5.0, 2.0]) is None  # never crosses 1
    assert crossing([1.0, 10.0, 100.0], [5.0, 1.0, 0.5]) == pytest.approx(10.0)


def test_the_alpha_star_trend_moves_toward_the_asymptote_of_a_known_correction():
    """α*(h) = 3 h^−1/2 (1 + 8/h), crossed exactly (kernel change α*/α is a power law in α):
    each start of the fit range gives the exact least-squares slope of ln α* on ln h, the
    first one is the protocol's fit, and the slopes rise toward −1/2 as the range moves out."""
    from symscape.experiments.feature_lazy.analysis import alpha_star_trend
    from symscape.experiments.feature_lazy.report import _trend_row

    config = FeatureLazyConfig(
        widths=(4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0),
        alphas=tuple(float(a) for a in np.logspace(-3, 3, 13)),
        seeds=(0, 1, 2),
        n_bootstrap=20,
    )
    h, alphas = np.array(config.widths), np.array(config.alphas)
    star = 3.0 * h**-0.5 * (1 + 8 / h)
    changes = np.repeat((star[:, None] / alphas[None, :])[:, :, None], 3, axis=2)
    trend = alpha_star_trend(config, changes, 4.0)
    assert [t["from"] for t in trend] == [4.0, 8.0, 16.0, 32.0, 64.0]  # >= 3 widths each
    assert trend[0]["slope"] == pytest.approx(_fit_alpha_star(config, changes, 4.0)["slope"])
    for t in trend:
        assert t["widths"][-1] == 256.0
        x = np.log(t["widths"])
        exact = np.polyfit(x, np.log(3.0 * np.exp(x) ** -0.5 * (1 + 8 / np.exp(x))), 1)[0]
        assert t["slope"] == pytest.approx(exact, abs=1e-6)
    slopes = [t["slope"] for t in trend]
    assert slopes == sorted(slopes) and slopes[0] < -0.7 and -0.6 < slopes[-1] < -0.5
    # a jammed width's start excludes the narrower ones; the row carries no verdict
    assert alpha_star_trend(config, changes, 40.0)[0]["widths"] == [64.0, 128.0, 256.0]
    row = _trend_row(trend, "exponent of α* against h", "−1/2")
    assert row.reported == "—" and not row.kind and row.measured.count(" widths): ") == 5


def test_the_variance_trend_moves_toward_the_asymptote_of_a_known_correction():
    """The same seeds' outputs scaled to a variance ∝ h^−1 (1 + 8/h): each start of the fit
    range gives the exact least-squares slope, and the slopes rise toward −1."""
    from symscape.experiments.feature_lazy.analysis import variance_trend

    widths = [4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    z = np.random.default_rng(0).standard_normal((6, 40, 1))
    law = [1 / h * (1 + 8 / h) for h in widths]
    trend = variance_trend(widths, [z * np.sqrt(v) for v in law], n_bootstrap=20)
    assert [t["from"] for t in trend] == [4.0, 8.0, 16.0, 32.0]
    for t in trend:
        i = widths.index(t["widths"][0])
        exact = np.polyfit(np.log(widths[i:]), np.log(law[i:]), 1)[0]
        assert t["slope"] == pytest.approx(exact, abs=1e-9)
        assert t["ci_low"] == pytest.approx(exact) == t["ci_high"]  # the same seeds' shape
    slopes = [t["slope"] for t in trend]
    assert slopes == sorted(slopes) and slopes[0] < -1.25 and -1.15 < slopes[-1] < -1.0
    assert variance_trend(widths[:2], [z, z]) == []  # two widths: no range of three


def test_the_trends_go_from_the_analysis_through_the_summary_to_the_report(tmp_path):
    """A grid with α*(h) = 3 h^−1/2 (1 + 8/h) and an output variance ∝ h^−1 (1 + 8/h):
    analyse gives both trends, save_results keeps them, and the report shows each as one
    row without a verdict, beside the protocol's row."""
    from symscape.experiments.feature_lazy.report import describe
    from symscape.experiments.feature_lazy.section import save_results

    widths = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
    alphas = tuple(float(a) for a in np.logspace(-3, 3, 13))
    config = FeatureLazyConfig(
        widths=widths, alphas=alphas, seeds=(0, 1, 2), n_bootstrap=20, jamming=False
    )
    rng = np.random.default_rng(0)
    y = np.sign(rng.standard_normal(40))
    z = rng.standard_normal((3, 40, 1))
    rows, outputs = {}, {}
    for h in widths:
        star = 3 * h**-0.5 * (1 + 8 / h)
        for a in alphas:
            final = {"n_delta": 0, "kernel_change": star / a, "weight_change": 1.0}
            scalars = {"outcome": "fitted", "n_weights": int(h * h), "final": final}
            rows[(h, a)] = [{"scalars": scalars}] * 3
            outputs[(h, a)] = y[None, :, None] + z * np.sqrt(1 / h * (1 + 8 / h))
    record = analyse(config, rows, outputs, y)
    assert [t["from"] for t in record["alpha_star_trend"]] == [4.0, 8.0, 16.0, 32.0]
    assert [t["from"] for t in record["variance_fit"]["trend"]] == [4.0, 8.0, 16.0, 32.0]
    assert record["alpha_star_trend"][0]["slope"] == record["alpha_star_fit"]["slope"]
    assert record["variance_fit"]["trend"][0]["slope"] == record["variance_fit"]["slope"]
    summary = save_results({**record, "config": config.to_dict(), "wall_time_s": 1.0}, tmp_path)
    assert summary["alpha_star_trend"] == record["alpha_star_trend"]
    assert summary["variance_fit"]["trend"] == record["variance_fit"]["trend"]
    rows_out = describe({"protocols": [summary]}).comparisons
    trends = [c for c in rows_out if c.quantity.endswith("by the start of the fit range")]
    assert len(trends) == 2 and all(c.reported == "—" and not c.kind for c in trends)
    assert all(c.measured.count(" widths): ") == 4 for c in trends)


def test_diverged_networks_count_as_errors_and_leave_the_ensemble():
    from symscape.experiments.feature_lazy.analysis import _ensemble_error, _geometric_mean
    from symscape.train.losses import error_rate as _error

    y = np.array([1.0, -1.0, 1.0, -1.0])
    good = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    bad = np.full_like(good, np.nan)
    assert _error(good, y) == 0.0 and _error(bad, y) == 1.0
    assert _ensemble_error(np.stack([good, bad, good]), y) == 0.0
    assert math.isnan(_ensemble_error(np.stack([bad, bad]), y))
    assert _geometric_mean(np.array([4.0, np.nan, 1.0])) == pytest.approx(2.0)
    # a diverged grid point is skipped, the crossing is sought between the others
    assert crossing([0.1, 1.0, 10.0], [10.0, np.nan, 0.1]) == pytest.approx(1.0)


def test_every_protocol_is_a_valid_config():
    from symscape.experiments.feature_lazy import feature_lazy_configs

    quick = dict(feature_lazy_configs("quick"))
    assert quick["feature_lazy_mnist"].dataset == "mnist-5k"
    medium = dict(feature_lazy_configs("medium"))["feature_lazy_mnist"]
    assert medium.data["pca"] == 10 and medium.activation == "swish10"
    widths = medium.widths  # α*(h) over at least five widths spanning at least 8x
    assert len(widths) >= 5 and widths[-1] / widths[1] >= 8
    paper = dict(feature_lazy_configs("paper", root="/nowhere"))
    assert paper["feature_lazy_cifar10_cnn"].arch == "cnn"
    assert paper["feature_lazy_mnist_fc"].data["root"] == "/nowhere"
    assert paper["feature_lazy_mnist_parity"].data["P"] == 5000
    with pytest.raises(InvalidOptionError, match="no protocol 'huge'; use one of quick"):
        feature_lazy_configs("huge")


def test_bad_configs_are_named():
    with pytest.raises(InvalidOptionError, match="at least two distinct"):
        FeatureLazyConfig(alphas=(1.0,))
    with pytest.raises(InvalidOptionError, match="several seeds"):
        FeatureLazyConfig(seeds=(0,))
    with pytest.raises(InvalidOptionError, match="kernel_points=0"):
        FeatureLazyConfig(kernel_points=0)
    with pytest.raises(InvalidOptionError, match="kernel_points=300 must be between 0 and P=256"):
        FeatureLazyConfig(kernel_points=300)
    with pytest.raises(InvalidOptionError, match="alphas=-1"):
        FeatureLazyConfig(alphas=(-1.0, 1.0))
    with pytest.raises(UnknownNameError, match="unknown data set"):
        FeatureLazyConfig(dataset="imagenet")


def test_command_line(tmp_path, capsys):
    argv = [
        "feature-lazy",
        "--widths",
        "8,16",
        "--alphas",
        "0.1,10",
        "--seeds",
        "0-1",
        "--P",
        "32",
        "--n-test",
        "100",
        "--max-steps",
        "300",
        "--kernel-points",
        "8",
        "--no-lazy-reference",
        "--no-jamming",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Feature and lazy training" in out and "exponent b of α* ~ h^b" in out
    assert "better regime at h = 16" in out and f"results in {tmp_path}" in out
    assert (tmp_path / "feature_lazy_phase_diagram.png").exists()
    assert main(["feature-lazy", "--alphas", "x"]) == 2
    assert "--alphas 'x' is not a list of floats" in capsys.readouterr().err


def test_a_power_law_in_h_needs_four_widths_spanning_eight_times():
    from symscape.experiments.feature_lazy.report import _untestable

    assert "span 3×" in _untestable({"slope": -0.5, "widths": [16, 24, 32, 48]}, "α*")
    assert "at least 4" in _untestable({"slope": -0.5, "widths": [8, 64], "n_widths": 2}, "α*")
    assert _untestable({"slope": -0.5, "widths": [8, 16, 32, 64], "n_widths": 4}, "α*") is None
