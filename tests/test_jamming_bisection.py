"""The N* and P* bisections on stubs with a known answer: no training.

The measurement is replaced by a deterministic fitted fraction, a step or a
smooth sigmoid that crosses 1/2 at a known N₀ (or P₀); the bisections must
bracket it as tightly as the networks (or the integers) allow, and report
N* as the geometric mean of the bracket's N, P* where the fraction crosses 1/2.
"""

from __future__ import annotations

import itertools
import math

import pytest

from symscape.experiments.jamming import (
    JammingConfig,
    find_capacities,
    find_transition,
    scan,
    search,
)
from symscape.nets.widths import layer_widths

D = 5
CONFIG = JammingConfig(
    data={"d": D, "n_test": 10},
    P_values=(40,),
    seeds=(0, 1),
    width_min=1.0,
    width_max=40.0,
    bisections=30,
    P_bisections=30,
    ratio_min=0.25,
    ratio_max=16.0,
)


def _weights(width: float, depth: int = CONFIG.depth) -> int:
    """N of the FC net without biases: d·h₁ + h₁·h₂ + ... + h_L · 1."""
    sizes = [D, *layer_widths(width, depth), 1]
    return sum(a * b for a, b in itertools.pairwise(sizes))


def _step(threshold):
    return lambda x: 1.0 if x >= threshold else 0.0


def _sigmoid(center, sharpness=6.0):
    return lambda x: 1.0 / (1.0 + (center / x) ** sharpness)


def _plateau(threshold):
    """Half of the seeds fit from N₀ to 3N₀ (a fraction of exactly 1/2 counts as fitted)."""
    return lambda x: 0.0 if x < threshold else 0.5 if x < 3 * threshold else 1.0


SHAPES = {"step": _step, "smooth": _sigmoid, "plateau": _plateau}


def _stub_width_measurement(monkeypatch, fraction_of_N, calls):
    def measure_many(requests, runner):
        points = []
        for configs, _ in requests:
            [config] = configs
            assert config.dynamics == "lbfgs" and config.depth == CONFIG.depth
            N = _weights(config.width)
            calls.append(config.width)
            P = config.data["P"]
            points.append({"width": config.width, "P": P, "N": N, "fitted": fraction_of_N(N)})
        return points

    monkeypatch.setattr(search, "measure_many", measure_many)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("N0", [37.5, 140.0, 611.0])
def test_width_bisection_brackets_a_known_n_star(monkeypatch, tmp_path, shape, N0):
    calls = []
    fraction = SHAPES[shape](N0)
    _stub_width_measurement(monkeypatch, fraction, calls)
    result = find_transition(CONFIG, 40, tmp_path / "unused.db")
    n_low, n_high = result["bracket"]
    assert result["outside"] is None
    assert n_low < N0 <= n_high
    assert result["N_star"] == pytest.approx(math.sqrt(n_low * n_high), rel=1e-12)
    w_low, w_high = result["width_bracket"]
    assert (_weights(w_low), _weights(w_high)) == (n_low, n_high)
    # resolved: no network strictly between the bracket's two (over a fine grid of widths)
    grid = [w_low + (w_high - w_low) * i / 200 for i in range(1, 200)]
    assert all(_weights(w) in (n_low, n_high) for w in grid)
    # a bisection in log width: the two ends, then each step one width inside the current
    # bracket, its geometric mean unless that is one of the ends' networks
    assert calls[:2] == [CONFIG.width_max, CONFIG.width_min]
    low, high = CONFIG.width_min, CONFIG.width_max
    for width in calls[2:]:
        assert low < width < high
        middle = math.sqrt(low * high)
        if _weights(middle) not in (_weights(low), _weights(high)):
            assert width == pytest.approx(middle, rel=1e-12)
        if fraction(_weights(width)) >= 0.5:
            high = width
        else:
            low = width
    assert [low, high] == [w_low, w_high]


