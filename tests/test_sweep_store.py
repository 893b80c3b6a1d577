"""The store and the pieces around it: outcome files, the driver lease, records, executors."""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest

from symscape.cli import main
from symscape.errors import DataFormatError
from symscape.sweep import Store, StoreBusyError, parse_spec
from symscape.sweep.executors import ExecutorError, PoolExecutor, SlurmExecutor
from symscape.sweep.records import (
    Outcome,
    dump_npz,
    flatten,
    read_outcome_file,
    write_outcome_file,
)


def test_flatten_keeps_numpy_scalars_as_scalars():
    scalars, arrays = flatten({"a": np.float64(0.5), "b": {"n": np.int64(3), "w": np.ones(2)}})
    assert scalars == {"a": 0.5, "b": {"n": 3}} and type(scalars["a"]) is float
    assert list(arrays) == ["b/w"]
    with pytest.raises(TypeError, match="holds Python objects"):
        dump_npz({"x": np.array([{}, 1], dtype=object)})


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"status": "weird"}, "status 'weird'"),
        ({"key": "other"}, "holds run 'other'"),
        ({"started": "x"}, "started is not a number"),
    ],
)
def test_outcome_files_are_checked_field_by_field(tmp_path, change, needle):
    outcome = Outcome("k" * 32, "done", {"x": 1.0}, dump_npz({}), started=1.0, finished=2.0)
    path = write_outcome_file(outcome, tmp_path)
    assert read_outcome_file(path) == outcome
    for name, value in change.items():
        setattr(outcome, name, value)
    bad = write_outcome_file(outcome, tmp_path)
    bad.rename(path)
    with pytest.raises(DataFormatError, match=needle):
        read_outcome_file(path)


def test_the_lease_ignores_a_dead_or_recycled_driver(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:
        now = time.time()
        # a row with our own pid (a recycled pid after a kill) and a fresh heartbeat
        store.db.execute(
            "INSERT INTO drivers VALUES ('x', ?, ?, ?, ?, '')",
            (socket.gethostname(), os.getpid(), now, now),
        )
        store.acquire()
        store.release()
        # a live driver on another host, seen recently, is respected; a silent one is not
        for heartbeat, refused in ((now, True), (now - 3600, False)):
            store.db.execute(
                "INSERT INTO drivers VALUES ('y', 'elsewhere', 1, ?, ?, '')", (now, heartbeat)
            )
            if refused:
                with pytest.raises(StoreBusyError, match="pid 1 on elsewhere"):
                    store.acquire()
                store.db.execute("DELETE FROM drivers")
            else:
                store.acquire()
                store.release()


def test_a_store_newer_than_this_symscape_is_refused(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.db.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(DataFormatError, match="written by a newer symscape"):
        Store(db)


def test_a_store_where_nothing_can_be_written_is_one_line(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('experiment = "probe"\n')
    assert main(["sweep", "run", str(spec), "--db", "/proc/no/such/dir/s.db"]) == 2
    err = capsys.readouterr().err
    assert "cannot open or create the store /proc/no/such/dir/s.db" in err
    assert len(err.strip().splitlines()) == 1


def test_a_pool_worker_that_died_while_idle_is_replaced():
    spec = parse_spec('experiment = "probe"\n[grid]\nvalue = [1.0, 2.0]')
    first, second = spec.units(spec.runs())
    pool = PoolExecutor(workers=1)
    try:
        pool.submit(first)
        outcomes = []
        while not outcomes:
            outcomes = pool.wait(timeout=10)
        assert outcomes[0].status == "done"
        pool.pool[0].process.kill()
        pool.pool[0].process.join()
        assert pool.has_room()
        pool.submit(second)
        outcomes = []
        while not outcomes:
            outcomes = pool.wait(timeout=10)
        assert [o.status for o in outcomes] == ["done"]
    finally:
        pool.close()


def _pids(db, keys):
    with Store(db, create=False) as store:
        return {row["pid"] for row in store.get(keys)}


def test_a_closed_pool_leaves_its_workers_warm_for_the_next_sweep(tmp_path):
    """The next sweep's units run in the same worker processes (no new spawn, no new import
    of torch), with the same results; an aborted pool leaves nothing warm, and a warm worker
    that died meanwhile is replaced."""
    from symscape.sweep.driver import run_sweep
    from symscape.sweep.executors import local

    db = tmp_path / "s.db"
    local._stop_warm()  # none from an earlier test
    first = parse_spec('experiment = "probe"\n[grid]\nvalue = [1.0, 2.0]')
    second = parse_spec('experiment = "probe"\n[grid]\nvalue = [3.0, 4.0]')
    assert run_sweep(first, db, executor="pool", workers=2).ok
    pids = _pids(db, [r.key for r in first.runs()])
    assert len(local._WARM) >= 1 and pids <= {w.process.pid for w in local._WARM}
    assert run_sweep(second, db, executor="pool", workers=2).ok
    assert _pids(db, [r.key for r in second.runs()]) <= pids  # the same processes
    with Store(db, create=False) as store:
        values = [row["scalars"]["result"] for row in store.get([r.key for r in second.runs()])]
    assert values == [3.0, 4.0]

    for worker in list(local._WARM):  # a warm worker killed while idle: replaced
        worker.process.kill()
        worker.process.join()
    third = parse_spec('experiment = "probe"\n[grid]\nvalue = [5.0]')
    assert run_sweep(third, db, executor="pool", workers=1).ok
    assert not _pids(db, [r.key for r in third.runs()]) & pids

    pool = PoolExecutor(workers=1)
    pool.submit(first.units(first.runs())[0])
    worker = pool.pool[0]
    pool.close(abort=True)  # aborted: its worker is stopped, not kept
    assert not worker.process.is_alive() and worker not in local._WARM

    run_sweep(first, tmp_path / "t.db", executor="pool", workers=1)
    [kept] = local._WARM
    os.environ["SYMSCAPE_TEST_WARM"] = "1"  # the driver's environment changed: a new worker
    try:
        run_sweep(second, tmp_path / "t.db", executor="pool", workers=1)
        assert not _pids(tmp_path / "t.db", [r.key for r in second.runs()]) & {kept.process.pid}
    finally:
        del os.environ["SYMSCAPE_TEST_WARM"]
        local._stop_warm()


def test_the_slurm_executor_needs_sbatch_unless_told_to_run_locally(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(ExecutorError, match="needs SLURM's sbatch on the PATH"):
        SlurmExecutor(tmp_path / "jobs")
