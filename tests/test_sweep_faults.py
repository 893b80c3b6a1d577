"""Faults, for real: a driver killed with SIGKILL, Ctrl-C, two drivers on one store,
corrupt and foreign store files, a spec whose runs all fail."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import symscape
from symscape.cli import main

N_RUNS = 200  # a sweep of a few hundred runs


def _spec(tmp_path, runs: int = N_RUNS, sleep: float = 0.02, extra: str = "") -> str:
    values = ", ".join(f"{v}.0" for v in range(runs))
    path = tmp_path / "spec.toml"
    path.write_text(
        f'experiment = "probe"\n[fixed]\nsleep = {sleep}\nlog = "{tmp_path / "calls.log"}"\n'
        f"{extra}[grid]\nvalue = [{values}]\n"
    )
    return str(path)


def _driver(spec: str, db, *flags: str) -> subprocess.Popen:
    """The driver as a person starts it from a terminal: Ctrl-C (SIGINT) at its default.

    A test suite started in the background (``pytest &``) inherits SIGINT ignored, and
    Python then never raises KeyboardInterrupt: restore the default in the child."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "symscape", "sweep", "run", spec, "--db", str(db), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _rows(db, status: str | None = None) -> dict[str, float]:
    """key -> finished time of the runs (with ``status``), read as a second process would."""
    if not db.exists():
        return {}
    connection = sqlite3.connect(db, timeout=30)
    try:
        query = "SELECT key, finished FROM runs" + (" WHERE status = ?" if status else "")
        return dict(connection.execute(query, (status,) if status else ()).fetchall())
    except sqlite3.OperationalError:  # the driver has not created the tables yet
        return {}
    finally:
        connection.close()


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by init) counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def _calls(tmp_path) -> Counter:
    lines = (tmp_path / "calls.log").read_text().splitlines()
    return Counter(line.split()[1] for line in lines)


def test_a_killed_driver_loses_nothing_and_a_rerun_completes(tmp_path):
    spec, db = _spec(tmp_path), tmp_path / "s.db"
    driver = _driver(spec, db, "--workers", "2")
    _wait_for(lambda: len(_rows(db, "done")) >= 30)
    driver.kill()  # SIGKILL: no cleanup of any kind
    driver.wait()
    before = _rows(db, "done")
    assert 30 <= len(before) < N_RUNS
    assert _rows(db, "running")  # left behind by the dead driver

    rerun = subprocess.run(
        [sys.executable, "-m", "symscape", "sweep", "run", spec, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    after = _rows(db, "done")
    assert len(after) == N_RUNS and len(_rows(db)) == N_RUNS  # complete, no duplicate
    assert all(after[key] == finished for key, finished in before.items())  # kept as they were
    calls = _calls(tmp_path)
    assert set(calls) == {f"{v}.0" for v in range(N_RUNS)}
    # only runs in flight at the kill ran twice (at most one per worker)
    assert sum(n - 1 for n in calls.values()) <= 2
    assert f"skipped {len(before)} finished" in rerun.stdout


def test_pool_workers_do_not_outlive_a_killed_driver(tmp_path):
    """Orphans would go on computing and compete with the rerun for the cores."""
    spec, db = _spec(tmp_path, runs=2, sleep=60), tmp_path / "s.db"
    driver = _driver(spec, db, "--workers", "2")
    log = tmp_path / "calls.log"
    _wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2)
    driver.kill()
    driver.wait()
    workers = {int(line.split()[0]) for line in log.read_text().splitlines()}
    _wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10)


def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_store(tmp_path):
    spec, db = _spec(tmp_path, runs=40, sleep=0.1), tmp_path / "s.db"
    driver = _driver(spec, db, "--workers", "2", "--report-every", "0.2")
    _wait_for(lambda: len(_rows(db, "done")) >= 6)
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=60)
    assert driver.returncode == 130, err
    assert "interrupted; rerun the same command to resume" in err
    assert "Traceback" not in err
    # not on a terminal: a progress line now and then
    assert re.search(r"^sweep: \d+/40 done, 0 failed, [0-2] running, ETA ", err, re.M), err
    assert "sweep interrupted: 40 runs:" in out
    assert not _rows(db, "running")  # unfinished runs are pending again
    connection = sqlite3.connect(db)
    assert connection.execute("SELECT count(*) FROM drivers").fetchone() == (0,)
    connection.close()
    assert main(["sweep", "run", spec, "--db", str(db), "--executor", "inprocess"]) == 0
    assert len(_rows(db, "done")) == 40


