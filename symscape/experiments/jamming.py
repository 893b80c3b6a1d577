"""The jamming transition: N*(P) by bisection, the (P, N) phase diagram, and the minimum at N*.

SCIENCE.md §1. At fixed P, networks of width h are trained to their end
point with the jamming minimiser (``dynamics="lbfgs"``), E seeds as one
ensemble; a seed has *fitted* when N_Δ = 0. Starting from the bracket
``[width_min, width_max]``, a bisection in log h keeps the fitted fraction
≥ 1/2 at the upper end and < 1/2 at the lower one; N* is the geometric mean
of the final bracket's N. Every ensemble goes through the sweep store, so an
interrupted search resumes without retraining.

At the transition (the narrowest width of the last bracket that mostly
jams) symscape loads one jammed seed back from the store and measures:

* the gaps Δ_μ = κ − y_μ F(x_μ), on the unsatisfied side (Δ > 0) and the
  satisfied side (Δ < 0);
* the Hessian of the loss at that minimum, H = H₀ + H_p with
  H₀ = (1/P) Σ_{Δ_μ>0} ∇Δ_μ ∇Δ_μᵀ (exact, from the per-sample gradients),
  its spectrum, the rank of H₀ (which equals N_Δ at a jammed minimum where
  N_Δ ≤ N) and the number of negative eigenvalues of H.

>>> config = JammingConfig(P_values=(16,), seeds=(0, 1), width_max=8.0, bisections=2)
>>> config.train_config(16, 4.0).dynamics
'lbfgs'
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

from symscape.analysis import bootstrap_interval, slope_stderr
from symscape.analysis import fit_line as _least_squares
from symscape.config import Interval, Items, JsonConfig, Seeds, Table, param
from symscape.errors import InvalidOptionError
from symscape.experiments._output import cell, ci_text, save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import complete, section_store
from symscape.experiments.jamming_report import describe
from symscape.measure.hessian import hessian_at_minimum, hessian_extremes
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE

__all__ = [
    "REPORTED_GAPS",
    "JammingConfig",
    "describe",
    "figures",
    "gap_exponents",
    "hessian_at_minimum",
    "jamming_section",
    "markdown_section",
    "quick_configs",
    "run",
    "save_results",
    "section",
]


@dataclasses.dataclass(frozen=True)
class JammingConfig(JsonConfig):
    """A search for N*(P) over several P (defaults: the quick protocol on random data)."""

    dataset: str = param("random", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"d": 10, "n_test": 100}, "data-set options (P comes from P_values)", Table()
    )
    P_values: tuple[int, ...] = param(
        (32, 64, 128), "training-set sizes P", Items(Interval(int, 1, None))
    )
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    seeds: tuple[int, ...] = param(
        tuple(range(8)),
        "seeds per width (one ensemble)",
        Seeds(at_least=2, why="a fitted fraction needs several seeds"),
    )
    width_min: float = param(1.0, "lower end of the width bracket", Interval(float, 1, None))
    width_max: float = param(32.0, "upper end of the width bracket", Interval(float, 1, None))
    bisections: int = param(6, "bisection steps in log width", Interval(int, 0, None))
    max_steps: int = param(
        20_000, "gradient evaluations per ensemble at most", Interval(int, 0, None)
    )
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)

    def __post_init__(self):
        if "P" in self.data:
            raise InvalidOptionError("data sets P", fix="give the sizes as P_values")
        if not self.width_min < self.width_max:
            raise InvalidOptionError(
                f"width range [{self.width_min}, {self.width_max}] is empty",
                fix="use 1 <= width_min < width_max",
            )
        self.train_config(self.P_values[0], self.width_min)  # validates the rest

    def train_config(self, P: int, width: float):
        """The training run of one width at one P (all seeds: one ensemble)."""
        from symscape.train import TrainConfig

        return TrainConfig(
            dataset=self.dataset,
            data={**self.data, "P": P},
            arch=self.arch,
            depth=self.depth,
            width=float(width),
            activation=self.activation,
            dynamics="lbfgs",
            max_steps=self.max_steps,
            record_points=8,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )


# --------------------------------------------------------------------------- search
def _spec_of(config, name: str):
    """A one-config sweep spec: the config's seeds packed into one ensemble."""
    from symscape.sweep import SweepSpec

    fixed = {k: v for k, v in config.to_dict().items() if k != "seeds"}
    return SweepSpec("train", name, fixed, {}, (), tuple(config.seeds))


