"""Running sweeps: packing changes no result, every executor stores the same results,
finished runs are never run again, failures and dead workers become failed rows."""

from __future__ import annotations

import numpy as np
import pytest

from symscape.sweep import parse_spec, run_sweep, sweep_folder
from symscape.sweep.records import Outcome, dump_npz, write_outcome_file
from symscape.sweep.store import Store

TRAIN = """\
experiment = "train"
seeds = [0, 1, 2]
[fixed]
dataset = "random"
data = { P = 12, n_test = 16, d = 20 }
max_steps = 600
plateau_window = 50
plateau_tol = 0.01
depth = 1
[grid]
width = [3.0, 12.0]
"""

# what may differ between two computations of the same run
VOLATILE = ("duration", "started", "finished", "host", "pid", "packed", "arrays")


def _probe(lines: str = "", seeds: str = "[0]") -> str:
    return f'experiment = "probe"\nseeds = {seeds}\n{lines}'


def _frame(db):
    from symscape.results import load

    return load(db).sort_values("key").reset_index(drop=True)


def _same(x, y, rtol: float) -> bool:
    if isinstance(x, float | list) and isinstance(y, float | list):
        return np.allclose(x, y, rtol=rtol, atol=0, equal_nan=True)
    return x == y


def _assert_same_results(a, b, skip_scalars=(), rtol=0.0):
    """Equal stored results: exactly, or up to rounding (``rtol``) for floats."""
    assert list(a["key"]) == list(b["key"])
    columns = [c for c in a.columns if c not in VOLATILE and c not in skip_scalars]
    for column in columns:
        for x, y in zip(a[column], b[column], strict=True):
            assert _same(x, y, rtol), (column, x, y)
    for x, y in zip(a["arrays"], b["arrays"], strict=True):
        assert sorted(x) == sorted(y)
        for name in x:
            if "wall_time" not in name:
                np.testing.assert_allclose(x[name], y[name], rtol=rtol, atol=0, err_msg=name)


def test_a_packed_ensemble_stores_what_each_seed_gives_alone(tmp_path):
    packed = run_sweep(parse_spec(TRAIN), tmp_path / "packed.db", executor="inprocess")
    alone = run_sweep(
        parse_spec(TRAIN + "[pack]\nenabled = false\n"), tmp_path / "alone.db", executor="inprocess"
    )
    assert (packed.units, alone.units) == (2, 6)
    assert packed.counts["done"] == alone.counts["done"] == 6
    a, b = _frame(tmp_path / "packed.db"), _frame(tmp_path / "alone.db")
    assert set(a["packed"]) == {3} and set(b["packed"]) == {1}
    # members stop at different steps (on a plateau), so the packed trajectories
    # are cut per seed
    assert a["stop_step"].nunique() > 1
    # a batched product rounds differently from a single one: equal to float64 rounding
    _assert_same_results(a, b, skip_scalars=("ensemble_evaluations",), rtol=1e-9)


@pytest.mark.parametrize("executor", ["pool", "ray", "slurm"])
def test_every_executor_stores_the_same_results(tmp_path, executor):
    spec = parse_spec(TRAIN)
    run_sweep(spec, tmp_path / "reference.db", executor="inprocess")
    options = {"cluster": "local"} if executor == "slurm" else {}
    if executor == "ray":
        pytest.importorskip("ray")
    if executor == "slurm":
        pytest.importorskip("submitit")
    report = run_sweep(
        spec, tmp_path / "other.db", executor=executor, workers=2, executor_options=options
    )
    assert report.ok, report.failures
    assert report.counts["done"] == 6
    _assert_same_results(_frame(tmp_path / "reference.db"), _frame(tmp_path / "other.db"))
    if executor == "slurm":  # every result file was ingested, then removed
        assert not list((sweep_folder(tmp_path / "other.db") / "outbox").iterdir())


def test_a_finished_run_is_never_run_again(tmp_path):
    log = tmp_path / "calls.log"
    text = _probe(f'[fixed]\nlog = "{log}"\n[grid]\nvalue = [1.0, 2.0, 3.0]\n', seeds="[0, 1]")
    first = run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess")
    assert (first.ran, first.units, first.skipped) == (6, 3, 0)
    again = run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess")
    assert (again.ran, again.skipped) == (0, 6)
    # one more grid value and one more seed: only the new runs
    more = text.replace("[1.0, 2.0, 3.0]", "[1.0, 2.0, 3.0, 4.0]").replace("[0, 1]", "[0, 1, 2]")
    grown = run_sweep(parse_spec(more), tmp_path / "s.db", executor="inprocess")
    assert (grown.ran, grown.skipped) == (12 - 6, 6)
    assert len(log.read_text().splitlines()) == 3 + 4  # unit calls: 3, then 3 new seeds + 1 value


