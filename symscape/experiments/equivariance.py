r"""What symmetry buys: learning curves of an equivariant network and of MLP baselines.

On a synthetic point-cloud task with an exact E(3) symmetry
(:func:`symscape.data.pointclouds.point_cloud_task`: a Morse energy, ``0e``,
or a coordination dipole, ``1o``), :func:`run` trains, for each training-set
size P and each seed, the models of
:func:`symscape.train.learning_curves.learning_curves`:

* ``equivariant``: the E(3)-equivariant message-passing network;
* ``mlp``: an MLP on the flattened coordinates;
* ``mlp_augmented``: the same MLP with a random rotation of every training
  cloud at every step.

It reports, per model and P, the test error (test MSE over the variance of
the test targets; 1 = predicting the mean) over seeds (arithmetic mean,
standard deviation, geometric mean, min, max) and the relative equivariance
error under random rotations (float32), and per model the learning-curve
exponent ``β`` of ``ε ∝ P^β``: the least-squares slope of ``ln ε`` against
``ln P`` over every (P, seed) pair (:func:`fit_exponent`), with a 95 %
percentile-bootstrap interval obtained by resampling the seeds with
replacement (a seeded generator: the same record every time). With two or
three seeds the interval is crude; the ``paper`` protocol uses five.

Protocols (:func:`quick_config`, :func:`paper_config`, used by
:func:`equivariance_section`, i.e. ``symscape reproduce``):

* ``quick``: the energy task, clouds of 5 points, P = 16, 32, 64, 128, three seeds,
  200 full-batch Adam steps (lr 0.01, cosine), 128 test clouds; the network
  with 2 layers, multiplicity 8, l_max 2. About 30 s on 2 cores (29 s measured).
* ``paper``: the energy and the dipole tasks, P = 16, 32, ..., 1024, five
  seeds, 2,000 steps, 512 test clouds; the network with 3 layers,
  multiplicity 16, l_max 2. Hours on a CPU.

>>> fit = fit_exponent([10, 100, 1000], [[2.0], [0.2], [0.02]])
>>> round(fit["slope"], 12)
-1.0
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symscape._version import __version__
from symscape.analysis import fit_exponent, geometric_mean
from symscape.config import Interval, Items, JsonConfig, Options, Seeds, declared, param
from symscape.errors import InvalidOptionError
from symscape.experiments._output import cell, ci_text, save_figure, save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments.equivariance_report import describe
from symscape.runnable import Experiment
from symscape.runtime import torch_threads

__all__ = [
    "EquivarianceConfig",
    "LearningPointConfig",
    "describe",
    "equivariance_section",
    "figures",
    "fit_exponent",
    "learning_curve_figure",
    "markdown_section",
    "paper_config",
    "quick_config",
    "run",
    "save_figure",
    "save_results",
    "section",
    "sweep_spec",
]

_TASKS = ("energy", "dipole")
_MODELS = ("equivariant", "mlp", "mlp_augmented")
_ERRORS = ("train_error", "test_error", "rotation_error")
_LABELS = {"equivariant": "equivariant", "mlp": "MLP", "mlp_augmented": "MLP + rotations"}


_TASK = Options(_TASKS, what="task")
_MODEL = Options(_MODELS, what="model")
_SEEDS = Seeds(distinct=True)


@dataclasses.dataclass(frozen=True)
class EquivarianceConfig(JsonConfig):
    """Everything that defines a learning-curve run (defaults: the quick protocol)."""

    task: str = param("energy", "target: a rotation-invariant energy (0e) or a dipole (1o)", _TASK)
    P: tuple[int, ...] = param(
        (16, 32, 64, 128),
        "training-set sizes",
        Items(Interval(int, 1, None), at_least=2, distinct=True, sort=True),
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "initialisations per point", _SEEDS)
    steps: int = param(200, "full-batch Adam steps", Interval(int, 1, None))
    models: tuple[str, ...] = param(
        _MODELS,
        "models: equivariant, mlp, mlp_augmented (random rotations)",
        Items(_MODEL, distinct=True),
    )
    # the equivariant network
    l_max: int = param(2, "highest rotation order of the features", Interval(int, 0, None))
    layers: int = param(2, "equivariant layers", Interval(int, 1, None))
    multiplicity: int = param(8, "channels per rotation order", Interval(int, 1, None))
    # the task and the MLPs
    n_points: int = param(5, "points per cloud", Interval(int, 2, None))
    n_test: int = param(128, "test clouds", Interval(int, 2, None))
    lr: float = param(0.01, "Adam learning rate", Interval(float, 0, None, closed="neither"))
    width: int = param(64, "width of the MLPs", Interval(int, 1, None))
    data_seed: int = param(0, "seed of the clouds and of the task", Interval(int, 0, None))
    # the exponent's interval
    n_bootstrap: int = param(1000, "bootstrap replicates", Interval(int, 0, None))
    bootstrap_seed: int = param(0, "seed of the bootstrap", Interval(int, 0, None))
    threads: int = param(1, "torch threads", Interval(int, 1, None))


def quick_config(**changes: Any) -> EquivarianceConfig:
    """The quick protocol (energy, P = 16..128, three seeds, ~30 s on 2 cores), with changes."""
    return EquivarianceConfig(**changes)


def paper_config(task: str = "energy", **changes: Any) -> EquivarianceConfig:
    """The paper protocol for ``task`` (P = 16..1024, five seeds, 2,000 steps), with changes."""
    settings = dict(
        task=task,
        P=(16, 32, 64, 128, 256, 512, 1024),
        seeds=(0, 1, 2, 3, 4),
        steps=2000,
        layers=3,
        multiplicity=16,
        n_test=512,
    )
    return EquivarianceConfig(**{**settings, **changes})


PROTOCOLS = {
    "quick": {"energy": quick_config()},
    "paper": {task: paper_config(task) for task in _TASKS},
}
"""The protocols: ``quick`` (the energy task, seconds) and ``paper`` (both tasks)."""


# --------------------------------------------------------------------------- run


def _curve(points: Sequence, sizes: Sequence[int], seeds: Sequence[int]) -> list[dict]:
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


def _learning_points(config, sizes, models) -> list:
    from symscape.train.learning_curves import learning_curves

    with torch_threads(config.threads):
        return learning_curves(
            config.task,
            sizes,
            config.seeds,
            models=models,
            n_points=config.n_points,
            n_test=config.n_test,
            steps=config.steps,
            lr=config.lr,
            width=config.width,
            network=dict(
                l_max=config.l_max, layers=config.layers, multiplicity=config.multiplicity
            ),
            data_seed=config.data_seed,
        )


# one learning-curve point (one P, one model, its seeds as one ensemble) as a sweep run


def _as_in_curve(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A field declared as :class:`EquivarianceConfig` declares it (another default if given)."""
    field = next(f for f in dataclasses.fields(EquivarianceConfig) if f.name == name)
    declaration = declared(field)
    default = field.default if default is dataclasses.MISSING else default
    return param(default, declaration.help, declaration.constraint)