@pytest.mark.parametrize(("N0", "where"), [(10_000.0, "above width_max"), (3.0, "below width_min")])
def test_width_bisection_reports_a_transition_outside_the_bracket(monkeypatch, tmp_path, N0, where):
    _stub_width_measurement(monkeypatch, _step(N0), [])
    result = find_transition(CONFIG, 40, tmp_path / "unused.db")
    assert (result["N_star"], result["bracket"], result["outside"]) == (None, None, where)


def _stub_size_measurement(monkeypatch, fraction_of_P_by_width, rounds, order=None):
    def measure_many(requests, runner):
        rounds.append(len(requests))
        points = []
        for configs, _ in requests:
            [config] = configs
            P = config.data["P"]
            if order is not None:
                order.setdefault(config.width, []).append(P)
            fitted = fraction_of_P_by_width[config.width](P)
            points.append({"width": config.width, "P": P, "N": None, "fitted": fitted})
        return points

    monkeypatch.setattr(scan, "measure_many", measure_many)


def _below(threshold):
    """Fits (fraction 1) at P ≤ threshold, not above."""
    return lambda size: 1.0 if size <= threshold else 0.0


def _falling(center, sharpness=8.0):
    return lambda P: 1.0 / (1.0 + (P / center) ** sharpness)


def test_size_bisection_brackets_known_capacities_in_lockstep(monkeypatch, tmp_path):
    """Two networks with a step at P₀, one with a smooth fall through 1/2 at P₀ and one
    where half of the runs fit up to P₀ (a fraction of exactly 1/2 counts as fitted)."""
    capacities = {3.0: 173, 6.0: 101, 9.0: 455.5, 4.0: 150}
    fractions = {
        3.0: _below(173),
        6.0: _below(101),
        9.0: _falling(455.5),
        4.0: lambda P: 1.0 if P < 60 else 0.5 if P <= 150 else 0.0,
    }
    rounds, order = [], {}
    _stub_size_measurement(monkeypatch, fractions, rounds, order)
    results = find_capacities(CONFIG, [(w, None) for w in capacities], tmp_path / "unused.db")
    assert rounds[0] == 8  # the two ends of the four networks, in one round
    for result, (width, P0) in zip(results, capacities.items(), strict=True):
        assert result["width"] == width and result["outside"] is None
        assert result["N"] == _weights(width)
        low, high = result["bracket"]
        assert high == low + 1 and low <= P0 < high
        # P*: where the fraction crosses 1/2, linear in ln P between the bracket's ends
        # (the step: halfway in ln P; the plateau: at its end, P₀)
        f_low, f_high = fractions[width](low), fractions[width](high)
        t = (f_low - 0.5) / (f_low - f_high)
        expected = math.exp(math.log(low) + t * math.log(high / low))
        assert result["P_star"] == pytest.approx(expected, rel=1e-12)
        assert abs(result["P_star"] - P0) < 1
        # the ends of the P bracket of the protocol: ratio_min · N and ratio_max · N
        P_low, P_high, *middles = order[width]
        assert P_low == math.ceil(CONFIG.ratio_min * result["N"])
        assert P_high == math.floor(CONFIG.ratio_max * result["N"])
        # a bisection in log P: each step the integer nearest the geometric mean, strictly
        # inside the bracket
        for size in middles:
            assert size == min(max(round(math.sqrt(P_low * P_high)), P_low + 1), P_high - 1)
            if fractions[width](size) >= 0.5:
                P_low = size
            else:
                P_high = size
        assert [P_low, P_high] == [low, high]


def test_size_bisection_reports_a_capacity_outside_the_bracket(monkeypatch, tmp_path):
    fractions = {
        4.0: _below(CONFIG.ratio_max * _weights(4.0) + 10),
        5.0: _below(CONFIG.ratio_min * _weights(5.0) / 2),
    }
    _stub_size_measurement(monkeypatch, fractions, [])
    high, low = find_capacities(CONFIG, [(4.0, None), (5.0, None)], tmp_path / "unused.db")
    assert (high["P_star"], high["outside"]) == (None, "above ratio_max · N")
    assert (low["P_star"], low["outside"]) == (None, "below ratio_min · N")
