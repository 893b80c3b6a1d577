"""Double descent: the ensemble average, the fluctuations, fitted exponents with intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symscape.cli import main
from symscape.errors import InvalidOptionError
from symscape.experiments.double_descent import (
    DoubleDescentConfig,
    analyse,
    markdown_section,
    run,
    save_results,
)

SMALL = DoubleDescentConfig(
    data={"P": 100, "n_test": 300, "labels": "parity", "pca": 10, "center": True, "sphere": True},
    widths=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
    seeds=(0, 1, 2, 3),
    max_steps=5000,
    n_bootstrap=200,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("dd") / "dd.db"


@pytest.fixture(scope="module")
def record(store):
    return run(SMALL, store)  # the older form: a store path (and an executor)


def test_a_runner_reads_back_the_same_record_and_trains_nothing(record, store):
    from symscape.sweep import Store
    from symscape.sweep.runner import Runner

    with Store(store, create=False) as db:
        before = sorted((r["key"], r["finished"]) for r in db.rows())
    again = run(SMALL, Runner(store))
    assert {k: v for k, v in again.items() if k != "wall_time_s"} == {
        k: v for k, v in record.items() if k != "wall_time_s"
    }
    with Store(store, create=False) as db:
        assert sorted((r["key"], r["finished"]) for r in db.rows()) == before
    with pytest.raises(InvalidOptionError, match="both a Runner and an executor"):
        run(SMALL, Runner(store), executor="pool")


def test_the_ensemble_average_is_not_worse_than_a_single_network(record):
    """Beyond the transition; at N* the outputs diverge and one member dominates the mean."""
    beyond = [p for p in record["points"] if p["N"] > record["N_star"]]
    assert len(beyond) >= 3
    for point in beyond:
        assert point["ensemble_test_error"] <= point["test_error"] + 1e-12, point["N"]


def test_n_star_and_the_fits_carry_intervals(record):
    star = record["N_star"]
    assert star is not None
    fitted = [p["fitted"] for p in record["points"]]
    assert fitted[-1] == 1.0 and fitted[0] < 0.5  # the widths straddle the transition
    fluctuation = record["fits"]["fluctuation"]
    assert fluctuation["ci_low"] <= fluctuation["slope"] <= fluctuation["ci_high"]
    assert fluctuation["slope"] < 0  # outputs fluctuate less over seeds as N grows
    assert fluctuation["n_sizes"] == sum(p["N"] >= 2 * star for p in record["points"])


def test_analysis_of_known_outputs():
    """Two seeds whose outputs are ±ε around a perfect predictor: exact numbers."""
    config = DoubleDescentConfig(widths=(2.0, 4.0), seeds=(0, 1), n_bootstrap=0)
    y = np.array([1.0, -1.0, 1.0, -1.0])
    rows, outputs = {}, {}
    for width, N, eps in ((2.0, 10, 2.0), (4.0, 40, 0.5)):
        rows[width] = [{"scalars": {"outcome": "fitted", "n_weights": N}}] * 2
        shift = eps * np.array([1, 1, -1, -1])
        outputs[width] = np.stack([y + shift, y - shift])
    early = {2.0: [np.array([1.0, 0.25, 0.5])] * 2, 4.0: [np.array([1.0, 0.1, 0.0])] * 2}
    result = analyse(config, rows, outputs, y, early)
    first, second = result["points"]
    assert first["early_stopping_error"] == 0.25 and second["early_stopping_error"] == 0.0
    assert first["output_norm"] == pytest.approx(np.sqrt(1 + 4))  # |±1 ± 2| over points
    # a diverged seed (NaN along training) is left out; none at all gives None
    early = {
        2.0: [np.array([np.nan, np.nan]), np.array([0.5, 0.25])],
        4.0: [np.full(2, np.nan)] * 2,
    }
    diverged = analyse(config, rows, outputs, y, early)["points"]
    assert diverged[0]["early_stopping_error"] == 0.25
    assert diverged[1]["early_stopping_error"] is None
    assert first["ensemble_test_error"] == 0.0 and second["ensemble_test_error"] == 0.0
    assert first["fluctuation"] == pytest.approx(2.0)
    assert second["fluctuation"] == pytest.approx(0.5)
    assert first["test_error"] == pytest.approx(0.5)  # ±2 flips half of the signs
    assert result["N_star"] == 10


def test_early_stopping_is_never_worse_than_the_end_point(record):
    for p in record["points"]:
        assert p["early_stopping_error"] <= p["test_error"] + 1e-12
        assert p["output_norm"] > 0


def test_results_files_and_bad_configs(record, tmp_path):
    summary = save_results(record, tmp_path)
    assert json.loads((tmp_path / "double_descent.json").read_text())["N_star"] == record["N_star"]
    for name in ("double_descent_error", "double_descent_fluctuations"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    assert summary["reported"] == {"fluctuation": -0.25, "error_gap": -0.5}
    text = markdown_section(summary)  # the Markdown of describe's part, as in summary.md
    assert text.startswith("## 2. Double descent") and f"| {record['N_star']} |" in text
    with pytest.raises(InvalidOptionError, match="several widths"):
        DoubleDescentConfig(widths=(4.0,))
    with pytest.raises(InvalidOptionError, match="several seeds"):
        DoubleDescentConfig(seeds=(0,))


def test_command_line(tmp_path, capsys):
    argv = [
        "double-descent",
        "--protocol",
        "quick",
        "--widths",
        "2,8,32",
        "--seeds",
        "0-2",
        "--P",
        "60",
        "--n-test",
        "100",
        "--max-steps",
        "3000",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out  # the section's comparisons, as the report shows them
    assert "Double descent" in out and "N* (first width where" in out
    assert "ensemble test error ≤ mean single-network test error" in out
    assert f"results in {tmp_path}" in out
    assert (tmp_path / "double_descent_error.png").exists()
    assert main(["double-descent", "--widths", "a,b"]) == 2
    assert "--widths 'a,b' is not a list of floats" in capsys.readouterr().err


def test_fits_recover_known_power_laws_with_intervals():
    """Members f_i = y + N^-1/4 z_i: the fluctuation falls as N^-1/4 exactly."""
    widths = (1.0, 2.0, 4.0, 8.0, 16.0)
    config = DoubleDescentConfig(widths=widths, seeds=tuple(range(6)), n_bootstrap=300)
    rng = np.random.default_rng(0)
    y = np.sign(rng.standard_normal(400))
    z = rng.standard_normal((6, 400))
    rows, outputs = {}, {}
    for width in widths:
        N = int(100 * width)
        rows[width] = [{"scalars": {"outcome": "fitted", "n_weights": N}}] * 6
        outputs[width] = y + N**-0.25 * z
    result = analyse(config, rows, outputs, y)
    fit = result["fits"]["fluctuation"]
    assert fit["slope"] == pytest.approx(-0.25, abs=1e-9)  # the same z at every N: exact
    assert fit["ci_low"] <= fit["slope"] <= fit["ci_high"]
    gap = result["fits"].get("error_gap")
    if gap is not None:  # the errors of the noisy members fall with N too
        assert gap["slope"] < 0 and gap["ci_low"] <= gap["slope"] <= gap["ci_high"]


def test_no_power_law_is_fitted_through_non_positive_gaps():
    config = DoubleDescentConfig(widths=(1.0, 2.0, 4.0), seeds=(0, 1), n_bootstrap=50)
    y = np.array([1.0, -1.0, 1.0, -1.0])
    rows = {
        w: [{"scalars": {"outcome": "fitted", "n_weights": int(10 * w)}}] * 2 for w in config.widths
    }
    outputs = {w: np.stack([y, y]) for w in config.widths}  # identical members: no gap at all
    result = analyse(config, rows, outputs, y)
    assert "error_gap" not in result["fits"] and "fluctuation" not in result["fits"]