def _measure(config, store_path: Path, executor: str, name: str) -> dict[str, Any]:
    """Train (or read back) one width; the fitted fraction and ⟨N_Δ⟩/N over seeds."""
    from symscape.sweep import Store

    spec = _spec_of(config, name)
    runs = spec.runs()
    complete(spec, store_path, executor, f"at width {config.width}")
    with Store(store_path, create=False) as store:
        rows = store.get([run.key for run in runs])
    outcomes = [row["scalars"]["outcome"] for row in rows]
    n_weights = rows[0]["scalars"]["n_weights"]
    n_delta = [row["scalars"]["final"]["n_delta"] for row in rows]
    decided = [o for o in outcomes if o in ("fitted", "jammed")]
    return {
        "width": config.width,
        "N": n_weights,
        # over the seeds that reached a decision: an undecided one says nothing either way
        "fitted": sum(o == "fitted" for o in decided) / max(len(decided), 1),
        "undecided": sum(o not in ("fitted", "jammed") for o in outcomes),
        "n_delta_over_N": float(np.mean(n_delta)) / n_weights,
        "keys": [run.key for run in runs],
        "outcomes": outcomes,
    }


def find_transition(
    config: JammingConfig, P: int, store_path: Path, executor: str = "inprocess"
) -> dict[str, Any]:
    """Bisection in log(width) for the width where half of the seeds fit, at one P."""
    tried: list[dict[str, Any]] = []

    def measure(width: float) -> dict[str, Any]:
        point = _measure(config.train_config(P, width), store_path, executor, f"jamming-P{P}")
        tried.append(point)
        return point

    low, high = config.width_min, config.width_max
    top, bottom = measure(high), measure(low)
    if top["fitted"] < 0.5 or bottom["fitted"] >= 0.5:
        where = "above width_max" if top["fitted"] < 0.5 else "below width_min"
        return {"P": P, "N_star": None, "bracket": None, "outside": where, "tried": tried}
    for _ in range(config.bisections):
        middle = _distinct_midpoint(low, high, config.depth)
        if middle is None:  # no network between the two ends: the bracket is resolved
            break
        if measure(middle)["fitted"] >= 0.5:
            high = middle
        else:
            low = middle
    n_low = next(t["N"] for t in tried if t["width"] == low)
    n_high = next(t["N"] for t in tried if t["width"] == high)
    return {
        "P": P,
        "N_star": math.sqrt(n_low * n_high),
        "bracket": [n_low, n_high],
        "width_bracket": [low, high],
        "outside": None,
        "tried": sorted(tried, key=lambda t: t["width"]),
    }


def _distinct_midpoint(low: float, high: float, depth: int) -> float | None:
    """A width between ``low`` and ``high``, near their geometric mean, whose network differs
    from both ends' (fractional widths that round to the same layers are the same run).

    >>> _distinct_midpoint(4.0, 16.0, 2)
    8.0
    >>> _distinct_midpoint(4.0, 4.5, 2) is None  # 4 and 4.5 differ; nothing in between
    True
    """
    from symscape.nets.widths import layer_widths

    ends = (layer_widths(low, depth), layer_widths(high, depth))
    middle = math.sqrt(low * high)
    if layer_widths(middle, depth) not in ends:
        return middle
    # the widths where one more layer gains a unit: k − 1 + (i + 1)/L
    candidates = [
        k - 1 + (i + 1) / depth
        for k in range(math.floor(low), math.ceil(high) + 2)
        for i in range(depth)
    ]
    inside = [c for c in candidates if low < c < high and layer_widths(c, depth) not in ends]
    if not inside:
        return None
    return min(inside, key=lambda c: abs(math.log(c / middle)))


def fit_line(P: Sequence[float], N: Sequence[float]) -> dict[str, Any] | None:
    """Least squares of ln N* on ln P: slope, intercept and the slope's standard error."""
    x, y = np.log(np.asarray(P, float)), np.log(np.asarray(N, float))
    if len(x) < 2:
        return None
    slope, intercept = _least_squares(x, y, solver="lstsq")
    stderr = slope_stderr(x, y, slope, intercept)
    return {"slope": slope, "intercept": intercept, "slope_stderr": stderr}