def test_a_run_that_raises_is_a_failed_row_and_the_sweep_goes_on(tmp_path):
    text = _probe("[zip]\nvalue = [1.0, 2.0, 3.0]\nfail = [false, true, false]\n")
    report = run_sweep(parse_spec(text), tmp_path / "s.db", executor="pool", workers=2)
    assert report.counts == {"pending": 0, "running": 0, "done": 2, "diverged": 0, "failed": 1}
    assert not report.ok
    [(_key, error)] = report.failures
    assert "Traceback" in error and "ProbeError: probe asked to fail (value=2.0)" in error
    frame = _frame(tmp_path / "s.db")
    failed = frame[frame["status"] == "failed"]
    assert list(failed["value"]) == [2.0] and len(failed["arrays"].iloc[0]) == 0
    # a failed run is not a result: a rerun retries it (and only it), unless told to keep it
    kept = run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess", retry_failed=False)
    assert (kept.ran, kept.retried, kept.skipped) == (0, 0, 3)
    retried = run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess")
    assert (retried.ran, retried.retried, retried.skipped) == (1, 1, 2)
    assert retried.counts["failed"] == 1  # the probe fails again, by construction
    assert "retried 1 that had failed" in retried.summary()


def test_a_sweep_names_its_own_failures_not_those_of_another_sweep_in_the_store(tmp_path):
    """reproduce's sections share one store: a section's reason is its own runs' failure."""
    from symscape.errors import RunsFailedError
    from symscape.sweep.runner import Runner

    first = parse_spec(_probe("[zip]\nvalue = [1.0]\nfail = [true]\n"))
    second = parse_spec(_probe("[zip]\nvalue = [7.0, 8.0]\nfail = [true, false]\n"))
    db = tmp_path / "s.db"
    assert run_sweep(first, db, executor="inprocess").counts["failed"] == 1
    report = run_sweep(second, db, executor="inprocess")
    [(key, error)] = report.failures
    assert key in {run.key for run in second.runs()} and "value=7.0" in error
    with pytest.raises(RunsFailedError, match=r"1 run\(s\) failed: .*value=7\.0"):
        Runner(db).complete(second)


def test_a_worker_that_dies_fails_its_run_only(tmp_path):
    text = _probe("[zip]\nvalue = [1.0, 2.0, 3.0, 4.0]\ncrash = [false, true, false, false]\n")
    report = run_sweep(parse_spec(text), tmp_path / "s.db", executor="pool", workers=2)
    assert (report.counts["done"], report.counts["failed"]) == (3, 1)
    assert "worker process died (killed by signal 9)" in report.failures[0][1]


def test_diverged_runs_are_finished_results(tmp_path):
    text = _probe("[zip]\nvalue = [1.0, 2.0]\ndiverge = [false, true]\n")
    report = run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess")
    assert report.ok and report.counts["diverged"] == 1
    assert run_sweep(parse_spec(text), tmp_path / "s.db", executor="inprocess").ran == 0


def test_result_files_left_by_jobs_are_ingested_on_resume(tmp_path):
    """A SLURM job that finished after its driver was killed: its file is stored, not rerun."""
    log = tmp_path / "calls.log"
    spec = parse_spec(_probe(f'[fixed]\nlog = "{log}"\n[grid]\nvalue = [1.0, 2.0]\n'))
    runs = spec.runs()
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.add_runs(runs, "s")
    outbox = sweep_folder(db) / "outbox"
    arrays = {"draws": np.arange(4.0)}
    write_outcome_file(Outcome(runs[0].key, "done", {"result": 42.0}, dump_npz(arrays)), outbox)
    (outbox / f"{runs[1].key}.outcome").write_bytes(b"half a file")  # not ours: set aside
    report = run_sweep(spec, db, executor="inprocess")
    assert report.ok and report.ran == 1
    assert len(log.read_text().splitlines()) == 1  # only the second run ran
    frame = _frame(db).set_index("value")
    assert frame.loc[1.0, "result"] == 42.0
    np.testing.assert_array_equal(frame.loc[1.0, "arrays"]["draws"], arrays["draws"])
    assert [p.suffix for p in outbox.iterdir()] == [".bad"]


def test_several_specs_are_one_queue_and_a_shared_run_runs_once(tmp_path):
    """run_sweep of two specs (different seeds, one run in common) trains each run once,
    stores it under the first spec's name that has it, and stores what each spec gives
    alone."""
    log = tmp_path / "calls.log"
    first = parse_spec(_probe(f'[fixed]\nlog = "{log}"\n[grid]\nvalue = [1.0, 2.0]', "[0, 1]"))
    second = parse_spec(
        'experiment = "probe"\nname = "other"\nseeds = [0]\n'
        f'[fixed]\nlog = "{log}"\n[grid]\nvalue = [2.0, 3.0]'
    )
    report = run_sweep([first, second], tmp_path / "both.db", executor="pool", workers=2)
    assert report.ok and report.total == 5 and report.ran == 5  # (2.0, seed 0) is shared
    assert len(log.read_text().splitlines()) == 3  # units: 1.0 and 2.0 (seeds 0, 1), 3.0
    run_sweep(first, tmp_path / "alone.db", executor="inprocess")
    run_sweep(second, tmp_path / "alone.db", executor="inprocess")
    _assert_same_results(_frame(tmp_path / "both.db"), _frame(tmp_path / "alone.db"))
    with Store(tmp_path / "both.db", create=False) as store:
        shared = [r for r in second.runs() if r.key in {f.key for f in first.runs()}]
        assert len(shared) == 1 and store.get([shared[0].key])[0]["sweep"] == first.name
