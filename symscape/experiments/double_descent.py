"""Double descent: test error against N through N*, single networks and the ensemble average.

SCIENCE.md §2. At fixed P, networks of several widths are trained to their
end point (``dynamics="lbfgs"``), E seeds per width as one ensemble, through
the sweep store. From the stored per-seed test outputs:

* ε_N, the test error of each network (mean and spread over seeds);
* ε̄_N, the test error of the ensemble-averaged predictor f̄_N = mean_i f_N,i;
* the fluctuation ‖f_N − f̄_N‖ (root mean square over test points, averaged
  over seeds) — reported ~ N^−1/4 beyond N*;
* ε_N − ε̄_N, the part of the error the ensemble average removes — reported
  ~ N^−1/2 (``ε_N − ε_∞``, with ε̄ standing in for ε_∞);
* N*, the smallest width tried where at least half of the seeds fit.

The two exponents are fitted on the widths with N ≥ ``fit_from`` · N*
(least squares in log–log; the 95 % interval resamples the members and
recomputes the ensemble average, so it reflects the seeds' scatter).

>>> DoubleDescentConfig(widths=(2.0, 8.0), seeds=(0, 1)).train_config().dynamics
'lbfgs'
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, fit_line
from symscape.config import Interval, Items, JsonConfig, Seeds, Table, param
from symscape.experiments._output import save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import section_store
from symscape.experiments.double_descent_report import describe, markdown_section
from symscape.sweep.runner import Runner, as_runner, given_store_path
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE
from symscape.train.losses import error_rate

__all__ = [
    "Config",
    "DoubleDescentConfig",
    "analyse",
    "describe",
    "double_descent_section",
    "figures",
    "markdown_section",
    "run",
    "save_results",
    "section",
]

REPORTED = {"fluctuation": -0.25, "error_gap": -0.5}


@dataclasses.dataclass(frozen=True)
class DoubleDescentConfig(JsonConfig):
    """Test error against width at fixed P (defaults: the quick protocol on digits parity)."""

    dataset: str = param("digits", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"P": 200, "n_test": 1000, "labels": "parity", "pca": 10, "center": True, "sphere": True},
        "data-set options",
        Table(),
    )
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    widths: tuple[float, ...] = param(
        (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0, 64.0),
        "widths (fractional widths allowed)",
        Items(Interval(float, 0, None, closed="neither"), at_least=2, sort=True,
              why="double descent needs several widths"),
    )  # fmt: skip
    seeds: tuple[int, ...] = param(
        tuple(range(8)),
        "seeds per width (one ensemble)",
        Seeds(at_least=2, why="an ensemble average needs several seeds"),
    )
    max_steps: int = param(10_000, "steps at most per ensemble", Interval(int, 0, None))
    fit_from: float = param(
        2.0, "fit the exponents on N >= FIT_FROM x N*", Interval(float, 1, None)
    )
    n_bootstrap: int = param(1000, "bootstrap replicates of the intervals", Interval(int, 0, None))
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(float(w) for w in self.widths))
        self.train_config()  # validates data set, architecture, widths

    def train_config(self, width: float | None = None):
        from symscape.train import TrainConfig

        return TrainConfig(
            dataset=self.dataset,
            data=self.data,
            arch=self.arch,
            depth=self.depth,
            width=float(width if width is not None else self.widths[0]),
            activation=self.activation,
            dynamics="lbfgs",
            max_steps=self.max_steps,
            record_points=24,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )

    def spec(self):
        """The sweep: every width × every seed, each width's seeds packed into one ensemble."""
        from symscape.sweep import SweepSpec

        fixed = {k: v for k, v in self.train_config().to_dict().items() if k not in ("seeds",)}
        fixed.pop("width")
        return SweepSpec(
            "train", "double-descent", fixed, {"width": list(self.widths)}, (), self.seeds
        )


Config = DoubleDescentConfig
"""The experiment's config type (the shape every experiment declares)."""


def _fluctuation(f: np.ndarray, y: np.ndarray) -> float:
    """Mean over members of the root-mean-square distance to the ensemble mean."""
    return float(np.sqrt(((f - f.mean(0)) ** 2).reshape(len(f), -1).mean(-1)).mean())


def _error_gap(f: np.ndarray, y: np.ndarray) -> float:
    """Mean single-network error minus the error of the averaged predictor."""
    return float(np.mean([error_rate(member, y) for member in f]) - error_rate(f.mean(0), y))