# --------------------------------------------------------------------------- the minimum
def _model_of_row(row: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
    """The trained network of a stored run, rebuilt: (model, params of its one member)."""
    import torch

    from symscape.data import load
    from symscape.train import TrainConfig
    from symscape.train.models import CenteredNetwork, LossSpec

    config = TrainConfig.from_dict(row["config"])
    ds = load(config.dataset, **config.data, dtype=config.dtype, device=config.device)
    arch = config.architecture(ds.input_shape, 1 if ds.binary else ds.num_classes)
    params0 = arch.initialize(config.seeds, dtype=config.dtype, device=config.device)
    model = CenteredNetwork(
        arch, params0, ds, config.alpha, LossSpec(config.loss, config.kappa, config.beta)
    )
    params = {
        name.removeprefix("params/"): torch.as_tensor(value, device=config.device)[None]
        for name, value in arrays.items()
        if name.startswith("params/")
    }
    return model, params


REPORTED_GAPS = {"theta": 0.3, "gamma": 0.2}


def _cdf_slope(values: np.ndarray, fraction: float, below: int = 0) -> float | None:
    """The exponent s of C(v) ~ v^s near 0, from the smallest ``fraction`` of ``values`` > 0.

    Maximum likelihood for a power law below the cut-off v_c (the largest
    value kept; Hill's estimator): ŝ = (m − 1) / Σ_{i<m} ln(v_c / v_i) over the
    m smallest values. ``below`` more values of that side lie under the smallest
    one (too close to the margin to be told apart): they count in the fraction,
    not in the fit.
    """
    v = np.sort(values[values > 0])
    m = int((len(v) + below) * fraction) - below
    if m < 3 or v[0] == v[m - 1]:
        return None
    logs = np.log(v[m - 1] / v[: m - 1])
    return float((m - 1) / logs.sum())


GAP_FRACTIONS = (0.1, 0.25, 0.5)


def gap_exponents(
    gaps,
    fraction: float = 0.25,
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    tol: float = 0.0,
) -> dict[str, Any]:
    """θ and γ from the gaps at jammed minima, with bootstrap intervals.

    On the unsatisfied side, P(Δ) ~ Δ^θ as Δ → 0⁺, so the cumulative
    distribution C(Δ) ~ Δ^{1+θ}; on the satisfied side P(−Δ) ~ (−Δ)^{−γ}, so
    C(−Δ) ~ (−Δ)^{1−γ} (SCIENCE.md §1). Each exponent comes from the
    maximum-likelihood exponent of C over the smallest ``fraction`` of that
    side's gaps (at least 3 of them, else ``None``; :func:`_cdf_slope`). The
    laws hold only as Δ → 0: a large fraction reaches into the bulk and biases
    the estimate, a small one has few points; ``drift`` gives the estimate at
    each of ``GAP_FRACTIONS`` to show how much it depends on that choice.
    Gaps with |Δ| ≤ ``tol`` (at the margin to rounding) count in C but are
    not fitted.

    ``gaps`` is one array, or a list of arrays, one per jammed minimum (seed).
    The gaps of one minimum are correlated, so with several minima the
    interval resamples the minima (a cluster bootstrap); with one, it
    resamples its gaps and is too narrow (``"resampled": "gaps"`` says so).
    ``n_bootstrap`` draws from the numpy generator ``seed``.

    >>> rng = np.random.default_rng(0)
    >>> unsat = rng.random(4000) ** (1 / 1.3)          # density ∝ Δ^0.3 on (0, 1)
    >>> sat = -(rng.random(4000) ** (1 / 0.8))        # density ∝ |Δ|^-0.2
    >>> fit = gap_exponents(np.concatenate([unsat, sat]), n_bootstrap=50)
    >>> round(fit["theta"]["value"], 1), round(fit["gamma"]["value"], 1)
    (0.3, 0.2)
    """
    if isinstance(gaps, np.ndarray) or not isinstance(gaps, Sequence):
        clusters = [np.asarray(gaps, float)]
    else:
        clusters = [np.asarray(g, float) for g in gaps]
    clusters = [g[np.isfinite(g)] for g in clusters]
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "fraction": fraction,
        "reported": REPORTED_GAPS,
        "minima": len(clusters),
        "resampled": "minima" if len(clusters) > 1 else "gaps",
    }

    def estimate(parts, sign: float, frac: float) -> float | None:
        values = np.concatenate([sign * g for g in parts]) if parts else np.empty(0)
        below = int(((values > 0) & (values <= tol)).sum())
        slope = _cdf_slope(values[values > tol], frac, below)
        if slope is None:
            return None
        return slope - 1 if sign > 0 else 1 - slope

    for name, sign in (("theta", 1.0), ("gamma", -1.0)):
        n = int(sum(((sign * g) > tol).sum() for g in clusters))
        value = estimate(clusters, sign, fraction)
        entry: dict[str, Any] = {"n": n, "value": value, "ci_low": None, "ci_high": None}
        entry["drift"] = {str(f): estimate(clusters, sign, f) for f in GAP_FRACTIONS}
        if value is not None and n_bootstrap > 0:

            def resampled(draw: np.ndarray, sign: float = sign) -> float | None:
                if len(clusters) > 1:
                    return estimate([clusters[i] for i in draw], sign, fraction)
                return estimate([clusters[0][draw]], sign, fraction)

            n = len(clusters) if len(clusters) > 1 else len(clusters[0])
            interval = bootstrap_interval(
                resampled, n, n_bootstrap=n_bootstrap, level=level, seed=rng
            )
            entry["ci_low"], entry["ci_high"] = interval.low, interval.high
        out[name] = entry
    return out


