"""Sweep specs: expansion, validation with line numbers, run keys, packing into units."""

from __future__ import annotations

import pytest

from symscape import __version__
from symscape.sweep import SpecError, load_spec, parse_spec, run_key
from symscape.sweep.experiments import resolve_experiment
from symscape.train import TrainConfig

TRAIN_SPEC = """\
experiment = "train"
seeds = "0-2"

[fixed]
dataset = "random"
data = { n_test = 20, d = 5 }
max_steps = 50

[grid]
width = [4, 8]
data.P = [10, 20]

[zip]
dynamics = ["sgd", "adam"]
lr = [0.1, 0.001]
"""


def test_grid_zip_and_seeds_expand_to_their_product():
    spec = parse_spec(TRAIN_SPEC)
    runs = spec.runs()
    assert len(runs) == 2 * 2 * 2 * 3
    points = {(r.config["width"], r.config["data"]["P"], r.config["dynamics"]) for r in runs}
    assert len(points) == 8
    pairs = {(r.config["dynamics"], r.config["lr"]) for r in runs}
    assert pairs == {("sgd", 0.1), ("adam", 0.001)}  # zipped, not crossed
    # the table option set by the grid keeps the fixed ones
    assert all(r.config["data"]["n_test"] == 20 and r.config["data"]["d"] == 5 for r in runs)
    # every run is a full config (defaults included) with one seed
    assert all(TrainConfig.from_dict(r.config).seeds == (r.seed,) for r in runs)
    assert len({r.key for r in runs}) == len(runs)


def test_units_pack_the_seeds_of_one_config():
    spec = parse_spec(TRAIN_SPEC)
    runs = spec.runs()
    units = spec.units(runs)
    assert len(units) == 8
    assert all(u.config["seeds"] == [0, 1, 2] and len(u) == 3 for u in units)
    assert sorted(k for u in units for k in u.keys) == sorted(r.key for r in runs)
    unpacked = parse_spec(TRAIN_SPEC + "\n[pack]\nenabled = false\n")
    assert len(unpacked.units(unpacked.runs())) == 24
    small = parse_spec(TRAIN_SPEC + "\n[pack]\nmax_members = 2\n")
    assert sorted(len(u) for u in small.units(small.runs())) == [1] * 8 + [2] * 8


def test_run_key_covers_every_field_and_the_version():
    base = TrainConfig(seeds=(0,)).to_dict()
    key = run_key("train", base)
    assert key == run_key("train", dict(reversed(list(base.items()))))  # canonical: order-free
    for field, value in [("width", 33.0), ("alpha", 2.0), ("seeds", [1]), ("max_steps", 7)]:
        assert run_key("train", {**base, field: value}) != key, field
    assert run_key("train", {**base, "data": {**base["data"], "P": 101}}) != key
    assert run_key("train", base, version=__version__ + ".post1") != key
    assert run_key("probe", base) != key


def test_an_integer_for_a_float_field_is_the_same_run():
    a = parse_spec('experiment = "train"\n[fixed]\nwidth = 8\nalpha = 1').runs()
    b = parse_spec('experiment = "train"\n[fixed]\nwidth = 8.0\nalpha = 1.0').runs()
    assert [r.key for r in a] == [r.key for r in b]
    # defaults written out make the same run as defaults left out
    c = parse_spec('experiment = "train"\n[fixed]\nwidth = 8\nbeta = 20.0').runs()
    assert c[0].key == a[0].key


def test_every_problem_is_reported_at_once_with_its_line():
    text = """\
experiment = "train"
seeds = [0, 1]

[fixed]
widht = 8
depth = "two"

[grid]
alpha = []
width = [4, 8]

[zip]
lr = [0.1, 0.2]
batch_size = [10]
"""
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="bad.toml")
    by_line = dict(info.value.problems)
    assert sorted(by_line) == [5, 6, 9, 12]
    assert "unknown field 'widht'" in by_line[5]
    assert "depth = 'two' is not of type int" in by_line[6]
    assert "'alpha' is empty" in by_line[9]
    assert "different lengths [1, 2]" in by_line[12]
    message = str(info.value)
    assert message.startswith("bad.toml: 4 problems: line 5: unknown field 'widht'")
    assert "did you mean width?" in message