@dataclasses.dataclass(frozen=True)
class LearningPointConfig(JsonConfig):
    """One point of a learning curve: ``model`` trained on the first ``P`` clouds, per seed.

    The fields mean what they mean in :class:`EquivarianceConfig`; a sweep over
    P × model of these is the experiment run through the store.
    """

    P: int = param(16, "training-set size", Interval(int, 1, None))
    model: str = param("equivariant", "the model trained", _MODEL)
    task: str = _as_in_curve("task")
    seeds: tuple[int, ...] = _as_in_curve("seeds", (0,))
    steps: int = _as_in_curve("steps")
    l_max: int = _as_in_curve("l_max")
    layers: int = _as_in_curve("layers")
    multiplicity: int = _as_in_curve("multiplicity")
    n_points: int = _as_in_curve("n_points")
    n_test: int = _as_in_curve("n_test")
    lr: float = _as_in_curve("lr")
    width: int = _as_in_curve("width")
    data_seed: int = _as_in_curve("data_seed")
    threads: int = _as_in_curve("threads")


# the fields a point shares with its EquivarianceConfig (all but P and model)
_POINT_FIELDS = tuple(
    f.name for f in dataclasses.fields(LearningPointConfig) if f.name not in ("P", "model")
)


def _point_run(config: LearningPointConfig) -> dict[str, Any]:
    points = _learning_points(config, [config.P], [config.model])
    return {
        name: np.array([getattr(q, name) for q in points])
        for name in ("train_error", "test_error", "rotation_error")
    }


def _point_split(record: Mapping[str, Any], config: LearningPointConfig) -> list[dict[str, Any]]:
    return [
        {name: float(values[i]) for name, values in record.items()}
        for i in range(len(config.seeds))
    ]


