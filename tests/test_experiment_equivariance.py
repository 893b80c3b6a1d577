"""The learning-curve experiment of symscape.experiments.equivariance (issue 8, point 4)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("e3nn")

from symscape.errors import InvalidOptionError
from symscape.experiments.equivariance import (
    EquivarianceConfig,
    fit_exponent,
    learning_curve_figure,
    markdown_section,
    run,
    save_results,
)
from symscape.sweep.runner import Runner

TINY = dict(
    P=(4, 8),
    seeds=(0, 1),
    steps=5,
    n_points=4,
    n_test=16,
    l_max=1,
    layers=1,
    multiplicity=4,
    width=16,
    n_bootstrap=50,
    threads=1,
)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"task": "force"}, "unknown task 'force'"),
        ({"P": (16,)}, "needs at least 2 values"),
        ({"P": (16, 16)}, "lists one twice"),
        ({"P": (0, 16)}, "P=0 must be an integer >= 1"),
        ({"seeds": ()}, "seeds=.. must be a non-empty list"),
        ({"seeds": (-1,)}, "seeds=-1 must be an integer >= 0"),
        ({"steps": 0}, "steps=0 must be an integer >= 1"),
        ({"models": ("transformer",)}, "unknown model 'transformer'"),
        ({"models": ()}, "models is empty"),
        ({"models": ("mlp", "mlp")}, "models=.'mlp', 'mlp'. lists one twice"),
        ({"l_max": -1}, "l_max=-1 must be an integer >= 0"),
        ({"layers": 0}, "layers=0 must be an integer >= 1"),
        ({"multiplicity": 1.5}, "multiplicity=1.5 must be an integer"),
        ({"lr": 0}, "lr=0 must be > 0"),
        ({"lr": True}, "lr=True is not a number"),
        ({"n_bootstrap": -1}, "n_bootstrap=-1 must be an integer >= 0"),
    ],
)
def test_config_rejects_invalid_options(changes, match):
    with pytest.raises(InvalidOptionError, match=match):
        EquivarianceConfig(**changes)


def test_config_round_trips_through_json():
    config = EquivarianceConfig(P=[64, 16], models="mlp")
    assert config.P == (16, 64) and config.models == ("mlp",)
    assert EquivarianceConfig.from_dict(json.loads(config.to_json())) == config


def test_fit_recovers_a_known_exponent_exactly():
    sizes = np.array([16, 32, 64, 128, 256])
    amplitudes = np.array([0.5, 2.0, 3.0])  # per seed: the same exponent, other prefactors
    errors = amplitudes[None, :] * sizes[:, None] ** -0.7
    fit = fit_exponent(sizes, errors, n_bootstrap=200, seed=3)
    assert fit["slope"] == pytest.approx(-0.7, abs=1e-12)
    assert np.exp(fit["intercept"]) == pytest.approx(np.exp(np.log(amplitudes).mean()))
    # every resampling of the seeds has the same slope: a zero-width interval
    assert fit["ci_low"] == pytest.approx(-0.7, abs=1e-12)
    assert fit["ci_high"] == pytest.approx(-0.7, abs=1e-12)
    assert fit_exponent(sizes, errors[:, :1])["ci_low"] is None  # one seed: no interval


def test_fit_interval_is_seeded_and_covers_the_true_exponent():
    generator = np.random.default_rng(0)
    sizes = [10, 30, 100, 300]
    errors = np.array(sizes, float)[:, None] ** -1.0 * np.exp(generator.normal(0, 0.3, (4, 5)))
    a = fit_exponent(sizes, errors, seed=1)
    assert a == fit_exponent(sizes, errors, seed=1)
    # it covers the exponent the errors were drawn with, and excludes a flat curve
    assert a["ci_low"] <= -1.0 <= a["ci_high"] < 0


@pytest.mark.parametrize(
    ("sizes", "errors", "match"),
    [
        ([16, 16], [[0.1], [0.2]], "needs two distinct positive values"),
        ([16, 32], [[0.1], [0.0]], "needs finite, positive test errors"),
        ([16, 32, 64], [[0.1], [0.2]], "sizes .3,. and errors .2, 1. do not match"),
    ],
)
def test_fit_rejects_unusable_data(sizes, errors, match):
    with pytest.raises(InvalidOptionError, match=match):
        fit_exponent(sizes, errors)


@pytest.fixture(scope="module")
def tiny_record():
    return run(EquivarianceConfig(**TINY))


def test_tiny_run_is_json_and_reproducible(tiny_record):
    text = json.dumps(tiny_record, allow_nan=False)
    assert json.loads(text)["config"]["P"] == [4, 8]
    again = run(EquivarianceConfig(**TINY))
    for key in ("points", "curves", "exponents", "rotation_error"):
        assert again[key] == tiny_record[key]
    assert set(tiny_record["curves"]) == {"equivariant", "mlp", "mlp_augmented"}
    assert [r["P"] for r in tiny_record["curves"]["mlp"]] == [4, 8]
    assert len(tiny_record["points"]) == 2 * 2 * 3


def test_only_the_equivariant_model_is_equivariant(tiny_record):
    assert tiny_record["rotation_error"]["equivariant"] < 1e-4
    assert tiny_record["rotation_error"]["mlp"] > 1e-2
    for row in tiny_record["curves"]["equivariant"]:
        assert row["rotation_error_max"] < 1e-4


def test_figure_has_one_line_per_model(tiny_record):
    from matplotlib.figure import Figure

    fig = learning_curve_figure(tiny_record)
    assert isinstance(fig, Figure)
    [ax] = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3 and all("β = " in label for label in labels)


def test_save_results_writes_json_figures_and_markdown(tiny_record, tmp_path):
    summary = save_results([tiny_record], tmp_path)
    assert (tmp_path / "equivariance.json").is_file()
    assert sorted(summary["figures"]) == ["equivariance_energy.pdf", "equivariance_energy.png"]
    assert len(summary["rows"]) == 3
    text = markdown_section(summary)  # the Markdown of describe's part, as in summary.md
    assert text.startswith("## 5. Equivariant networks")
    assert "| learning-curve exponent β (ε ∝ P^β), equivariant, energy |" in text
    assert "[equivariance_energy.png](equivariance_energy.png)" in text


def test_the_store_gives_the_same_record_and_resumes(tiny_record, tmp_path):
    """Through the sweep store (one run per P × model × seed), the same numbers; a rerun
    trains nothing, and a pool of workers stores what one process stores."""
    from symscape.sweep import Store

    config = EquivarianceConfig(**TINY)
    stored = run(config, tmp_path / "e.db")
    assert stored["points"] == tiny_record["points"]
    with Store(tmp_path / "e.db", create=False) as store:
        rows = store.rows()
    assert len(rows) == 2 * 3 * 2 and {r["status"] for r in rows} == {"done"}
    assert {r["experiment"] for r in rows} == {"equivariance-point"}
    again = run(config, tmp_path / "e.db")
    assert again["points"] == stored["points"]
    with Store(tmp_path / "e.db", create=False) as store:
        after = store.rows()
    # nothing trained again: every row keeps its finishing time
    assert sorted((r["key"], r["finished"]) for r in after) == sorted(
        (r["key"], r["finished"]) for r in rows
    )
    pooled = run(config, tmp_path / "pool.db", executor="pool")
    assert pooled["points"] == stored["points"]
    through = run(config, Runner(tmp_path / "pool.db", "pool"))  # the runner form
    assert {k: through[k] for k in ("points", "curves", "exponents")} == {
        k: stored[k] for k in ("points", "curves", "exponents")
    }


def test_the_stored_point_experiment_resolves_by_name_and_import_path():
    """Runs in existing stores name ``equivariance-point``, resolved through the import path
    ``symscape.experiments.equivariance:POINT_EXPERIMENT``: the package keeps it."""
    from symscape.experiments import equivariance
    from symscape.experiments.equivariance_report import describe
    from symscape.sweep.experiments import resolve_experiment

    point = resolve_experiment("equivariance-point")
    assert point is equivariance.POINT_EXPERIMENT is equivariance.point_experiment()
    assert resolve_experiment("symscape.experiments.equivariance:POINT_EXPERIMENT") is point
    assert point.config is equivariance.LearningPointConfig
    assert describe is equivariance.describe  # the old path of the report's describe


def test_learning_point_config_is_checked():
    from symscape.experiments.equivariance import LearningPointConfig

    assert LearningPointConfig(P=8, seeds=(3,)).seeds == (3,)
    with pytest.raises(InvalidOptionError, match="unknown model 'cnn'"):
        LearningPointConfig(model="cnn")
    with pytest.raises(InvalidOptionError, match="P=0"):
        LearningPointConfig(P=0)
    with pytest.raises(InvalidOptionError, match="unknown task 'spin'"):
        LearningPointConfig(task="spin")


def test_command_line(tmp_path, capsys):
    from symscape.cli import main

    argv = ["equivariance", "--P-values", "4,8", "--seeds", "0-1", "--steps", "5"]
    argv += ["--n-points", "4", "--n-test", "16", "--l-max", "1", "--layers", "1"]
    argv += ["--multiplicity", "4", "--width", "8", "--models", "equivariant,mlp"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Equivariant networks" in out and "exponent β (ε ∝ P^β), equivariant, energy" in out
    assert f"results in {tmp_path}" in out
    assert (tmp_path / "equivariance_energy.png").is_file()
    assert (tmp_path / "equivariance.db").is_file()
    assert main(["equivariance", "--models", "cnn", "--out", str(tmp_path)]) == 2
    assert "unknown model 'cnn'" in capsys.readouterr().err
    assert main(["equivariance", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "run on CPU" in capsys.readouterr().err