def test_configs_the_experiment_rejects_are_reported_before_anything_runs():
    text = 'experiment = "train"\n[grid]\nwidth = [0.5, 8]\nloss = ["hinge", "nonsense"]\n'
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert "width=0.5 must be >= 1" in message
    assert "unknown loss 'nonsense'" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[fixed]\nwidth = 8", "no experiment"),
        ('experiment = "nope"', "unknown experiment 'nope'"),
        ('experiment = "os:path"', "is not a symscape.sweep.Experiment"),
        ('experiment = "no_such_module_xyz:E"', "cannot import"),
        ('experiment = "train"\nwidth = 3', "unknown top-level key 'width'"),
        ('experiment = "train"\nseeds = "0-x"', "is not a seed or a range"),
        ('experiment = "train"\nseeds = [1, 1]', "repeat a seed"),
        ('experiment = "train"\nseeds = [0]\n[fixed]\nseeds = [1]', "both here and by the top"),
        ('experiment = "train"\n[grid]\nwidth = 8', "must be a list"),
        ('experiment = "train"\n[grid]\nwidth = [8]\n[fixed]\nwidth = 4', "both fixed and swept"),
        ('experiment = "train"\n[grid]\nwidth.x = [8]', "is not a table"),
        ('experiment = "train"\n[pack]\nmax_members = 0', "max_members"),
        ('experiment = "train"\n[fixed\n', "not valid TOML"),
    ],
)
def test_bad_specs_name_the_problem(text, needle):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert needle in str(info.value)


def test_load_spec_reports_a_missing_or_binary_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(SpecError, match="cannot read it as text"):
        load_spec(binary)


def test_experiments_resolve_by_import_path():
    assert resolve_experiment("symscape.sweep.experiments:PROBE").name == "probe"
    spec = parse_spec('experiment = "symscape.sweep.experiments:PROBE"\n[grid]\nvalue = [1.0]')
    assert spec.runs()[0].experiment == "symscape.sweep.experiments:PROBE"


def test_every_registered_name_is_an_import_path_to_its_experiment():
    """The registry holds import paths, resolved when asked: the experiment stored under a
    name is the one registered under it, and a sweep spec names it by that name."""
    from symscape.runnable import Experiment
    from symscape.sweep.experiments import EXPERIMENTS

    assert set(EXPERIMENTS) == {"equivariance-point", "probe", "stability-network", "train"}
    for name, path in EXPERIMENTS.items():
        assert isinstance(path, str) and ":" in path
        experiment = resolve_experiment(name)
        assert isinstance(experiment, Experiment) and experiment.name == name
        assert resolve_experiment(path) is experiment


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ('experiment = "train"\n[grid]\nwidth = [8, 8.0]', "is the same run as width=8", None),
        ('experiment = "train"\npack = true', "pack must be a [pack] table", 2),
        ('experiment = "train"\nzip = 5', "zip must be a [zip] table", 2),
        ('experiment = "train"\n[pack]\nmax_members = true', "max_members must be an int", 3),
        (
            'experiment = "train"\n[[zip]]\nlr = [0.1]\n[[zip]]\nbeta = [1.0, 2.0]\nkappa = [1.0]',
            "different lengths [1, 2]",
            4,
        ),
        ('experiment = "train"\n[fixed]\nwidth = 4\n[grid]\nalpha = [1.0, -1.0]', "alpha=-1.0", 5),
        (
            'experiment = "train"\n[fixed]\ndata = { P = 10 }\n[grid]\ndata = [{ d = 3 }]',
            "field 'data' is both fixed and swept",
            3,
        ),
        ('experiment = "train"\n[grid]\ndata.Q = [1]', "has no option 'Q'", 3),
    ],
)
def test_more_bad_specs_are_problems_with_lines(text, needle, line):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    [(got_line, message)] = info.value.problems
    assert needle in message
    assert got_line == line


def test_a_swept_table_option_keeps_the_other_options_and_defaults_are_explicit():
    [run] = parse_spec('experiment = "train"\n[grid]\ndata.P = [10]').runs()
    default = TrainConfig().data
    assert run.config["data"] == {**default, "P": 10}
    # the data set's defaults written out or left out: the same run
    explicit = 'experiment = "train"\n[fixed]\ndata = { P = 10, n_test = 100, d = 10, seed = 0 }'
    implicit = 'experiment = "train"\n[fixed]\ndata = { P = 10, n_test = 100, d = 10 }'
    assert parse_spec(explicit).runs()[0].key == parse_spec(implicit).runs()[0].key == run.key