def _seed_gaps(store, keys: Sequence[str], model) -> list[np.ndarray]:
    """The gaps of each stored run in ``keys`` (from its final training outputs)."""
    import torch

    from symscape.train.losses import gaps

    out = []
    for key in keys:
        output = torch.as_tensor(store.arrays(key)["train_output"])[None]
        out.append(gaps(output, model.y_train.cpu(), model.loss.kappa)[0].numpy())
    return out


def at_transition(search: Mapping[str, Any], store_path: Path) -> dict[str, Any] | None:
    """Gaps and Hessian of one jammed seed at the narrow end of the last bracket; the gap
    exponents θ and γ from the gaps of every jammed seed there."""
    from symscape.sweep import Store

    if search["bracket"] is None:
        return None
    low = search["width_bracket"][0]
    point = next(t for t in search["tried"] if t["width"] == low)
    jammed = [k for k, o in zip(point["keys"], point["outcomes"], strict=True) if o == "jammed"]
    if not jammed:
        return None
    with Store(store_path, create=False) as store:
        [row] = store.get(jammed[:1])
        arrays = store.arrays(jammed[0])
        model, params = _model_of_row(row, arrays)
        per_seed = _seed_gaps(store, jammed, model)
    if point["N"] > 4000:  # too large for the exact Hessian: its extreme eigenvalues
        details = hessian_extremes(model, params)
    else:
        details = hessian_at_minimum(model, params)
        details.pop("H")  # the spectra are kept; the matrix is N² numbers
    from symscape.train.loop import StopRules

    tol = StopRules().tolerance(model.f0_train.dtype, model.loss.kappa)
    details.update(
        width=low,
        seed=row["seed"],
        seeds_pooled=len(jammed),
        gap_exponents=gap_exponents(per_seed, tol=tol),
    )
    return details


# --------------------------------------------------------------------------- run
def run(
    config: JammingConfig, store_path: str | Path, executor: str = "inprocess"
) -> dict[str, Any]:
    """Every P's search, the line N*(P) and the minimum at the transition (largest P)."""
    store_path = Path(store_path)
    started = time.perf_counter()
    searches = [find_transition(config, P, store_path, executor) for P in config.P_values]
    located = [s for s in searches if s["N_star"] is not None]
    line = fit_line([s["P"] for s in located], [s["N_star"] for s in located])
    transition = at_transition(located[-1], store_path) if located else None
    record = {"searches": searches, "line": line, "transition": transition}
    return stamp(record, "jamming", config, started)


