"""What a worker does with a unit: run it, split it per seed, serialise each run.

These functions run wherever the executor puts them (this process, a pool
worker, a Ray worker, a SLURM job); they import the experiment by name, so
they need nothing from the driver but the unit itself.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from symscape.sweep.experiments import resolve_experiment
from symscape.sweep.records import Outcome, dump_npz, flatten, write_outcome_file
from symscape.sweep.spec import Unit

__all__ = ["execute_unit", "execute_units_to_folder"]


def execute_unit(unit: Unit) -> list[Outcome]:
    """Run ``unit``; one :class:`Outcome` per run, ``failed`` with the traceback if it raised."""
    started = time.time()
    try:
        experiment = resolve_experiment(unit.experiment)
        config = experiment.config.from_dict(unit.config)
        record = experiment.run(config)
        records = experiment.split(record, config) if experiment.seed_field else [record]
        if len(records) != len(unit.keys):
            raise RuntimeError(
                f"experiment {experiment.name} split a run of {len(unit.keys)} seeds into "
                f"{len(records)} records"
            )
        finished = time.time()
        outcomes = []
        for key, item in zip(unit.keys, records, strict=True):
            scalars, arrays = flatten(item)
            outcomes.append(
                Outcome(
                    key=key,
                    status=experiment.status(item),
                    scalars=scalars,
                    arrays=dump_npz(arrays),
                    started=started,
                    finished=finished,
                    packed=len(unit),
                )
            )
        return outcomes
    except Exception:
        error = traceback.format_exc()
        finished = time.time()
        return [
            Outcome(
                key, "failed", error=error, started=started, finished=finished, packed=len(unit)
            )
            for key in unit.keys
        ]


def execute_units_to_folder(units: list[Unit], folder: str, threads: int = 1) -> int:
    """Run ``units`` and write each outcome into ``folder`` as its own file (SLURM jobs)."""
    import torch

    torch.set_num_threads(threads)
    count = 0
    for unit in units:
        for outcome in execute_unit(unit):
            write_outcome_file(outcome, Path(folder))
            count += 1
    return count
