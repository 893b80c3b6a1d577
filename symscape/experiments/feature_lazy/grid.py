"""Training the feature-vs-lazy grid through a runner, and reading it back for the analysis.

:func:`run` hands the network sweep (width × α × seeds) and the frozen-kernel
flows to ``runner.complete`` (the store and its executor) and analyses what
the store holds (:func:`~symscape.experiments.feature_lazy.analysis.analyse`; the
jamming line at each α is read from the same cells).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from symscape.errors import InvalidOptionError
from symscape.experiments._record import stamp
from symscape.experiments.feature_lazy.analysis import _ensemble_error, analyse
from symscape.experiments.feature_lazy.cells import fractions
from symscape.experiments.feature_lazy.config import FeatureLazyConfig
from symscape.sweep.runner import Runner, as_runner, given_store_path
from symscape.train.losses import error_rate

__all__ = ["run"]


def _lazy_references(config, store, runs, ds) -> tuple[list[dict[str, Any]], dict]:
    """Per width: the frozen-kernel flow (from the store) and kernel regression at init;
    and the frozen-kernel flows' test outputs ``{width: [E, n_test, k]}``."""
    import torch

    from symscape.measure import kernel_regression, ntk

    y_test = ds.y_test.cpu().numpy()
    out, outputs = [], {}
    for width in config.widths:
        keys = [r.key for r in runs if r.config["width"] == width]
        flows = np.stack([store.arrays(k)["test_output"] for k in keys])
        outputs[width] = flows
        share = fractions([row["scalars"]["outcome"] for row in store.get(keys)])
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
                "per_seed_error": [error_rate(f, y_test) for f in flows],
                "kernel_flow_ensemble_error": _ensemble_error(flows, y_test),
                "kernel_flow_fitted": share["fitted"],
                "kernel_flow_undecided": share["undecided"],
                "kernel_regression_error": None
                if pred is None
                else float(np.mean([error_rate(f, y_test) for f in pred.cpu().numpy()])),
            }
        )
    return out, outputs


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
    runner.complete(specs)  # one queue: the workers train the networks and kernels side by side
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
        lazy, lazy_outputs = (
            _lazy_references(config, store, specs[1].runs(), ds) if len(specs) > 1 else (None, None)
        )
    record = analyse(config, rows, outputs, ds.y_test.cpu().numpy(), lazy, lazy_outputs)
    stamp(record, "feature_lazy", config, started)
    return record