def _power_law(N, sets, y, statistic, n_bootstrap: int, level: float = 0.95, seed: int = 0):
    """Slope of ln statistic(f_N) against ln N; the interval resamples the members.

    Each bootstrap draw resamples the E members (the same draw at every N,
    since the seeds are shared) and recomputes the statistic, ensemble mean
    included. ``None`` when the statistic is not positive at every N (a
    power law cannot be fitted); draws with a non-positive value are dropped
    and counted.
    """
    x = np.log(np.asarray(N, float))
    values = np.array([statistic(f, y) for f in sets])
    if not np.all(values > 0):
        return None
    slope, intercept = fit_line(x, np.log(values), solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "values": values.tolist(),
        "n_sizes": len(N),
        "n_seeds": len(sets[0]),
        "n_bootstrap": int(n_bootstrap),
        "level": level,
        "ci_low": None,
        "ci_high": None,
        "dropped": 0,
    }
    if n_bootstrap > 0 and len(sets[0]) > 1:

        def slope_of(draw: np.ndarray) -> float | None:
            sample = np.array([statistic(f[draw], y) for f in sets])
            return fit_line(x, np.log(sample), solver="polyfit")[0] if np.all(sample > 0) else None

        interval = bootstrap_interval(
            slope_of, len(sets[0]), n_bootstrap=n_bootstrap, level=level, seed=seed
        )
        out["ci_low"], out["ci_high"], out["dropped"] = interval
    return out


def _best(curves) -> float | None:
    """Mean over seeds of each seed's lowest finite test error (None if no seed has one)."""
    best = [
        float(np.min(c[np.isfinite(c)])) for c in map(np.asarray, curves) if np.isfinite(c).any()
    ]
    return float(np.mean(best)) if best else None


def analyse(config: DoubleDescentConfig, rows, outputs, y_test, early=None) -> dict[str, Any]:
    """Per width: errors, ensemble error, fluctuation, output norm; N*; fitted exponents.

    ``rows[w]`` are the stored rows of width w (one per seed, in seed order)
    and ``outputs[w]`` their test outputs ``[E, n_test(, k)]``; ``early[w]``,
    when given, each seed's test error along training (``[E, R]``, the
    recorded steps; NaN where the network had diverged), whose minimum is the
    early-stopped test error. That minimum is chosen on the test set itself
    (oracle early stopping, as in the paper's figure): a lower bound on what a
    validation split would give.
    """
    points = []
    for width in config.widths:
        f = outputs[width]
        mean = f.mean(0)
        single = np.array([error_rate(f[i], y_test) for i in range(len(f))])
        fluctuation = np.sqrt(((f - mean) ** 2).reshape(len(f), -1).mean(-1))
        outcomes = [row["scalars"]["outcome"] for row in rows[width]]
        decided = [o for o in outcomes if o in ("fitted", "jammed")]
        points.append(
            {
                "width": width,
                "N": rows[width][0]["scalars"]["n_weights"],
                "fitted": sum(o == "fitted" for o in decided) / max(len(decided), 1),
                "undecided": len(outcomes) - len(decided),
                "test_error": float(single.mean()),
                "test_error_std": float(single.std()),
                "ensemble_test_error": error_rate(mean, y_test),
                "fluctuation": float(fluctuation.mean()),
                "output_norm": float(np.sqrt((f**2).reshape(len(f), -1).mean(-1)).mean()),
                "early_stopping_error": None if early is None else _best(early[width]),
                "per_seed_error": single.tolist(),
                "per_seed_fluctuation": fluctuation.tolist(),
            }
        )
    star = next((p["N"] for p in points if p["fitted"] >= 0.5), None)
    fits: dict[str, Any] = {}
    if star is not None:
        beyond = [p for p in points if p["N"] >= config.fit_from * star]
        if len(beyond) >= 2:
            N = [p["N"] for p in beyond]
            sets = [outputs[p["width"]] for p in beyond]
            for name, statistic in (("fluctuation", _fluctuation), ("error_gap", _error_gap)):
                fit = _power_law(N, sets, y_test, statistic, config.n_bootstrap)
                if fit is not None:
                    fits[name] = fit
    return {"points": points, "N_star": star, "fits": fits, "reported": REPORTED}


