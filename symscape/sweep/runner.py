"""Where an experiment's trainings run: a store and an executor, as one value.

An experiment's ``run(config, runner)`` hands each of its sweeps to
``runner.complete(spec)``: every run of the spec not yet finished in the
store is trained on the executor, and a rerun into the same store trains
nothing twice. *What* runs is the config; *where* it runs is the runner.

>>> import tempfile, pathlib
>>> from symscape.sweep import parse_spec
>>> runner = Runner(pathlib.Path(tempfile.mkdtemp()) / "runs.db")
>>> spec = parse_spec('experiment = "probe"\\nseeds = [0, 1]\\n[grid]\\nvalue = [1.0]')
>>> runner.complete(spec).ran
2
>>> report = runner.complete(spec)  # finished runs are not trained again
>>> report.ran, report.skipped
(0, 2)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["Runner", "as_runner", "given_store_path"]


@dataclasses.dataclass(frozen=True)
class Runner:
    """A sweep store ``store`` (a SQLite file) and the ``executor`` its runs train on.

    ``executor`` is an executor's name (``inprocess``, ``pool``, ``ray``,
    ``slurm``) or an :class:`~symscape.sweep.executors.ExecutorChoice` (a
    name with options).
    """

    store: Path
    executor: Any = "inprocess"

    def __post_init__(self):
        object.__setattr__(self, "store", Path(self.store))

    def complete(self, spec, what: str = ""):
        """Run every unfinished run of ``spec`` (a spec, or several trained as one queue)
        into the store; returns the sweep's report.

        A failed run raises :class:`~symscape.errors.RunsFailedError` (``what``
        names the runs in its message, e.g. ``"at width 8"``); an interrupted
        sweep (Ctrl-C) raises :class:`KeyboardInterrupt` once the driver has
        stopped, never hands back unfinished runs. Failed runs of an earlier
        call are trained again.
        """
        from symscape.errors import RunsFailedError
        from symscape.sweep.driver import run_sweep
        from symscape.sweep.executors import ExecutorChoice
        from symscape.sweep.spec import SweepSpec

        executor, options = self.executor, {}
        if isinstance(executor, ExecutorChoice):
            executor, options = executor.name, dict(executor.options)
        report = run_sweep(spec, self.store, executor=executor, executor_options=options)
        if report.interrupted:  # the driver stopped on Ctrl-C: the store holds unfinished runs
            specs = [spec] if isinstance(spec, SweepSpec) else spec
            names = ", ".join(dict.fromkeys(one.name for one in specs))
            raise KeyboardInterrupt(f"sweep {names} interrupted; rerun to resume")
        if report.counts["failed"]:
            raise RunsFailedError(report.counts["failed"], report.failures, self.store, what)
        return report


def given_store_path(runner: Any, store_path: str | Path | None) -> Any:
    """The runner of a ``run(config, runner, executor, *, store_path=None)`` call:
    ``store_path=`` is the keyword the older signature ``run(config, store_path,
    executor)`` had, accepted for one release in place of ``runner``."""
    if store_path is None:
        return runner
    if runner is not None:
        from symscape.errors import InvalidOptionError

        raise InvalidOptionError(
            "both a runner and store_path= were given", fix="give the store in the runner"
        )
    return Path(store_path)


def as_runner(runner: Runner | str | Path | None, executor: Any = None) -> Runner:
    """``runner`` as a :class:`Runner`: a store path (the older ``run(config, store_path,
    executor)`` form) becomes ``Runner(store_path, executor or "inprocess")``."""
    if runner is None:
        from symscape.errors import InvalidOptionError

        raise InvalidOptionError(
            "no runner: the trainings need a sweep store",
            fix="pass Runner(store_path, executor), or a store path",
        )
    if isinstance(runner, Runner):
        if executor is not None and executor != runner.executor:
            from symscape.errors import InvalidOptionError

            raise InvalidOptionError(
                "both a Runner and an executor were given", fix="give the executor in the Runner"
            )
        return runner
    return Runner(Path(runner), executor if executor is not None else "inprocess")
