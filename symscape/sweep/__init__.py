"""Sweeps: grids of runs from a TOML spec, a crash-safe SQLite store, and executors.

>>> from symscape.sweep import parse_spec
>>> spec = parse_spec('experiment = "probe"\\nseeds = "0-3"\\n[grid]\\nvalue = [1.0, 2.0]')
>>> [len(unit) for unit in spec.units(spec.runs())]
[4, 4]

See :mod:`symscape.sweep.spec` for the spec format, :mod:`symscape.sweep.store`
for the store, :mod:`symscape.sweep.executors` for where runs execute and
:func:`symscape.sweep.run_sweep` for the driver. ``symscape.results.load``
reads a store back as a pandas DataFrame.
"""

from symscape.sweep.driver import SweepReport, run_sweep, sweep_folder
from symscape.sweep.executors import EXECUTORS, Executor, make_executor
from symscape.sweep.experiments import EXPERIMENTS, Experiment, ProbeConfig, resolve_experiment
from symscape.sweep.records import Outcome
from symscape.sweep.runner import Runner, as_runner
from symscape.sweep.spec import Run, SpecError, SweepSpec, Unit, load_spec, parse_spec, run_key
from symscape.sweep.store import Store, StoreBusyError

__all__ = [
    "EXECUTORS",
    "EXPERIMENTS",
    "Executor",
    "Experiment",
    "Outcome",
    "ProbeConfig",
    "Run",
    "Runner",
    "SpecError",
    "Store",
    "StoreBusyError",
    "SweepReport",
    "SweepSpec",
    "Unit",
    "as_runner",
    "load_spec",
    "make_executor",
    "parse_spec",
    "resolve_experiment",
    "run_key",
    "run_sweep",
    "sweep_folder",
]