def run(
    config: DoubleDescentConfig,
    runner: Runner | str | Path | None = None,
    executor: str | None = None,
    *,
    store_path: str | Path | None = None,
) -> dict[str, Any]:
    """Train every width through ``runner`` (resuming from its store) and analyse the stored
    outputs.

    ``runner`` is a :class:`~symscape.sweep.runner.Runner`, or a store path trained on
    ``executor`` (default ``inprocess``): the older ``run(config, store_path, executor)``.
    """
    runner = given_store_path(runner, store_path)
    from symscape.data import load
    from symscape.sweep import Store

    started = time.perf_counter()
    runner = as_runner(runner, executor)
    spec = config.spec()
    runs = spec.runs()
    runner.complete(spec)
    rows: dict[float, list] = {}
    outputs: dict[float, np.ndarray] = {}
    early: dict[float, list[np.ndarray]] = {}
    with Store(runner.store, create=False) as store:
        for width in config.widths:
            keys = [r.key for r in runs if r.config["width"] == width]
            rows[width] = store.get(keys)
            arrays = [store.arrays(k) for k in keys]
            outputs[width] = np.stack([a["test_output"] for a in arrays])
            # a step whose test loss is not finite (a diverged seed) has no test error
            early[width] = [
                np.where(np.isfinite(a["trajectory/test_loss"]), a["trajectory/test_error"], np.nan)
                for a in arrays
            ]
    ds = load(config.dataset, **config.data, dtype="float64")
    y_test = ds.y_test.cpu().numpy()
    record = analyse(config, rows, outputs, y_test, early)
    stamp(record, "double_descent", config, started)
    return record


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``double_descent_STEM``): ``error`` (test errors against N/N*) and ``fluctuations``
    (‖f_N − f̄_N‖ and ε_N − ε̄_N against N, with their fits). Pure: no file is written and
    no pyplot figure opened."""
    from matplotlib.figure import Figure

    points = record["points"]
    N = np.array([p["N"] for p in points], float)
    star = record["N_star"] or 1.0
    drawn = {}
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.errorbar(
        N / star,
        [p["test_error"] for p in points],
        yerr=[p["test_error_std"] for p in points],
        fmt="o-",
        capsize=2,
        label="single networks ε_N",
    )
    ax.plot(
        N / star, [p["ensemble_test_error"] for p in points], "s--", label="ensemble average ε̄_N"
    )
    early = [p.get("early_stopping_error") for p in points]
    if all(e is not None for e in early):
        ax.plot(N / star, early, "^:", label="early stopping (oracle: best test error)")
    if record["N_star"]:
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xscale="log", xlabel="N / N*", ylabel="test error", title="Double descent")
    ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["error"] = fig

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.plot(N, [p["fluctuation"] for p in points], "o-", label="‖f_N − f̄_N‖")
    gap = [max(p["test_error"] - p["ensemble_test_error"], np.nan) for p in points]
    ax.plot(N, gap, "s-", label="ε_N − ε̄_N")
    for name, marker in (("fluctuation", "k--"), ("error_gap", "k:")):
        fit = record["fits"].get(name)
        if fit:
            beyond = N[record["config"]["fit_from"] * star <= N]
            ax.plot(
                beyond,
                np.exp(fit["intercept"]) * beyond ** fit["slope"],
                marker,
                lw=0.9,
                label=f"slope {fit['slope']:.2f} (reported {REPORTED[name]})",
            )
    ax.set(xscale="log", yscale="log", xlabel="N", title="What the ensemble average removes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    drawn["fluctuations"] = fig
    return drawn


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function


def save_results(record: Mapping[str, Any], out: str | Path, figures: str | Path | None = None):
    """Write ``double_descent.json`` and the figures; returns the summary."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / "double_descent.json").write_text(json.dumps(record, indent=1) + "\n")
    written = save_figures(_draw(record), figures, "double_descent")
    fits = {
        name: {k: fit[k] for k in ("slope", "ci_low", "ci_high")}
        for name, fit in record["fits"].items()
    }
    return {
        "N_star": record["N_star"],
        "fits": fits,
        "reported": REPORTED,
        "points": [
            {
                k: p.get(k)
                for k in (
                    "N",
                    "fitted",
                    "test_error",
                    "ensemble_test_error",
                    "early_stopping_error",
                    "fluctuation",
                    "output_norm",
                )
            }
            for p in record["points"]
        ],
        "record": "double_descent.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }


PROTOCOLS = {
    "quick": {"digits": DoubleDescentConfig()},
    "paper": {
        "mnist": DoubleDescentConfig(
            dataset="mnist",
            data={
                "P": 10_000,
                "n_test": 10_000,
                "labels": "parity",
                "pca": 10,
                "center": True,
                "sphere": True,
            },
            depth=5,
            activation="relu",
            widths=(8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 128.0, 256.0),
            seeds=tuple(range(20)),
            max_steps=500_000,
        )
    },
}
"""The protocols: ``quick`` (digits parity, 10 PCA components, P = 200) and ``paper``
(MNIST parity, depth-5 ReLU nets, 20 seeds)."""


def double_descent_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
):
    """``quick``: digits parity, 10 PCA components, P = 200; ``paper``: MNIST parity.

    The runs go to the sweep store ``store`` (default ``out/symscape.db``) on
    ``executor`` (default ``pool``: the widths train in parallel), every
    network on ``device``.
    """
    (config,) = protocol_cases(PROTOCOLS, scale, "double descent", root).values()
    config = dataclasses.replace(config, device=device)
    record = run(config, Runner(section_store(out, store), executor or "pool"))
    summary = save_results(record, out, figures)
    summary["scale"] = scale
    return summary


section = double_descent_section  # the registry's hook (symscape.experiments.registry)