def test_a_second_driver_on_the_same_store_is_refused(tmp_path, capsys):
    spec, db = _spec(tmp_path, runs=40, sleep=0.2), tmp_path / "s.db"
    first = _driver(spec, db, "--workers", "1")
    try:
        _wait_for(lambda: len(_rows(db, "done")) >= 1)
        code = main(["sweep", "run", spec, "--db", str(db), "--executor", "inprocess"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"{db} is in use by another sweep driver (pid {first.pid} on" in err
        assert len(err.strip().splitlines()) == 1
        # reading while the driver runs is fine
        assert main(["sweep", "status", "--db", str(db)]) == 0
        assert f"driver: pid {first.pid}" in capsys.readouterr().out
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert not _rows(db, "running")


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "text"])
def test_a_file_that_is_not_a_store_gives_one_line(tmp_path, capsys, kind):
    db = tmp_path / "s.db"
    if kind == "corrupt":
        db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    elif kind == "text":
        db.write_text("run,loss\n1,0.5\n")
    else:
        connection = sqlite3.connect(db)
        connection.execute("CREATE TABLE experiments (id INTEGER, loss REAL)")
        connection.commit()
        connection.close()
    content = db.read_bytes()
    spec = _spec(tmp_path, runs=2, sleep=0)
    for argv in (
        ["sweep", "run", spec, "--db", str(db)],
        ["sweep", "status", "--db", str(db)],
        ["results", str(db)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"symscape: error: {db} is not a symscape sweep store"), err
        assert len(err.splitlines()) == 1
    assert db.read_bytes() == content  # left untouched
    assert not (tmp_path / "calls.log").exists()  # nothing ran


def test_a_spec_whose_runs_all_fail_exits_1_with_a_summary(tmp_path, capsys):
    spec = _spec(tmp_path, runs=3, sleep=0, extra="fail = true\n")
    code = main(["sweep", "run", spec, "--db", str(tmp_path / "s.db"), "--executor", "inprocess"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "3 runs: 0 done, 3 failed" in out
    assert err.count("ProbeError: probe asked to fail") == 3


def test_a_bad_spec_runs_nothing_and_lists_every_problem(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('experiment = "train"\n[fixed]\nwidht = 3\n[grid]\nalpha = []\n')
    assert main(["sweep", "run", str(path), "--db", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert "2 problems: line 3: unknown field 'widht'" in err and "line 5:" in err
    assert not (tmp_path / "s.db").exists()


TRAIN_SPEC = """\
experiment = "train"
seeds = [0, 1]
[fixed]
dataset = "random"
data = { P = 40, n_test = 20, d = 10 }
max_steps = 250
depth = 2
activation = "softplus"
stop_when_fitted = false
[grid]
width = [2.0, 4.0, 8.0, 16.0, 32.0]
"""
# what may differ between two computations of the same run
VOLATILE = {"created", "started", "finished", "duration", "host", "pid"}


def _records(db) -> dict[str, tuple[dict, dict]]:
    """key -> (the stored row but its volatile fields, its arrays but the wall times)."""
    from symscape.sweep import Store

    with Store(db, create=False) as store:
        return {
            row["key"]: (
                {k: v for k, v in row.items() if k not in VOLATILE},
                {n: a for n, a in store.arrays(row["key"]).items() if "wall_time" not in n},
            )
            for row in store.rows()
        }


def test_a_training_sweep_killed_at_a_random_moment_resumes_to_the_same_records(tmp_path):
    """A real training sweep on a pool, SIGKILLed at a moment drawn from a fixed seed (after
    a drawn number of finished runs, plus a drawn delay) and run again, stores the same
    records, scalars and arrays, bit for bit, as one run uninterrupted into another store."""
    spec = tmp_path / "train.toml"
    spec.write_text(TRAIN_SPEC)
    reference = tmp_path / "reference.db"
    assert main(["sweep", "run", str(spec), "--db", str(reference), "--executor", "inprocess"]) == 0
    expected = _records(reference)
    assert len(expected) == 10 and all(row["status"] == "done" for row, _ in expected.values())

    draw = random.Random(19)
    finished, delay = 2 * draw.randint(1, 3), draw.uniform(0.0, 0.3)  # seeds finish in pairs
    db = tmp_path / "s.db"
    driver = _driver(str(spec), db, "--workers", "2")
    _wait_for(lambda: len(_rows(db, "done")) >= finished)
    time.sleep(delay)
    driver.kill()  # SIGKILL: no cleanup of any kind
    driver.wait()
    done_at_kill = _rows(db, "done")
    assert finished <= len(done_at_kill) < 10  # interrupted, not finished
    assert _rows(db, "running")  # runs in flight at the kill, left behind

    rerun = subprocess.run(
        [sys.executable, "-m", "symscape", "sweep", "run", str(spec), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {len(done_at_kill)} finished" in rerun.stdout
    got = _records(db)
    assert sorted(got) == sorted(expected)
    for key, (row, arrays) in expected.items():
        got_row, got_arrays = got[key]
        assert got_row == row, key
        assert sorted(got_arrays) == sorted(arrays), key
        for name, value in arrays.items():
            assert np.array_equal(got_arrays[name], value), (key, name)
    # the runs finished before the kill were kept, not computed again
    assert all(_rows(db)[key] == when for key, when in done_at_kill.items())


REPRODUCE = """\
import signal
import sys

from symscape.experiments import double_descent as dd

# the smallest double-descent protocol that trains through the store: the quick scale's
# section, on five widths of a small digits task
dd.PROTOCOLS["quick"] = {
    "digits": dd.DoubleDescentConfig(
        dataset="digits",
        data={"P": 60, "n_test": 100, "labels": "parity", "pca": 10, "center": True,
              "sphere": True},
        widths=(2.0, 4.0, 8.0, 16.0, 32.0),
        seeds=(0, 1, 2),
        dynamics="lbfgs",
        max_steps=1000,
        n_bootstrap=50,
    )
}
if __name__ == "__main__":  # the pool's workers import this file too
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from symscape.cli import main

    argv = ["reproduce", "--only", "double_descent", "--scale", "quick", "--out", sys.argv[1]]
    sys.exit(main(argv))
"""


@pytest.mark.slow
def test_reproduce_killed_at_a_random_moment_resumes_to_the_same_summary(tmp_path):
    """``symscape reproduce`` (its double-descent section on a small protocol, on a pool),
    SIGKILLed at a moment drawn from a fixed seed and run again, reports the same numbers
    as a run that was not interrupted, and does not train the runs finished before again."""
    script = tmp_path / "reproduce.py"
    script.write_text(REPRODUCE)
    env = {**os.environ, "PYTHONPATH": str(Path(symscape.__file__).parents[1])}

    def reproduce(out) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def section(out) -> dict:
        summary = json.loads((out / "summary.json").read_text())
        assert summary["failed"] == {}
        return {k: v for k, v in summary["double_descent"].items() if k != "wall_time_s"}

    reference = reproduce(tmp_path / "reference")
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    expected = section(tmp_path / "reference")
    assert len(expected["points"]) == 5 and expected["fits"]

    draw = random.Random(19)
    finished, delay = 3 * draw.randint(1, 3), draw.uniform(0.0, 0.5)  # seeds finish in threes
    out = tmp_path / "killed"
    db = out / "symscape.db"
    driver = reproduce(out)
    _wait_for(lambda: len(_rows(db, "done")) >= finished, timeout=120)
    time.sleep(delay)
    driver.kill()  # SIGKILL: no cleanup of any kind
    driver.wait()
    done_at_kill = _rows(db, "done")
    assert finished <= len(done_at_kill) < 15  # interrupted, not finished
    assert not (out / "summary.json").exists()

    rerun = reproduce(out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert section(out) == expected
    # the runs finished before the kill were kept, not trained again
    assert all(_rows(db)[key] == when for key, when in done_at_kill.items())
