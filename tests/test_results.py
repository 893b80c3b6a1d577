"""Reading a store back: ``symscape.results.load`` and ``symscape results``/``sweep status``."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from symscape.cli import main
from symscape.errors import DataNotFoundError, InvalidOptionError
from symscape.results import LazyArrays, load
from symscape.sweep import parse_spec, run_sweep

SPEC = """\
experiment = "probe"
name = "demo"
seeds = [0, 1]
[fixed]
size = 3
[zip]
value = [1.0, 2.0, 3.0]
fail = [false, false, true]
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = tmp_path_factory.mktemp("results") / "demo.db"
    run_sweep(parse_spec(SPEC), db, executor="inprocess")
    return db


def test_load_has_config_fields_scalars_and_lazy_arrays(store):
    frame = load(store)
    assert len(frame) == 6
    assert {"key", "status", "seed", "value", "size", "result", "duration", "arrays"} <= set(
        frame.columns
    )
    assert "seeds" not in frame.columns  # the seed column says it
    done = frame[frame["status"] == "done"]
    assert sorted(done["result"]) == [1.0, 2.0, 2.0, 4.0]  # value * (seed + 1)
    arrays = done["arrays"].iloc[0]
    assert isinstance(arrays, LazyArrays) and "not loaded" in repr(arrays)
    seed, value = done["seed"].iloc[0], done["value"].iloc[0]
    expected = np.random.default_rng([seed, round(value * 1000)]).standard_normal(3)
    np.testing.assert_array_equal(arrays["draws"], expected)
    with pytest.raises(KeyError, match="has no array 'nope'"):
        arrays["nope"]
    failed = frame[frame["status"] == "failed"]
    assert len(failed) == 2 and all("ProbeError" in e for e in failed["error"])


def test_load_filters(store):
    assert len(load(store, status="failed")) == 2
    assert list(load(store, where={"value": 2, "seed": 1})["result"]) == [4.0]
    with pytest.raises(InvalidOptionError, match="no column 'widht'"):
        load(store, where={"widht": 3})
    with pytest.raises(DataNotFoundError, match="no sweep store"):
        load(store.parent / "absent.db")


def test_results_command_formats(store, tmp_path, capsys):
    assert main(["results", str(store)]) == 0
    table = capsys.readouterr().out
    assert "demo.db: 6 runs" in table and "failed" in table and "value" in table

    assert main(["results", str(store), "--where", "status=done", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"done"}

    argv = ["results", str(store), "--format", "json", "--columns", "value,seed,result"]
    assert main([*argv, "--where", "value=3.0"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"value": 3.0, "seed": 0, "result": None},
        {"value": 3.0, "seed": 1, "result": None},
    ]

    out = tmp_path / "runs.parquet"
    assert main(["results", str(store), "--format", "parquet", "--output", str(out)]) == 0
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    assert len(pandas.read_parquet(out)) == 6


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--where", "value"], "is not FIELD=VALUE"),
        (["--columns", "nope"], "no column(s) nope"),
        (["--format", "parquet"], "give --output FILE.parquet"),
    ],
)
def test_results_command_bad_input(store, capsys, argv, needle):
    assert main(["results", str(store), *argv]) == 2
    assert needle in capsys.readouterr().err


def test_sweep_status_counts_by_sweep(store, capsys):
    assert main(["sweep", "status", "--db", str(store)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("demo"))
    assert line.split() == ["demo", "6", "4", "0", "2", "0", "0"]
    assert "failed" in out and "ProbeError" in out


def test_dry_run_counts_runs_and_computations(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    assert main(["sweep", "run", str(spec), "--db", str(tmp_path / "x.db"), "--dry-run"]) == 0
    assert "6 runs in 3 computation(s) (packing on)" in capsys.readouterr().out
    assert not (tmp_path / "x.db").exists()


def test_executor_flags_must_fit_the_executor(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    argv = ["sweep", "run", str(spec), "--db", str(tmp_path / "x.db"), "--partition", "gpu"]
    assert main(argv) == 2
    assert "--partition do(es) not apply to --executor pool" in capsys.readouterr().err
