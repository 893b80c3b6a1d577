"""The ``train`` experiment: one :class:`~symscape.train.TrainConfig` run, as a sweep sees it.

A sweep packs the runs that differ only in seed into one call of
:func:`symscape.train.train` (the seeds trained as one ensemble);
:func:`split` cuts that packed record into one record per seed, each what the
seed would have given alone. The sweep layer finds this declaration by its
import path ``"symscape.train.experiment:TRAIN"`` (registered as ``train``).

>>> TRAIN.name, TRAIN.config.__name__, TRAIN.seed_field
('train', 'TrainConfig', 'seeds')
"""

from __future__ import annotations

import numpy as np

from symscape.runnable import Experiment, Record
from symscape.train.config import TrainConfig, train

__all__ = ["TRAIN", "split", "status"]


def _member_rows(steps: np.ndarray, stop: int) -> tuple[np.ndarray, int]:
    """Rows of a packed trajectory that a member stopped at ``stop`` would have recorded.

    Every record strictly before its stop, then the first record at or after
    it: the member is frozen once stopped, so that record is its final state.
    """
    before = np.flatnonzero(steps < stop)
    after = np.flatnonzero(steps >= stop)
    last = int(after[0]) if after.size else len(steps) - 1
    return np.append(before, last), stop


def split(record: Record, config: TrainConfig) -> list[Record]:
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


def status(record: Record) -> str:
    """``"diverged"`` for a seed that diverged, else ``"done"``."""
    return "diverged" if record["outcome"] == "diverged" else "done"


TRAIN = Experiment(
    name="train",
    config=TrainConfig,
    run=train,
    seed_field="seeds",
    split=split,
    status=status,
)