def _point_status(record: Mapping[str, Any]) -> str:
    return "done" if math.isfinite(record["test_error"]) else "diverged"


# the sweep's view of one learning-curve point (registered as ``equivariance-point``)
POINT_EXPERIMENT = Experiment(
    name="equivariance-point",
    config=LearningPointConfig,
    run=_point_run,
    seed_field="seeds",
    split=_point_split,
    status=_point_status,
)


def point_experiment() -> Experiment:
    """The sweep's view of one learning-curve point (:data:`POINT_EXPERIMENT`)."""
    return POINT_EXPERIMENT


def sweep_spec(config: EquivarianceConfig):
    """The sweep of ``config``: P × model, each point's seeds packed into one ensemble."""
    from symscape.sweep import SweepSpec

    fixed = {name: getattr(config, name) for name in _POINT_FIELDS if name != "seeds"}
    grid = {"P": list(config.P), "model": list(config.models)}
    return SweepSpec(
        "equivariance-point", f"equivariance-{config.task}", fixed, grid, (), config.seeds
    )


def run(
    config: EquivarianceConfig, store_path: str | Path | None = None, executor: str = "inprocess"
) -> dict[str, Any]:
    """Train every model at every P and seed of ``config``; returns a JSON-able record.

    With ``store_path``, every (P, model) runs through the sweep store there
    (``executor`` decides where), so that a rerun resumes and reads back what
    is done; the record is the same either way.
    """
    from symscape.train.learning_curves import LearningPoint

    if not isinstance(config, EquivarianceConfig):
        raise InvalidOptionError(
            f"config is a {type(config).__name__}", fix="pass an EquivarianceConfig"
        )
    started = time.perf_counter()
    if store_path is None:
        points = _learning_points(config, config.P, config.models)
    else:
        from symscape.experiments._sweeps import complete
        from symscape.sweep import Store

        spec = sweep_spec(config)
        complete(spec, store_path, executor)
        runs = spec.runs()
        with Store(Path(store_path), create=False) as store:
            rows = store.get([r.key for r in runs])
        by_point = {
            (r.config["P"], r.config["model"], r.seed): row
            for r, row in zip(runs, rows, strict=True)
        }
        points = [
            LearningPoint(
                config.task,
                model,
                P,
                seed,
                *(by_point[(P, model, seed)]["scalars"][name] for name in _ERRORS),
            )
            for P in config.P
            for model in config.models
            for seed in config.seeds
        ]
    curves, exponents, rotation = {}, {}, {}
    for name in config.models:
        mine = [q for q in points if q.model == name]
        curves[name] = _curve(mine, config.P, config.seeds)
        table = [[q.test_error for q in mine if q.P == P] for P in config.P]
        exponents[name] = fit_exponent(
            config.P, table, n_bootstrap=config.n_bootstrap, seed=config.bootstrap_seed
        )
        rotation[name] = max(q.rotation_error for q in mine)
    record = {
        "experiment": "equivariance",
        "version": __version__,
        "config": config.to_dict(),
        "points": [q.as_dict() for q in points],
        "curves": curves,
        "exponents": exponents,
        "rotation_error": rotation,
        "timing": {"total_s": round(time.perf_counter() - started, 2)},  # kept for readers
    }
    return stamp(record, "equivariance", config, started)


# --------------------------------------------------------------------------- figures


def _interval(fit: Mapping[str, Any]) -> str:
    return f"{fit['slope']:.2f}{ci_text(fit)}"


