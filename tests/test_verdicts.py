"""The three verdicts of SCIENCE.md §0, each produced by a case built to produce it."""

from __future__ import annotations

import math

import pytest

from symscape.comparisons import (
    AGREES,
    DIFFERS,
    NOT_TESTABLE,
    Verdict,
    fitted,
    judge,
)


def test_agrees_when_the_reported_value_is_inside_the_interval():
    v = judge(-0.48, -0.5, -0.6, -0.4)
    assert v.kind == AGREES
    assert "+0.02" in v.reason


def test_differs_with_the_difference_when_outside():
    v = judge(-0.9, -0.5, -1.0, -0.8)
    assert v.kind == DIFFERS
    assert "−0.40" in v.reason  # the value minus the reported one


def test_a_reported_range_agrees_when_it_meets_the_interval_and_differs_by_its_nearest_end():
    assert judge(3.4, (2.8, 3.3), 3.2, 3.6).kind == AGREES
    v = judge(4.0, (2.8, 3.3), 3.8, 4.2)
    assert v.kind == DIFFERS
    assert "+0.70" in v.reason


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"value": None, "low": None, "high": None}, "not measured"),
        ({"value": 0.3, "low": None, "high": None}, "no interval"),
        ({"value": 0.3, "low": math.nan, "high": 1.0}, "no interval"),
        ({"value": 0.3, "low": -0.5, "high": 1.0, "null": 0.0}, "no effect"),
        ({"value": 0.01, "low": 0.0, "high": 0.02, "floor": 0.01}, "statistical floor"),
        ({"value": 0.5, "low": 0.4, "high": 0.6, "untestable": "2 points"}, "2 points"),
    ],
)
def test_not_testable_cases_say_why(kwargs, reason):
    v = judge(reported=0.5, **kwargs)
    assert v.kind == NOT_TESTABLE
    assert reason in v.reason


def test_a_null_outside_the_interval_leaves_the_test_decidable():
    # the interval excludes "no effect" (0): the law is tested, and here it differs
    assert judge(-1.0, -0.5, -1.2, -0.8, null=0.0).kind == DIFFERS
    # the interval holds 0 but not the reported value: the data say "differs"
    assert judge(0.1, -0.5, -0.2, 0.4, null=0.0).kind == DIFFERS


def test_fitted_rows_carry_their_verdict_kind():
    assert fitted("s", {"slope": -0.5, "ci_low": -0.6, "ci_high": -0.4}, -0.5).kind == AGREES
    assert fitted("s", {"slope": -0.9, "ci_low": -1.0, "ci_high": -0.8}, -0.5).kind == DIFFERS
    row = fitted("s", {"slope": None, "reason": "one point"}, -0.5)
    assert (row.kind, row.comparison) == (NOT_TESTABLE, f"{NOT_TESTABLE}: one point")
    assert fitted("s", {"slope": 1.0, "ci_low": 0.9, "ci_high": 1.1}, None).kind == ""


def test_a_verdict_is_one_of_three():
    with pytest.raises(ValueError, match="a verdict is one of"):
        Verdict("roughly", "")
