"""What a sweep can run: experiments, each a config class and a pure run function.

An :class:`Experiment` names a frozen config dataclass (a
:class:`~symscape.config.JsonConfig`) and ``run(config) -> record``. When the
config has a seed field (a tuple of seeds, trained as one ensemble), runs that
differ only in seed are *packed*: one call of ``run`` with all their seeds, then
``split(record, config)`` gives one record per seed, each what the seed would
have given alone.

A sweep names its experiment either by a registered name (``train``,
``probe``, ``equivariance-point``, ``stability-network``) or by an import path
``"package.module:attribute"`` to an :class:`Experiment` object, so that every
worker process, Ray worker or SLURM job can find it by importing. A registered
name is itself an import path (:data:`EXPERIMENTS`), resolved at call time: this
layer knows the :class:`Experiment` interface (:mod:`symscape.runnable`), not
the experiments.

>>> from symscape.sweep.experiments import resolve_experiment
>>> resolve_experiment("train").config.__name__
'TrainConfig'
>>> resolve_experiment("nonsense")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symscape.errors.UnknownNameError: unknown experiment 'nonsense'; use one of equivariance-point, ...
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import signal
import time

import numpy as np

from symscape.config import Flag, Interval, JsonConfig, Seeds, Text, param
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.runnable import Experiment, Record

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ProbeConfig",
    "ProbeError",
    "resolve_experiment",
]


# ------------------------------------------------------------------ probe
class ProbeError(RuntimeError):
    """Raised by the ``probe`` experiment when asked to fail."""


@dataclasses.dataclass(frozen=True)
class ProbeConfig(JsonConfig):
    """A run that costs nothing: checks a sweep set-up (cluster, store) end to end.

    Each seed s gives ``value * (s + 1)`` and an array of ``size`` numbers
    drawn from a generator seeded with ``(s, round(value * 1000))``; ``sleep``
    seconds of waiting per call; ``fail`` raises :class:`ProbeError`;
    ``diverge`` marks the record as diverged; ``crash`` kills the process that
    runs it (as running out of memory would); ``log`` appends one line per
    call to that file (to count executions).
    """

    value: float = param(0.0, "the number each seed multiplies", Interval(float, None, None))
    seeds: tuple[int, ...] = param((0,), "seeds, one record each", Seeds())
    size: int = param(4, "numbers in the record's array", Interval(int, 0, None))
    sleep: float = param(0.0, "seconds of waiting per call", Interval(float, 0, None))
    fail: bool = param(False, "raise ProbeError", Flag())
    diverge: bool = param(False, "mark the record as diverged", Flag())
    crash: bool = param(False, "kill the process that runs it", Flag())
    log: str = param("", "a file that gets one line per call ('' for none)", Text("a path"))


def _probe_run(config: ProbeConfig) -> Record:
    if config.log:
        with open(config.log, "a") as log:
            log.write(f"{os.getpid()} {config.value} {list(config.seeds)}\n")
    if config.sleep:
        time.sleep(config.sleep)
    if config.crash:
        os.kill(os.getpid(), signal.SIGKILL)
    if config.fail:
        raise ProbeError(f"probe asked to fail (value={config.value})")
    draws = [
        np.random.default_rng([s, round(config.value * 1000) % 2**32]).standard_normal(config.size)
        for s in config.seeds
    ]
    return {
        "result": [config.value * (s + 1) for s in config.seeds],
        "draws": np.stack(draws),
        "diverged": config.diverge,
        "pid": os.getpid(),
    }


def _probe_split(record: Record, config: ProbeConfig) -> list[Record]:
    return [
        {"result": record["result"][i], "draws": record["draws"][i], "diverged": record["diverged"]}
        for i in range(len(config.seeds))
    ]


PROBE = Experiment(
    name="probe",
    config=ProbeConfig,
    run=_probe_run,
    seed_field="seeds",
    split=_probe_split,
    status=lambda record: "diverged" if record["diverged"] else "done",
)


# ------------------------------------------------------------------ registry
# name -> "module:attribute" of its declaration, imported when a run needs it: the sweep
# layer imports no experiment (each lives in the layer that owns its run)
EXPERIMENTS: dict[str, str] = {
    "equivariance-point": "symscape.experiments.equivariance:POINT_EXPERIMENT",
    "probe": "symscape.sweep.experiments:PROBE",
    "stability-network": "symscape.experiments.stability:NETWORK_EXPERIMENT",
    "train": "symscape.train.experiment:TRAIN",
}


def resolve_experiment(name: str) -> Experiment:
    """The experiment registered as ``name``, or imported from ``"module:attribute"``."""
    if not isinstance(name, str) or not name:
        raise InvalidOptionError(f"experiment {name!r} is not a name", fix="e.g. 'train'")
    if ":" not in name and name not in EXPERIMENTS:
        raise UnknownNameError(
            f"unknown experiment {name!r}",
            fix=f"use one of {', '.join(sorted(EXPERIMENTS))}, "
            "or an import path 'package.module:attribute'",
        )
    module_name, _, attribute = EXPERIMENTS.get(name, name).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UnknownNameError(
            f"experiment {name!r}: cannot import {module_name!r} ({err})",
            fix="install the package that defines it, or fix the import path",
        ) from None
    experiment = getattr(module, attribute, None)
    if callable(experiment) and not isinstance(experiment, Experiment):
        experiment = experiment()
    if not isinstance(experiment, Experiment):
        raise UnknownNameError(
            f"experiment {name!r}: {attribute!r} in {module_name} is not a "
            "symscape.sweep.Experiment",
            fix="point at an Experiment object or a function returning one",
        )
    return experiment
