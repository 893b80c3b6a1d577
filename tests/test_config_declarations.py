"""Every config field is declared once (default, help, constraint), and its constraint holds.

For each config class: every field has a help text and a constraint, the
defaults obey them, and every value a constraint refuses (out of its
interval, an unknown name, nan or inf, a wrong type) is an error of one
line that names the field (or the thing it names, e.g. "data set").
"""

from __future__ import annotations

import dataclasses

import pytest

from symscape.config import Constraint, Interval, Items, Options, OrNone, Seeds, declared
from symscape.errors import SymscapeError
from symscape.experiments.double_descent import DoubleDescentConfig
from symscape.experiments.equivariance import EquivarianceConfig, LearningPointConfig
from symscape.experiments.feature_lazy import FeatureLazyConfig
from symscape.experiments.jamming import JammingConfig
from symscape.experiments.stability import StabilityConfig
from symscape.sweep.experiments import ProbeConfig
from symscape.train import TrainConfig

CONFIGS = [
    TrainConfig,
    JammingConfig,
    DoubleDescentConfig,
    FeatureLazyConfig,
    StabilityConfig,
    EquivarianceConfig,
    LearningPointConfig,
    ProbeConfig,
]


def _cases():
    for cls in CONFIGS:
        for field in dataclasses.fields(cls):
            yield pytest.param(cls, field, id=f"{cls.__name__}.{field.name}")


def _words(name: str, constraint: Constraint) -> list[str]:
    """How a message may name the field: its name, or the thing its names are (Options)."""
    words = [name]
    while isinstance(constraint, OrNone | Items):
        constraint = constraint.inner if isinstance(constraint, OrNone) else constraint.item
    if isinstance(constraint, Options) and constraint.what:
        words.append(constraint.what)
    return words


@pytest.mark.parametrize(("cls", "field"), list(_cases()))
def test_every_field_is_declared_with_help_and_a_constraint(cls, field):
    declaration = declared(field)
    assert declaration is not None, f"{cls.__name__}.{field.name} is not declared with param()"
    assert declaration.help.strip(), f"{cls.__name__}.{field.name} has no help text"
    assert isinstance(declaration.constraint, Constraint)
    assert declaration.constraint.describe()
    default = getattr(cls(), field.name)
    assert declaration.constraint.check(default, field.name) == default  # defaults obey it


@pytest.mark.parametrize(("cls", "field"), list(_cases()))
def test_every_refused_value_is_one_line_naming_the_field(cls, field):
    constraint = declared(field).constraint
    bad_values = constraint.invalid()
    assert bad_values, f"{cls.__name__}.{field.name}: no invalid value to try"
    words = _words(field.name, constraint)
    for bad in bad_values:
        with pytest.raises(SymscapeError) as info:
            cls(**{field.name: bad})
        message = str(info.value).strip("'\"")
        assert "\n" not in message, message
        shown = [repr(bad), *(repr(b) for b in (bad if isinstance(bad, tuple) else ()))]
        assert any(word in message for word in words + shown), (bad, message)


def test_constraints_describe_and_parse():
    assert Interval(int, 1, None).describe() == "an integer >= 1"
    assert Interval(float, 0, 1, closed="left").describe() == "a number in [0, 1)"
    assert Options(("fc", "cnn")).describe() == "one of fc, cnn"
    assert Seeds().parse("0-2,5", "--seeds") == (0, 1, 2, 5)
    assert Items(Interval(int, 1, None)).parse("32,64", "--P-values") == (32, 64)
    assert OrNone(Interval(float, 0, None)).parse("none", "--tau") is None
    with pytest.raises(SymscapeError, match="--P-values '32,x' is not a list of ints"):
        Items(Interval(int, 1, None)).parse("32,x", "--P-values")


def test_unlimited_fields_follow_from_the_declarations():
    assert TrainConfig.UNLIMITED == ("max_time", "max_wall")
    assert TrainConfig(max_wall=float("inf")).max_wall == float("inf")
    with pytest.raises(SymscapeError, match="max_steps=-1 must be an integer >= 0"):
        TrainConfig(max_steps=-1)


def test_cross_field_checks_stay_in_the_configs():
    with pytest.raises(SymscapeError, match="range"):
        JammingConfig(width_min=8.0, width_max=4.0)
    with pytest.raises(SymscapeError, match="exactly one of deltas"):
        StabilityConfig(deltas=None)
