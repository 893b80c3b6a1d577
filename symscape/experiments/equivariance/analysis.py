"""The learning curves of a set of learning points: per model and P, the test error over
seeds; per model, the exponent β of ε ∝ P^β with its bootstrap interval
(:func:`symscape.analysis.fit_exponent`) and the largest rotation error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symscape.analysis import fit_exponent, geometric_mean

__all__ = ["analyse", "curve"]


def curve(points: Sequence, sizes: Sequence[int], seeds: Sequence[int]) -> list[dict]:
    """One model's rows, one per P in ``sizes``: the test error over ``seeds`` (mean, standard
    deviation with ddof 1, geometric mean, min, max), the mean train error and the mean and
    largest rotation error."""
    rows = []
    for P in sizes:
        mine = {q.seed: q for q in points if q.P == P}
        test = np.array([mine[s].test_error for s in seeds])
        rotation = np.array([mine[s].rotation_error for s in seeds])
        rows.append(
            {
                "P": P,
                "test_error_mean": float(test.mean()),
                "test_error_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0,
                "test_error_geomean": geometric_mean(test),
                "test_error_min": float(test.min()),
                "test_error_max": float(test.max()),
                "train_error_mean": float(np.mean([mine[s].train_error for s in seeds])),
                "rotation_error_mean": float(rotation.mean()),
                "rotation_error_max": float(rotation.max()),
            }
        )
    return rows


def analyse(config, points: Sequence) -> dict[str, Any]:
    """``{"curves", "exponents", "rotation_error"}`` of ``points`` (every P, model and seed of
    ``config``), each keyed by model in ``config.models``' order."""
    curves, exponents, rotation = {}, {}, {}
    for name in config.models:
        mine = [q for q in points if q.model == name]
        curves[name] = curve(mine, config.P, config.seeds)
        table = [[q.test_error for q in mine if q.P == P] for P in config.P]
        exponents[name] = fit_exponent(
            config.P, table, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed
        )
        rotation[name] = max(q.rotation_error for q in mine)
    return {"curves": curves, "exponents": exponents, "rotation_error": rotation}
