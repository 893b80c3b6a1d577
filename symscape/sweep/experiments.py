"""What a sweep can run: experiments, each a config class and a pure run function.

An :class:`Experiment` names a frozen config dataclass (a
:class:`~symscape.config.JsonConfig`) and ``run(config) -> record``. When the
config has a seed field (a tuple of seeds, trained as one ensemble), runs that
differ only in seed are *packed*: one call of ``run`` with all their seeds, then
``split(record, config)`` gives one record per seed, each what the seed would
have given alone.

A sweep names its experiment either by a registered name (``train``,
``probe``, ``equivariance-point``) or by an import path ``"package.module:attribute"`` to an
:class:`Experiment` object, so that every worker process, Ray worker or SLURM
job can find it by importing.

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
from collections.abc import Callable
from typing import Any

import numpy as np

from symscape.config import JsonConfig
from symscape.errors import InvalidOptionError, UnknownNameError

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ProbeConfig",
    "ProbeError",
    "resolve_experiment",
]

Record = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A run function and its config, as a sweep sees them.

    Parameters
    ----------
    name:
        The name stored with every run.
    config:
        The frozen config dataclass; ``config.from_dict`` validates a run.
    run:
        ``run(config) -> record``: a dict of JSON values and numpy arrays
        (nested dicts allowed). Pure: the same config gives the same record.
    seed_field:
        The config's tuple-of-seeds field, or ``None`` when runs have no seeds.
    split:
        ``split(record, config) -> [record per seed]`` for a packed run; needed
        when ``seed_field`` is set.
    status:
        ``status(record) -> "done" | "diverged"`` of a per-seed record.
    """

    name: str
    config: type[JsonConfig]
    run: Callable[[Any], Record]
    seed_field: str | None = None
    split: Callable[[Record, Any], list[Record]] | None = None
    status: Callable[[Record], str] = lambda record: "done"

    def __post_init__(self):
        if self.seed_field is not None and self.split is None:
            raise InvalidOptionError(
                f"experiment {self.name!r} has a seed field but no split function",
                fix="give split(record, config) -> one record per seed",
            )


# ------------------------------------------------------------------ train
def _train_run(config) -> Record:
    from symscape.train import train

    return train(config)


def _member_rows(steps: np.ndarray, stop: int) -> tuple[np.ndarray, int]:
    """Rows of a packed trajectory that a member stopped at ``stop`` would have recorded.

    Every record strictly before its stop, then the first record at or after
    it: the member is frozen once stopped, so that record is its final state.
    """
    before = np.flatnonzero(steps < stop)
    after = np.flatnonzero(steps >= stop)
    last = int(after[0]) if after.size else len(steps) - 1
    return np.append(before, last), stop


def _train_split(record: Record, config) -> list[Record]:
    """One record per seed of a packed ``train`` record (see :func:`symscape.train.train`)."""
    trajectory = record["trajectory"]
    steps = np.asarray(trajectory["step"])
    E = len(config.seeds)
    out = []
    for i in range(E):
        rows, stop = _member_rows(steps, int(record["stop_step"][i]))
        traj = {}
        for key, value in trajectory.items():
            if key.startswith("ensemble_"):  # of the packed ensemble, not of this seed
                continue
            value = np.asarray(value)
            traj[key] = value[rows, i] if value.ndim >= 2 and value.shape[1] == E else value[rows]
        traj["step"] = traj["step"].copy()
        traj["step"][-1] = stop
        final = {
            key: value[i]
            for key, value in record["final"].items()
            if not key.startswith("ensemble_")
        }
        out.append(
            {
                "outcome": record["status"][i],
                "stop_step": int(record["stop_step"][i]),
                "n_weights": record["n_weights"],
                "n_parameters": record["n_parameters"],
                "P": record["P"],
                "ensemble_evaluations": record["evaluations"],
                "final": final,
                "trajectory": traj,
                "train_output": np.asarray(record["train_output"])[i],
                "test_output": np.asarray(record["test_output"])[i],
                "params": {name: np.asarray(p)[i] for name, p in record["params"].items()},
            }
        )
    return out


def _train_status(record: Record) -> str:
    return "diverged" if record["outcome"] == "diverged" else "done"


def _train_experiment() -> Experiment:
    from symscape.train import TrainConfig

    return Experiment(
        name="train",
        config=TrainConfig,
        run=_train_run,
        seed_field="seeds",
        split=_train_split,
        status=_train_status,
    )


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

    value: float = 0.0
    seeds: tuple[int, ...] = (0,)
    size: int = 4
    sleep: float = 0.0
    fail: bool = False
    diverge: bool = False
    crash: bool = False
    log: str = ""

    def __post_init__(self):
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds:
            raise InvalidOptionError("seeds is empty", fix="give at least one seed")
        if self.size < 0 or self.sleep < 0:
            raise InvalidOptionError("size and sleep must be >= 0", fix="use e.g. size=4")


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
def _equivariance_point() -> Experiment:
    from symscape.experiments.equivariance import point_experiment

    return point_experiment()


EXPERIMENTS: dict[str, Callable[[], Experiment]] = {
    "equivariance-point": _equivariance_point,
    "probe": lambda: PROBE,
    "train": _train_experiment,
}


def resolve_experiment(name: str) -> Experiment:
    """The experiment registered as ``name``, or imported from ``"module:attribute"``."""
    if not isinstance(name, str) or not name:
        raise InvalidOptionError(f"experiment {name!r} is not a name", fix="e.g. 'train'")
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]()
    if ":" not in name:
        raise UnknownNameError(
            f"unknown experiment {name!r}",
            fix=f"use one of {', '.join(sorted(EXPERIMENTS))}, "
            "or an import path 'package.module:attribute'",
        )
    module_name, _, attribute = name.partition(":")
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
