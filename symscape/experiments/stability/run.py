"""The stability run: every network through the store, then the record.

:func:`run` hands the zoo's sweep (:func:`~symscape.experiments.stability.zoo.sweep_spec`)
to a :class:`~symscape.sweep.runner.Runner`, reads back one entry per
network, and combines them (:mod:`~symscape.experiments.stability.analysis`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.diffeo import temperature_range, typical_displacement
from symscape.errors import InvalidOptionError
from symscape.experiments._record import stamp
from symscape.experiments.stability.analysis import (
    REPORTED_LAW,
    _correlation,
    _summarise,
    correlation,
    family_changes,
    fit_power_law,
    prefactor_at,
)
from symscape.experiments.stability.config import StabilityConfig
from symscape.experiments.stability.network import _load_data, _reference, _scales
from symscape.experiments.stability.zoo import sweep_spec
from symscape.runtime import torch_threads
from symscape.sweep.runner import Runner, as_runner, given_store_path

__all__ = ["run"]


def _trained_networks(config: StabilityConfig, runner: Runner) -> list[dict[str, Any]]:
    """The entry and ``seconds`` of every network, through ``runner``'s store (in run order)."""
    from symscape.sweep import Store

    spec = sweep_spec(config)
    keys = [run.key for run in spec.runs()]
    runner.complete(spec, "of the stability zoo")
    with Store(runner.store, create=False) as store:
        return [row["scalars"] for row in store.get(keys)]


def run(
    config: StabilityConfig,
    runner: Runner | str | Path | None = None,
    executor: Any = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Train (or load) and measure every architecture and seed; returns a JSON-able record.

    Each network is one run of ``runner``'s sweep store on its executor (a
    :class:`~symscape.sweep.runner.Runner`; a store path and ``executor``, a
    name or an :class:`~symscape.sweep.executors.ExecutorChoice`, the older
    form; a temporary store when ``None``): a rerun into the same store
    trains only the networks it does not hold yet.
    ``record["runs"]`` holds one entry per network (architecture and seed):
    test error and D_f, G_f, R_f (with bootstrap intervals) at every δ, at
    initialisation and after training, and R_f per stage at the reference δ.
    ``record["summary"]`` combines the seeds (geometric means; arithmetic
    mean of the test error); ``record["fit"]`` is :func:`fit_power_law`
    across architectures. The header (:func:`~symscape.experiments._record.stamp`)
    closes the record. Everything but ``record["timing"]`` and the header's
    ``host`` and ``wall_time_s`` is the same for the same config on a CPU,
    whatever the executor.
    """
    runner = given_store_path(runner, store_path)
    if not isinstance(config, StabilityConfig):
        raise InvalidOptionError(
            f"run needs a StabilityConfig, got {type(config).__name__}",
            fix="build one with StabilityConfig(...) or quick_config()",
        )
    if runner is None:
        with tempfile.TemporaryDirectory(prefix="symscape-stability-") as folder:
            return run(config, Path(folder) / "stability.db", executor)
    runner = as_runner(runner, executor)
    started = time.perf_counter()
    with torch_threads(config.threads):
        data = _load_data(config)
        size = tuple(data.x_test.shape[-2:])
        temps, deltas = _scales(config, size)
        reference = _reference(deltas)
    runs = _trained_networks(config, runner)
    times = {f"{r['architecture']} seed {r['seed']}": round(r.pop("seconds"), 2) for r in runs}
    summary = [_summarise(runs, spec, reference) for spec in config.architectures]
    errors = [s["test_error"] for s in summary]
    try:
        fit = fit_power_law(errors, [s["R_trained"] for s in summary])
    except InvalidOptionError as err:
        fit = {"a": None, "b": None, "reason": str(err)}
    t_min, t_max = temperature_range(size, config.c)
    record = {
        "experiment": "stability",
        "symscape_version": __version__,
        "config": config.to_dict(),
        "data": {
            "options": data.options,
            "P": len(data.x_train),
            "n_test": len(data.x_test),
            "input_shape": list(data.x_train.shape[1:]),
            "num_classes": data.num_classes,
            "normalization": {"mean": data.mean, "std": data.std},
        },
        "temperatures": temps,
        "deltas": deltas,
        "reference": {"index": reference, "delta": deltas[reference], "T": temps[reference]},
        "temperature_range": {
            "T_min": t_min,
            "T_max": t_max,
            "delta_T_min": typical_displacement(t_min, config.c, size),
            "delta_T_max": typical_displacement(t_max, config.c, size),
        },
        "runs": runs,
        "summary": summary,
        "fit": fit,
        "prefactor_at_reported_b": prefactor_at(
            errors, [s["R_trained"] for s in summary], REPORTED_LAW["b"]
        ),
        "families": family_changes(summary),
        "correlation_with_log_error": {
            "log_R": _correlation([s["R_trained"] for s in summary], errors),
            "log_D": _correlation([s["D_trained"] for s in summary], errors),
        },
        "correlations": {
            "log_R": correlation([s["R_trained"] for s in summary], errors),
            "log_D": correlation([s["D_trained"] for s in summary], errors),
        },
        "reported": {
            **REPORTED_LAW,
            "law": "test error ≈ 0.2 √R_f",
            "source": "Petrini, Favero, Geiger, Wyart 2021: 15 architectures on CIFAR10",
        },
        "timing": {"total_s": round(time.perf_counter() - started, 2), "networks_s": times},
    }
    return stamp(record, "stability", config, started)
