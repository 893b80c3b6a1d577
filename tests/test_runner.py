"""The Runner: where an experiment's trainings run (a store and an executor)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from symscape.errors import InvalidOptionError
from symscape.experiments import registry
from symscape.sweep import parse_spec
from symscape.sweep.runner import Runner, as_runner, given_store_path


def test_a_rerun_trains_nothing_and_a_store_path_is_a_runner(tmp_path):
    spec = parse_spec('experiment = "probe"\nseeds = [0, 1, 2]\n[grid]\nvalue = [1.0, 2.0]')
    runner = Runner(tmp_path / "runs.db", "inprocess")
    first = runner.complete(spec)
    assert (first.ran, first.skipped) == (6, 0)
    again = as_runner(str(tmp_path / "runs.db")).complete(spec)
    assert (again.ran, again.skipped) == (0, 6)
    assert as_runner(tmp_path / "x.db", "pool") == Runner(tmp_path / "x.db", "pool")


def test_a_failed_run_is_one_error_naming_the_runs(tmp_path):
    from symscape.errors import RunsFailedError

    spec = parse_spec('experiment = "probe"\nseeds = [0]\n[fixed]\nfail = true')
    with pytest.raises(RunsFailedError, match="at width 8"):
        Runner(tmp_path / "runs.db").complete(spec, "at width 8")


def test_the_older_store_path_keyword_and_its_conflicts():
    assert given_store_path(None, "a.db") == Path("a.db")
    assert given_store_path("b.db", None) == "b.db"
    with pytest.raises(InvalidOptionError, match="both a runner and store_path="):
        given_store_path("b.db", "a.db")
    with pytest.raises(InvalidOptionError, match="both a Runner and an executor"):
        as_runner(Runner(Path("a.db"), "pool"), "inprocess")
    with pytest.raises(InvalidOptionError, match="no runner: the trainings need a sweep store"):
        as_runner(None)


@pytest.mark.parametrize(
    "name", ["jamming", "double_descent", "feature_lazy", "stability", "equivariance"]
)
def test_every_run_takes_a_runner_and_the_older_store_path(name):
    """``run(config, runner, executor, *, store_path=None)``: the older keyword call
    ``run(config, store_path=..., executor=...)`` of the previous release still binds."""
    run = registry.get(name).load().run
    parameters = inspect.signature(run).parameters
    assert list(parameters)[:3] == ["config", "runner", "executor"]
    assert parameters["store_path"].kind is inspect.Parameter.KEYWORD_ONLY
    inspect.signature(run).bind("config", store_path="x.db", executor="pool")
