"""Training the feature-vs-lazy grid through a runner, and reading it back for the analysis.

:func:`run` hands the network sweep (width × α × seeds) and the frozen-kernel
flows to ``runner.complete`` (the store and its executor), locates the
jamming line with the jamming experiment's bisection, and analyses what the
store holds (:func:`~symscape.experiments.feature_lazy.analysis.analyse`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from symscape.errors import InvalidOptionError
from symscape.experiments._record import stamp
from symscape.experiments.feature_lazy.analysis import _ensemble_error, analyse
from symscape.experiments.feature_lazy.config import FeatureLazyConfig
from symscape.sweep.runner import Runner, as_runner, given_store_path
from symscape.train.losses import error_rate

__all__ = ["run"]


def _lazy_references(config, store, runs, ds) -> list[dict[str, Any]]:
    """Per width: the frozen-kernel flow (from the store) and kernel regression at init."""
    import torch

    from symscape.measure import kernel_regression, ntk

    y_test = ds.y_test.cpu().numpy()
    out = []
    for width in config.widths:
        keys = [r.key for r in runs if r.config["width"] == width]
        flows = np.stack([store.arrays(k)["test_output"] for k in keys])
        flow_rows = store.get(keys)
        tc = config.train_config(width, 1.0)
        arch = tc.architecture(ds.input_shape, 1 if ds.binary else ds.num_classes)
        params0 = arch.initialize(config.seeds, dtype=config.dtype, device=config.device)
        with torch.no_grad():
            try:  # min-norm interpolation: needs at least as many weights as points
                pred = kernel_regression(
                    ntk(arch, params0, ds.x_train),
                    ntk(arch, params0, ds.x_test, ds.x_train),
                    ds.y_train,
                )
            except InvalidOptionError:
                pred = None
        out.append(
            {
                "width": width,
                "kernel_flow_error": float(np.mean([error_rate(f, y_test) for f in flows])),
                "kernel_flow_ensemble_error": _ensemble_error(flows, y_test),
                "kernel_flow_fitted": float(
                    np.mean([row["scalars"]["outcome"] == "fitted" for row in flow_rows])
                ),
                "kernel_regression_error": None
                if pred is None
                else float(np.mean([error_rate(f, y_test) for f in pred.cpu().numpy()])),
            }
        )
    return out


def _jamming_line(config: FeatureLazyConfig, runner: Runner) -> dict[str, Any]:
    """Where the networks of this task stop fitting all P points: the jamming minimiser's
    bisection in width (:func:`symscape.experiments.jamming.find_transition`), through
    ``runner``'s store and executor."""
    from symscape.experiments.jamming import JammingConfig, find_transition

    P = int(config.data["P"])
    jam = JammingConfig(
        dataset=config.dataset,
        data={k: v for k, v in config.data.items() if k != "P"},
        P_values=(P,),
        arch=config.arch,
        depth=config.depth,
        activation=config.activation,
        seeds=config.seeds,
        width_min=1.0,
        width_max=max(config.widths[-1], 2.0),
        bisections=4,
        max_steps=config.max_steps,
        dtype=config.dtype,
        device=config.device,
    )
    search = find_transition(jam, P, runner.store, runner.executor)
    out = {k: search[k] for k in ("P", "N_star", "bracket", "outside")}
    bracket = search.get("width_bracket")
    out["width_bracket"] = bracket
    out["h_star"] = math.sqrt(bracket[0] * bracket[1]) if bracket else None
    return out


def run(
    config: FeatureLazyConfig,
    runner: Runner | str | Path | None = None,
    executor: Any = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Train the grid through ``runner`` (resuming from its store) and analyse the stored
    outputs; the record (:func:`~symscape.experiments.feature_lazy.analysis.analyse`,
    stamped with the header).

    ``runner`` is a :class:`~symscape.sweep.runner.Runner`; the older form
    ``run(config, store_path, executor="inprocess")`` still works
    (:func:`~symscape.sweep.runner.as_runner`).
    """
    runner = given_store_path(runner, store_path)
    from symscape.data import load
    from symscape.sweep import Store

    started = time.perf_counter()
    runner = as_runner(runner, executor)
    specs = config.specs()
    for spec in specs:
        runner.complete(spec)
    network_runs = specs[0].runs()
    rows: dict[tuple[float, float], list] = {}
    outputs: dict[tuple[float, float], np.ndarray] = {}
    ds = load(config.dataset, **config.data, dtype=config.dtype, device=config.device)
    with Store(runner.store, create=False) as store:
        for width in config.widths:
            for alpha in config.alphas:
                keys = [
                    r.key
                    for r in network_runs
                    if r.config["width"] == width and r.config["alpha"] == alpha
                ]
                rows[(width, alpha)] = store.get(keys)
                outputs[(width, alpha)] = np.stack([store.arrays(k)["test_output"] for k in keys])
        lazy = _lazy_references(config, store, specs[1].runs(), ds) if len(specs) > 1 else None
    jamming = _jamming_line(config, runner) if config.jamming else None
    record = analyse(config, rows, outputs, ds.y_test.cpu().numpy(), lazy, jamming)
    stamp(record, "feature_lazy", config, started)
    return record