def learning_curve_figure(record: Mapping[str, Any]):
    """Test error against P (log-log), one line per model, geometric mean and min–max bars.

    The legend gives each model's fitted exponent β (ε ∝ P^β) and its 95 %
    bootstrap interval; the dotted lines are the fits.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    colours = {"equivariant": "C0", "mlp": "C3", "mlp_augmented": "C1"}
    for name, rows in record["curves"].items():
        P = np.array([r["P"] for r in rows], dtype=float)
        middle = np.array([r["test_error_geomean"] for r in rows])
        low = middle - np.array([r["test_error_min"] for r in rows])
        high = np.array([r["test_error_max"] for r in rows]) - middle
        fit = record["exponents"][name]
        colour = colours.get(name)
        ax.errorbar(
            P,
            middle,
            yerr=[low, high],
            color=colour,
            marker="o",
            capsize=3,
            label=f"{_LABELS.get(name, name)}: β = {_interval(fit)}",
        )
        ax.plot(P, np.exp(fit["intercept"]) * P ** fit["slope"], ":", color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P")
    ax.set_ylabel("test error (MSE / variance)")
    task = record["config"]["task"]
    ax.set_title(f"{task}: learning curves, ε ∝ P^β", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """``{task: Figure}``: the :func:`learning_curve_figure` of one task's record (saved as
    ``equivariance_TASK``). Pure: no file is written and no pyplot figure opened."""
    return {record["config"]["task"]: learning_curve_figure(record)}


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function


# --------------------------------------------------------------------------- outputs


def _rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    task = record["config"]["task"]
    rows = []
    for name, curve in record["curves"].items():
        fit = record["exponents"][name]
        rows.append(
            {
                "task": task,
                "model": name,
                "P": [r["P"] for r in curve],
                "test_error": [r["test_error_mean"] for r in curve],
                "test_error_std": [r["test_error_std"] for r in curve],
                "exponent": fit["slope"],
                "exponent_ci": [fit["ci_low"], fit["ci_high"]],
                "rotation_error": record["rotation_error"][name],
            }
        )
    return rows


def save_results(
    records: Sequence[Mapping[str, Any]], out: str | Path, figures: str | Path | None = None
) -> dict[str, Any]:
    """Write ``equivariance.json`` (every record) under ``out`` and one figure per task.

    ``figures`` defaults to ``out``. Returns a short summary (one row per
    task and model, paths relative to ``out``).
    """
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "equivariance.json"
    document = {"experiment": "equivariance", "version": __version__, "records": list(records)}
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    written = []
    for record in records:
        written += save_figures(_draw(record), figures, "equivariance")

    def relative(p: Path) -> str:
        try:
            return str(p.relative_to(out))
        except ValueError:
            return str(p)

    return {
        "rows": [row for record in records for row in _rows(record)],
        "configs": [record["config"] for record in records],
        "record": relative(path),
        "figures": [relative(p) for p in written],
        "wall_time_s": round(sum(r["timing"]["total_s"] for r in records), 2),
    }


def equivariance_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the ``quick`` or ``paper`` protocol; write its record and figures (for reproduce).

    ``quick`` is the energy task alone (seconds); ``paper`` both tasks.
    ``root`` is accepted for the signature of the other sections and unused
    (the data are generated). The runs go to the sweep store ``store``
    (default ``out/symscape.db``) on ``executor`` (default ``pool``). The
    equivariant networks run on the CPU whatever ``device`` is (the GPU path
    of e3nn's kernels is not wired here yet).
    """
    del device
    configs = list(protocol_cases(PROTOCOLS, scale, "equivariance", root).values())
    started = time.perf_counter()
    from symscape.experiments._sweeps import section_store

    store = section_store(out, store)
    records = [run(config, store, executor=executor or "pool") for config in configs]
    summary = save_results(records, out, figures)
    summary["scale"] = scale
    summary["wall_time_s"] = round(time.perf_counter() - started, 2)
    return summary


section = equivariance_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(summary: Mapping[str, Any]) -> str:
    """The summary of :func:`save_results` as a Markdown section (for ``summary.md``)."""
    lines = [
        "## What symmetry buys: learning curves",
        "",
        f"Test error (MSE / test variance, mean ± std over seeds) against P; exponent β of "
        f"ε ∝ P^β with a 95 % bootstrap interval over seeds; largest relative rotation-"
        f"equivariance error, float32 ({summary['wall_time_s']} s; record "
        f"[{summary['record']}]({summary['record']})).",
        "",
        "| task | model | test error at P | β [95 %] | rotation error |",
        "|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        errors = ", ".join(
            f"{P}: {cell(m)} ± {cell(s, 2)}"
            for P, m, s in zip(row["P"], row["test_error"], row["test_error_std"], strict=True)
        )
        low, high = row["exponent_ci"]
        beta = f"{row['exponent']:.2f}"
        if low is not None:
            beta += f" [{low:.2f}, {high:.2f}]"
        lines.append(
            f"| {row['task']} | {row['model']} | {errors} | {beta} | {row['rotation_error']:.2g} |"
        )
    lines += [
        "",
        "Figures: "
        + ", ".join(f"[{Path(p).name}]({p})" for p in summary["figures"] if p.endswith(".png")),
    ]
    return "\n".join(lines) + "\n"
