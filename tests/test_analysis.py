"""The shared analysis: fits, bootstrap intervals, geometric means, crossings."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import symscape.analysis as analysis
from symscape.analysis import (
    SOLVERS,
    Interval,
    bootstrap_interval,
    crossing,
    fit_exponent,
    fit_line,
    geometric_mean,
    nan_geometric_mean,
    percentile_interval,
    power_law_fit,
    slope_stderr,
)
from symscape.errors import InvalidOptionError

# --------------------------------------------------------------------------- fits


@pytest.mark.parametrize("solver", SOLVERS)
def test_an_exact_line_is_recovered(solver):
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    slope, intercept = fit_line(x, 1.5 - 0.25 * x, solver=solver)
    assert slope == pytest.approx(-0.25, abs=1e-14)
    assert intercept == pytest.approx(1.5, abs=1e-14)
    assert isinstance(slope, float) and isinstance(intercept, float)


def test_the_centred_solver_is_exact_on_dyadic_data():
    assert fit_line([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0]) == (2.0, 1.0)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("a", "b"), [(0.2, 0.5), (3.0, -1.3), (1e-3, 2.0)])
def test_an_exact_power_law_is_recovered(solver, a, b):
    x = np.geomspace(1e-2, 1e4, 7)
    slope, log_a = power_law_fit(x, a * x**b, solver=solver)
    assert slope == pytest.approx(b, rel=1e-12)
    assert math.exp(log_a) == pytest.approx(a, rel=1e-11)


def test_the_solvers_agree_to_rounding_on_noisy_data():
    rng = np.random.default_rng(0)
    x, y = rng.random(20), rng.random(20)
    lines = [fit_line(x, y, solver=s) for s in SOLVERS]
    reference = stats.linregress(x, y)
    for slope, intercept in lines:
        assert slope == pytest.approx(reference.slope, rel=1e-12)
        assert intercept == pytest.approx(reference.intercept, rel=1e-12)


def test_slope_stderr_is_that_of_linear_regression():
    rng = np.random.default_rng(1)
    x = rng.random(12)
    y = 2 * x + 0.1 * rng.standard_normal(12)
    slope, intercept = fit_line(x, y, solver="lstsq")
    assert slope_stderr(x, y, slope, intercept) == pytest.approx(stats.linregress(x, y).stderr)
    assert slope_stderr(x[:2], y[:2], *fit_line(x[:2], y[:2])) is None


def test_fit_exponent_of_exact_data_has_an_interval_of_zero_width_around_the_slope():
    sizes = [16, 64, 256, 1024]
    column = [0.8 * p**-0.75 for p in sizes]
    fit = fit_exponent(sizes, [[e] * 4 for e in column], n_bootstrap=50)
    assert fit["slope"] == pytest.approx(-0.75, rel=1e-12)
    assert fit["ci_low"] == fit["slope"] == fit["ci_high"]
    assert fit["residual_rms_log"] < 1e-12
    assert (fit["n_sizes"], fit["n_seeds"], fit["n_bootstrap"]) == (4, 4, 50)


def test_the_interval_of_a_noisy_slope_covers_it_about_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    sizes = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    repetitions, seeds, covered = 200, 30, 0
    for repetition in range(repetitions):
        noise = np.exp(0.3 * rng.standard_normal((len(sizes), seeds)))
        errors = 2.0 * sizes[:, None] ** -0.5 * noise
        fit = fit_exponent(sizes, errors, n_bootstrap=100, seed=repetition)
        covered += fit["ci_low"] <= -0.5 <= fit["ci_high"]
    # the percentile bootstrap over 30 seeds covers slightly under 95 %; 3 binomial sd
    sd = math.sqrt(0.95 * 0.05 / repetitions)
    assert abs(covered / repetitions - 0.95) <= 3 * sd, covered


# --------------------------------------------------------------------------- bootstrap


def test_the_bootstrap_draws_one_integers_call_per_resample_from_the_seeded_generator():
    """Pinned: the stored intervals of every experiment come from these draws."""
    data = np.random.default_rng(5).random(7)
    draws = np.random.default_rng(3).integers(0, 7, size=(40, 7))
    expected = np.quantile([data[d].mean() for d in draws], [0.05, 0.95])
    got = bootstrap_interval(lambda i: data[i].mean(), 7, n_bootstrap=40, level=0.9, seed=3)
    assert got == Interval(float(expected[0]), float(expected[1]), 0)


def test_a_shared_generator_continues_its_stream():
    rng = np.random.default_rng(9)
    first = bootstrap_interval(lambda i: float(i.sum()), 5, n_bootstrap=10, seed=rng)
    second = bootstrap_interval(lambda i: float(i.sum()), 5, n_bootstrap=10, seed=rng)
    assert first != second
    again = np.random.default_rng(9)
    assert first == bootstrap_interval(lambda i: float(i.sum()), 5, n_bootstrap=10, seed=again)


def test_undefined_resamples_are_dropped_and_counted():
    data = np.array([0.0, 1.0, 2.0])

    def mean_unless_zero(i):
        return None if 0 in i else float(data[i].mean())

    low, high, dropped = bootstrap_interval(mean_unless_zero, 3, n_bootstrap=300)
    assert 0 < dropped < 300
    assert 1.0 <= low <= high <= 2.0
    assert bootstrap_interval(mean_unless_zero, 3, n_bootstrap=0) == Interval(None, None, 0)


def test_percentile_interval_is_numpys_quantiles():
    values = np.random.default_rng(0).random(101)
    tail = (1 - 0.9) / 2  # the tails as computed, not 0.05: the stored numbers use them
    assert percentile_interval(values, 0.9) == tuple(np.quantile(values, [tail, 1 - tail]))


# --------------------------------------------------------------------------- means


def test_known_geometric_means():
    assert geometric_mean([2.0, 8.0]) == 4.0
    assert geometric_mean([1.0, 10.0, 100.0]) == pytest.approx(10.0, rel=1e-15)
    assert geometric_mean([0.0, 5.0]) == 0.0
    assert math.isnan(geometric_mean([1.0, math.nan]))
    values = np.random.default_rng(0).random(9) * 10
    assert geometric_mean(values) == stats.gmean(values)


def test_nan_geometric_mean_leaves_out_non_finite_values_along_an_axis():
    table = np.array([[1.0, 4.0, np.nan], [np.inf, 2.0, 8.0], [np.nan, np.nan, np.nan]])
    out = nan_geometric_mean(table)
    assert out[:2].tolist() == [2.0, 4.0] and np.isnan(out[2])
    assert nan_geometric_mean(table[:2], axis=0)[1] == pytest.approx(math.sqrt(8.0))
    assert nan_geometric_mean([0.0, 1.0], floor=1e-4) == pytest.approx(1e-2)
    # the same bits as the strict mean on finite positive values
    values = np.random.default_rng(1).random(6) + 0.1
    assert float(nan_geometric_mean(values)) == geometric_mean(values)


# --------------------------------------------------------------------------- crossings


def test_the_crossing_of_a_piecewise_linear_log_log_curve():
    # ln v falls from ln 10 to ln 0.1 between α = 10 and 100: it meets 0 at √(10·100)
    alphas, values = [1.0, 10.0, 100.0, 1000.0], [100.0, 10.0, 0.1, 0.01]
    assert crossing(alphas, values, 1.0) == pytest.approx(math.sqrt(1000.0), rel=1e-14)
    assert crossing(alphas, values, 10.0) == pytest.approx(10.0, rel=1e-15)  # at it: above
    # the first downward crossing counts; a diverged (non-finite) point is skipped
    assert crossing([1.0, 10.0, 100.0, 1e3], [2.0, 0.5, 2.0, 0.5]) == pytest.approx(10 ** (1 / 2))
    assert crossing([1.0, 10.0, 100.0], [2.0, np.nan, 0.5]) == pytest.approx(10.0)
    assert crossing([1.0, 10.0], [0.5, 2.0]) is None


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fit_line([1.0, 2.0], [1.0, 2.0], solver="qr"), "solver='qr' is not one of"),
        (lambda: fit_line([1.0], [1.0]), "two points or more"),
        (lambda: fit_line([1.0, 2.0], [1.0, 2.0, 3.0]), "two points or more"),
        (lambda: fit_exponent([10, 100], [[0.1], [0.0]]), "finite, positive test errors"),
        (lambda: fit_exponent([10, 10], [[0.1], [0.2]]), "two distinct positive values"),
        (lambda: bootstrap_interval(len, 0), "n=0 must be an integer >= 1"),
        (lambda: bootstrap_interval(len, 3, n_bootstrap=-1), "n_bootstrap=-1"),
        (lambda: bootstrap_interval(len, 3, level=1.5), "level=1.5"),
        (lambda: bootstrap_interval("mean", 3), "is not callable"),
        (lambda: percentile_interval([], 0.9), "no values"),
        (lambda: geometric_mean([1.0, -2.0]), "negative values"),
        (lambda: geometric_mean([]), "no values"),
        (lambda: geometric_mean(["a"]), "needs numbers"),
        (lambda: crossing([1.0, 2.0], [1.0], 1.0), "one length"),
        (lambda: crossing([1.0, 2.0], [2.0, 0.5], 0.0), "threshold=0.0"),
    ],
)
def test_bad_input_is_refused_with_one_clear_error(call, match):
    with pytest.raises(InvalidOptionError, match=match):
        call()


# --------------------------------------------------------------------------- layering


def test_the_analysis_layer_imports_nothing_above_it():
    allowed = {"symscape.errors", "symscape.validation"}
    for path in Path(analysis.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("symscape"):
                    assert name in allowed or name.startswith("symscape.analysis"), (path, name)
                else:
                    assert name.split(".")[0] in {
                        "__future__",
                        "collections",
                        "math",
                        "numpy",
                        "typing",
                        "warnings",
                    }, (path, name)


def test_the_old_names_still_work():
    from symscape.experiments import _fits, feature_lazy
    from symscape.measure import geometric_mean as measure_geometric_mean
    from symscape.measure import sensitivity

    assert _fits.fit_exponent is fit_exponent
    assert feature_lazy.crossing is crossing
    assert sensitivity.geometric_mean is geometric_mean is measure_geometric_mean


# --------------------------------------------------------------------------- floors


def test_the_paired_floor_is_the_spread_of_an_error_difference_over_independent_test_sets():
    """Two regimes' seeds err mostly on the same hard points. Over 400 independent test
    sets of n = 500 points, the standard deviation of ε_a − ε_b equals the paired floor
    computed from one test set, and is far below the unpaired √(ε(1−ε)/n)."""
    from symscape.analysis import paired_floor

    rng = np.random.default_rng(0)
    E, n = 4, 500

    def test_set():
        hard = rng.normal(0.9, 1.0, size=n)  # a point's margin, shared by both regimes
        a = hard + rng.normal(0.0, 0.4, size=(E, n)) <= 0
        b = hard + 0.1 + rng.normal(0.0, 0.4, size=(E, n)) <= 0
        return a.astype(float), b.astype(float)

    differences, floors = [], []
    for _ in range(400):
        a, b = test_set()
        differences.append(a.mean() - b.mean())
        floors.append(paired_floor(a, b))
    assert np.std(differences) == pytest.approx(np.mean(floors), rel=0.15)
    error = np.mean(a)
    assert np.mean(floors) < 0.5 * math.sqrt(error * (1 - error) / n)  # pairing matters here
    # independent predictors: the paired floor is the unpaired √(ε_a(1−ε_a)/n + ε_b(1−ε_b)/n)
    a, b = (rng.random((1, 100_000)) < p for p in (0.2, 0.3))
    unpaired = math.sqrt((0.2 * 0.8 + 0.3 * 0.7) / 100_000)
    assert paired_floor(a, b) == pytest.approx(unpaired, rel=0.02)


def test_the_paired_floor_refuses_indicators_on_different_test_points():
    from symscape.analysis import paired_floor

    with pytest.raises(InvalidOptionError, match="same test points"):
        paired_floor(np.zeros((2, 10)), np.zeros((2, 11)))