# --------------------------------------------------------------------------- figures
def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``NAME_STEM``): ``ndelta`` (⟨N_Δ⟩/N against N/P), ``phase_diagram`` (the widths tried
    and N*(P)) and, with a jammed minimum, ``transition`` (its gaps and Hessian spectrum).
    Pure: no file is written and no pyplot figure opened."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    drawn = {}
    colors = colormaps["viridis"](np.linspace(0, 0.85, len(record["searches"])))

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for search, color in zip(record["searches"], colors, strict=True):
        tried = search["tried"]
        x = [t["N"] / search["P"] for t in tried]
        y = [t["n_delta_over_N"] for t in tried]
        ax.plot(x, y, "o-", color=color, label=f"P={search['P']}")
    ax.set(xscale="log", xlabel="N / P", ylabel="⟨N_Δ⟩ / N", title="Unsatisfied constraints")
    ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["ndelta"] = fig

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for search in record["searches"]:
        for t in search["tried"]:
            ax.scatter(search["P"], t["N"], c=[[1 - t["fitted"], 0.2, t["fitted"]]], s=25)
    located = [s for s in record["searches"] if s["N_star"] is not None]
    if located:
        P = np.array([s["P"] for s in located], float)
        N = np.array([s["N_star"] for s in located])
        low = N - np.array([s["bracket"][0] for s in located])
        high = np.array([s["bracket"][1] for s in located]) - N
        ax.errorbar(P, N, yerr=[low, high], fmt="k-", capsize=3, label="N*(P)")
        line = record["line"]
        if line:
            ax.plot(
                P,
                np.exp(line["intercept"]) * P ** line["slope"],
                "k--",
                lw=0.8,
                label=f"slope {line['slope']:.2f}",
            )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="P",
        ylabel="N",
        title="Phase diagram (blue: fitted, red: jammed)",
    )
    if located:
        ax.legend(fontsize=8)
    fig.tight_layout()
    drawn["phase_diagram"] = fig

    transition = record.get("transition")
    if transition and "gaps" in transition:
        gaps = np.asarray(transition["gaps"])
        fig = Figure(figsize=(8, 3.4))
        left, right = fig.subplots(1, 2)
        for values, label in (
            (gaps[gaps > 0], "Δ > 0 (unsatisfied)"),
            (-gaps[gaps < 0], "−Δ, Δ < 0 (satisfied)"),
        ):
            if len(values):
                bins = np.logspace(np.log10(values.min()), np.log10(values.max()) + 1e-9, 15)
                left.hist(values, bins=bins, histtype="step", label=label)
        left.set(
            xscale="log",
            yscale="log",
            xlabel="|Δ|",
            ylabel="count",
            title=f"Gaps at the jammed minimum (N={transition['N']})",
        )
        left.legend(fontsize=7)
        if "eig_H" in transition:  # the exact spectrum
            eig = np.sort(np.asarray(transition["eig_H"]))[::-1]
            eig0 = np.sort(np.asarray(transition["eig_H0"]))[::-1]
            right.plot(eig, ".", ms=3, label="H")
            right.plot(eig0, ".", ms=3, label="H₀")
            title = f"rank H₀ = {transition['rank_H0']}, N_Δ = {transition['n_delta']}"
        else:  # the extremes from Lanczos
            top, bottom = transition["eig_H_top"], transition["eig_H_bottom"]
            right.plot(range(len(top)), top, ".", label="largest of H")
            n = transition["N"]
            right.plot(range(n - len(bottom), n), bottom[::-1], ".", label="smallest of H")
            title = f"H at N = {n} (Lanczos), N_Δ = {transition['n_delta']}"
        right.set(yscale="symlog", xlabel="index", ylabel="eigenvalue", title=title)
        right.legend(fontsize=7)
        fig.tight_layout()
        drawn["transition"] = fig
    return drawn


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_results(
    record: Mapping[str, Any],
    out: str | Path,
    figures: str | Path | None = None,
    name: str = "jamming",
):
    """Write ``NAME.json`` and the figures ``NAME_*``; returns the summary of fitted quantities."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(_jsonable(record), indent=1) + "\n")
    written = save_figures(_draw(record), figures, name)
    transition = record.get("transition") or {}
    return {
        "N_star": {str(s["P"]): s["N_star"] for s in record["searches"]},
        "bracket": {str(s["P"]): s["bracket"] for s in record["searches"]},
        "outside": {str(s["P"]): s["outside"] for s in record["searches"] if s["outside"]},
        "line": record["line"],
        "transition": {
            k: transition[k]
            for k in (
                "N",
                "P",
                "n_delta",
                "rank_H0",
                "negative_H",
                "lowest_H_relative",
                "smallest_H0_relative",
                "width",
                "seeds_pooled",
                "gap_exponents",
            )
            if k in transition
        },
        "record": f"{name}.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }


def quick_configs() -> dict[str, JammingConfig]:
    """Minutes on 2 cores: random data (d = 10, P = 32 and 64) and digits parity on 10
    whitened PCA components (P = 50 and 100), 6 seeds, depth 2."""
    common = dict(seeds=tuple(range(6)), bisections=4)
    return {
        "random": JammingConfig(P_values=(32, 64), width_max=16.0, max_steps=10_000, **common),
        "digits": JammingConfig(
            dataset="digits",
            data={"labels": "parity", "pca": 10, "center": True, "sphere": True},
            P_values=(50, 100),
            width_max=32.0,
            **common,
        ),
    }


def paper_configs(root: str | None = None) -> dict[str, JammingConfig]:
    """The papers' protocols (SCIENCE.md §1): depth-5 ReLU nets on random data, MNIST parity
    on 10 whitened PCA components and CIFAR10 classes 0–4 vs 5–9, inputs centred and on the
    sphere; for a GPU or a cluster."""
    files = {"root": root} if root else {}
    common = dict(depth=5, activation="relu", width_max=256.0, bisections=8, max_steps=500_000)
    prepared = {"center": True, "sphere": True, "n_test": 1000}
    return {
        "random": JammingConfig(
            data={"d": 30, **prepared}, P_values=(1000, 2000, 4000, 8000), **common
        ),
        "mnist": JammingConfig(
            dataset="mnist",
            data={"labels": "parity", "pca": 10, **prepared, **files},
            P_values=(1000, 2000, 4000, 8000),
            **common,
        ),
        "cifar10": JammingConfig(
            dataset="cifar10",
            data={"labels": "halves", "flatten": True, **prepared, **files},
            P_values=(1000, 2000, 4000),
            **common,
        ),
    }


PROTOCOLS = {"quick": quick_configs(), "paper": paper_configs()}


def jamming_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
):
    """Each protocol of ``scale`` (:func:`quick_configs` or :func:`paper_configs`), one part
    of the summary per data set.

    The runs go to the sweep store ``store`` (default ``out/symscape.db``) on
    ``executor`` (default ``inprocess``: each bisection step is one ensemble),
    every network on ``device``.
    """
    store = section_store(out, store)
    executor = executor or "inprocess"
    configs = protocol_cases(PROTOCOLS, scale, "jamming", root)
    datasets = {}
    for name, config in configs.items():
        record = run(dataclasses.replace(config, device=device), store, executor)
        datasets[name] = save_results(record, out, figures, name=f"jamming_{name}")
    return {"scale": scale, "datasets": datasets}


section = jamming_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(summary: Mapping[str, Any]) -> str:
    """The summary as a Markdown section (one table per data set at the paper scale)."""
    if "datasets" in summary:
        parts = [
            markdown_section(part).replace(
                "## Jamming: where fitting stops", f"## Jamming on {name}"
            )
            for name, part in summary["datasets"].items()
        ]
        return "\n".join(parts)
    lines = [
        "## Jamming: where fitting stops",
        "",
        f"N* where half of the seeds fit ({summary['wall_time_s']} s; record "
        f"[{summary['record']}]({summary['record']})).",
        "",
        "| P | N* | bracket |",
        "|---|---|---|",
    ]
    for P, N in summary["N_star"].items():
        bracket = summary["bracket"][P]
        where = summary["outside"].get(P, "")
        lines.append(f"| {P} | {cell(N)} | {bracket if bracket else where} |")
    line = summary["line"]
    if line:
        err = f" ± {line['slope_stderr']:.2f}" if line["slope_stderr"] is not None else ""
        lines += ["", f"Fitted N* ∝ P^{line['slope']:.2f}{err}."]
    t = summary["transition"]
    if t:
        lines += [
            "",
            f"At the jammed minimum closest to N* (N = {t.get('N')}): N_Δ = {t.get('n_delta')}, "
            f"rank H₀ = {t.get('rank_H0')}, negative eigenvalues of H: {t.get('negative_H')}.",
        ]
        fit = t.get("gap_exponents")
        if fit:
            parts = []
            for name, symbol in (("theta", "θ"), ("gamma", "γ")):
                e = fit[name]
                value = "—" if e["value"] is None else f"{e['value']:.2f}"
                interval = ci_text(e)
                drift = "/".join(
                    "—" if v is None else f"{v:.2f}" for v in e.get("drift", {}).values()
                )
                parts.append(
                    f"{symbol} = {value}{interval} from {e['n']} gaps "
                    f"(reported {fit['reported'][name]}; fitted on the smallest 10/25/50 %: "
                    f"{drift})"
                )
            lines += [
                "",
                f"Gap exponents, pooled over {t.get('seeds_pooled')} jammed seeds "
                f"(interval: resampling the {fit.get('resampled', 'gaps')}): "
                + "; ".join(parts)
                + ".",
            ]
    return "\n".join(lines) + "\n"
