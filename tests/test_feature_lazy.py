"""Feature vs lazy: the kernel change against α, the crossover α*(h), the lazy references."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3

import numpy as np
import pytest

from symscape.cli import main
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.experiments.feature_lazy import (
    FeatureLazyConfig,
    crossing,
    describe,
    markdown_section,
    run,
    save_results,
)
from symscape.experiments.feature_lazy.analysis import _fit_alpha_star
from symscape.report.markdown import markdown
from symscape.sweep.runner import Runner

SMALL = FeatureLazyConfig(
    data={"P": 48, "n_test": 300, "d": 4},
    widths=(8.0, 64.0),
    alphas=(0.03, 1.0, 30.0),
    seeds=(0, 1, 2),
    max_steps=1500,
    kernel_points=16,
    n_bootstrap=100,
)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    return run(SMALL, tmp_path_factory.mktemp("fl") / "fl.db")


def test_kernel_change_falls_with_alpha_and_is_large_in_the_feature_regime(record):
    for width in SMALL.widths:
        change = [p["kernel_change"] for p in record["points"] if p["width"] == width]
        assert change[0] > 1.0  # the kernel is rebuilt
        assert change[-1] < 0.1  # lazy: it barely moves
        assert all(a > b for a, b in itertools.pairwise(change))
    weight = [p["weight_change"] for p in record["points"] if p["width"] == 64.0]
    assert weight[0] > weight[-1]


def test_crossover_is_found_for_every_width_with_an_interval(record):
    stars = [c["alpha_star"] for c in record["crossover"]]
    assert all(s is not None and SMALL.alphas[0] < s < SMALL.alphas[-1] for s in stars)
    for c in record["crossover"]:
        assert c["alpha_star_code"] == pytest.approx(c["alpha_star"] * math.sqrt(c["width"]))
    fit = record["alpha_star_fit"]
    assert fit["n_widths"] == 2 and fit["ci_low"] <= fit["slope"] <= fit["ci_high"]


def test_jamming_line_lies_below_the_widths_that_fit(record):
    jamming = record["jamming"]
    assert jamming["P"] == 48 and jamming["outside"] is None
    low, high = jamming["width_bracket"]
    assert 1.0 <= low < jamming["h_star"] < high <= 8.0  # every network of the grid fits
    assert jamming["bracket"][0] < jamming["N_star"] < jamming["bracket"][1]
    assert record["alpha_star_fit"]["min_width"] == pytest.approx(2 * jamming["h_star"])


def test_output_variance_over_seeds_falls_with_width(record):
    lazy_end = {p["width"]: p["output_variance"] for p in record["points"] if p["alpha"] == 30.0}
    assert lazy_end[64.0] < lazy_end[8.0]
    assert record["variance_fit"]["slope"] < 0


def test_lazy_references_and_regime(record):
    assert [ref["width"] for ref in record["lazy"]] == list(SMALL.widths)
    for ref in record["lazy"]:
        for key in ("kernel_flow_error", "kernel_regression_error"):
            assert 0 <= ref[key] < 0.5
    regime = record["regime"]
    assert regime["lazy_source"] == "frozen-kernel flow"
    assert regime["lazy_error"] == record["lazy"][-1]["kernel_flow_error"]
    widest = [p for p in record["points"] if p["width"] == 64.0]
    assert regime["feature_error"] == widest[0]["test_error"]
    expected = "feature" if regime["feature_error"] < regime["lazy_error"] else "lazy"
    assert regime["better"] == expected


def test_results_files(record, tmp_path):
    summary = save_results(record, tmp_path, name="fl")
    assert json.loads((tmp_path / "fl.json").read_text())["experiment"] == "feature_lazy"
    for stem in ("kernel_change", "test_error", "crossover", "phase_diagram"):
        for suffix in ("png", "pdf"):
            assert (tmp_path / f"fl_{stem}.{suffix}").stat().st_size > 1000
    text = markdown(describe({"protocols": [summary]}, lambda path: (tmp_path / path).read_bytes()))
    assert "α* ~ h^b" in text and "better regime at h = 64" in text
    assert "fl_phase_diagram.png" in text  # the figures, linked
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
        assert fit["ci_low"] <= fit["slope"] <= fit["ci_high"]
    assert crossing([1.0, 10.0], [5.0, 2.0]) is None  # never crosses 1
    assert crossing([1.0, 10.0, 100.0], [5.0, 1.0, 0.5]) == pytest.approx(10.0)


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
    assert quick["feature_lazy_stripe"] == FeatureLazyConfig()
    paper = dict(feature_lazy_configs("paper", root="/nowhere"))
    assert paper["feature_lazy_cifar10_cnn"].arch == "cnn"
    assert paper["feature_lazy_mnist_fc"].data["root"] == "/nowhere"
    with pytest.raises(InvalidOptionError, match="no protocol 'huge'; use one of quick, paper"):
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
    with pytest.raises(InvalidOptionError, match="jamming line needs a fixed number"):
        FeatureLazyConfig(dataset="digits", data={"labels": "parity"})
    with pytest.raises(UnknownNameError, match="unknown data set"):
        FeatureLazyConfig(dataset="imagenet")


def test_command_line(tmp_path, capsys):
    argv = [
        "feature-lazy",
        "--protocol",
        "quick.stripe",
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
