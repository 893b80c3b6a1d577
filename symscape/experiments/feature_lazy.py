r"""Feature vs lazy training: the α sweep, the crossover α*(h) and the phase diagram.

SCIENCE.md §3. The model is ``F(w, x) = α (f(w, x) − f(w₀, x))`` with ``f``
in the NTK parametrisation, trained by gradient flow (the adaptive-step
integrator of the papers) on ``(1/(α² P)) Σ_μ ℓ(y_μ F(x_μ))`` until every
margin is met or the step budget is spent. Over a grid of α (log-spaced,
several decades) × width h × seeds (the seeds of one (h, α) packed into one
ensemble), through the sweep store:

* test error of each network and of the ensemble-averaged predictor;
* the kernel change ``‖Θ_T − Θ₀‖_F / ‖Θ₀‖_F`` of the empirical NTK on the
  first ``kernel_points`` training points (:mod:`symscape.measure.ntk`),
  and the weight change ``‖w_T − w₀‖ / ‖w₀‖``;
* the variance of the trained output over seeds (averaged over test points);
* the lazy references, per width and seed: the frozen-kernel flow
  (``dynamics="kernel_flow"``, the α → ∞ limit of the same flow) and kernel
  regression with the NTK at initialisation (no ridge).

**Crossover criterion.** The kernel change falls from ≫ 1 at small α
(the kernel is rebuilt: feature learning) to ≪ 1 at large α (lazy). For
each width, α*(h) is where the geometric mean over seeds of the kernel
change crosses ``kernel_threshold`` (default 1: the kernel has moved by as
much as its own norm), interpolated linearly in log–log between the two
grid values around the first crossing. The exponent of α* ~ h^b is the
least-squares slope in log–log over the widths with a crossing; its 95 %
interval resamples the seeds (the same draw at every (h, α)) and recomputes
every crossing.

**Convention.** symscape's α is the article's (the scale of ``F`` above,
loss prefactor 1/α²), for which α* ~ h^−1/2 is reported. Another published
code puts the output scale at α/h and the loss prefactor at 1/α, so that
``α_code = √h · α``: the summary lists α* in both, and α_code* should be
about constant in h.

>>> FeatureLazyConfig(widths=(8.0, 16.0), alphas=(0.1, 10.0), seeds=(0, 1)).train_config(
...     8.0, 0.1).kernel_points
64
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symscape.analysis import bootstrap_interval, crossing, nan_geometric_mean, power_law_fit
from symscape.config import Flag, Interval, Items, JsonConfig, Options, Seeds, Table, param
from symscape.errors import InvalidOptionError
from symscape.experiments._output import cell, ci_text, save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import complete, section_store
from symscape.experiments.feature_lazy_report import describe
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE
from symscape.train.losses import LOSSES, error_rate

__all__ = [
    "REPORTED",
    "FeatureLazyConfig",
    "analyse",
    "crossing",
    "describe",
    "feature_lazy_configs",
    "feature_lazy_section",
    "figures",
    "markdown_section",
    "run",
    "save_results",
    "section",
]

REPORTED = {"alpha_star_exponent": -0.5}
_POSITIVE = Interval(float, 0, None, closed="neither")


@dataclasses.dataclass(frozen=True)
class FeatureLazyConfig(JsonConfig):
    """An α × width sweep (defaults: the quick protocol on the stripe model)."""

    dataset: str = param("stripe", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"P": 256, "n_test": 2000, "d": 10}, "data-set options", Table()
    )
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    loss: str = param("soft_hinge", "loss function", Options(lambda: LOSSES, what="loss"))
    widths: tuple[float, ...] = param(
        (4.0, 8.0, 16.0, 32.0, 64.0),
        "widths h (fractional widths allowed)",
        Items(_POSITIVE, distinct=True, sort=True),
    )
    alphas: tuple[float, ...] = param(
        (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
        "α values (the article's convention)",
        Items(_POSITIVE, at_least=2, distinct=True, sort=True,
              why="need at least two distinct values, e.g. 0.01,0.1,1,10,100"),
    )  # fmt: skip
    seeds: tuple[int, ...] = param(
        (0, 1, 2, 3),
        "seeds per (h, α): one ensemble",
        Seeds(at_least=2, why="variances and ensemble averages need several seeds"),
    )
    max_steps: int = param(5000, "steps at most per ensemble", Interval(int, 0, None))
    kernel_points: int = param(
        64, "training points on which the NTK's change is measured", Interval(int, 1, None)
    )
    kernel_threshold: float = param(
        1.0, "α* is where the kernel change crosses this value", _POSITIVE
    )
    lazy_reference: bool = param(
        True, "also train the frozen-kernel flow (α → ∞) of every width and seed", Flag()
    )
    jamming: bool = param(
        True, "locate the jamming line h* (jamming minimiser, bisection in width)", Flag()
    )
    fit_from: float = param(2.0, "fit α*(h) on widths h >= FIT_FROM x h*", _POSITIVE)
    n_bootstrap: int = param(1000, "bootstrap replicates of the intervals", Interval(int, 0, None))
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(float(w) for w in self.widths))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if self.jamming and self.data.get("P") is None:
            raise InvalidOptionError(
                "the jamming line needs a fixed number of training points",
                fix="set data P, or jamming=False",
            )
        for width in self.widths:  # validates data set, architecture, every width and α
            self.train_config(width, self.alphas[0])
        self.train_config(self.widths[0], self.alphas[-1])

    def train_config(self, width: float, alpha: float, dynamics: str = "flow"):
        from symscape.train import TrainConfig

        return TrainConfig(
            dataset=self.dataset,
            data=self.data,
            arch=self.arch,
            depth=self.depth,
            width=float(width),
            activation=self.activation,
            loss=self.loss,
            alpha=float(alpha) if dynamics == "flow" else 1.0,
            dynamics=dynamics,
            max_steps=self.max_steps,
            kernel_points=self.kernel_points,
            record_points=16,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )

    def specs(self) -> list:
        """The network sweep (width × α × seeds) and, if asked, the frozen-kernel flows."""
        from symscape.sweep import SweepSpec

        fixed = self.train_config(self.widths[0], self.alphas[0]).to_dict()
        for name in ("seeds", "width", "alpha"):
            fixed.pop(name)
        grid = {"width": list(self.widths), "alpha": list(self.alphas)}
        specs = [SweepSpec("train", "feature-lazy", fixed, grid, (), self.seeds)]
        if self.lazy_reference:
            lazy = self.train_config(self.widths[0], 1.0, "kernel_flow").to_dict()
            for name in ("seeds", "width"):
                lazy.pop(name)
            specs.append(
                SweepSpec(
                    "train",
                    "feature-lazy-kernel",
                    lazy,
                    {"width": list(self.widths)},
                    (),
                    self.seeds,
                )
            )
        return specs


# ------------------------------------------------------------------ analysis
def _ensemble_error(f: np.ndarray, y: np.ndarray) -> float:
    """Error of the mean predictor over the members whose outputs are all finite."""
    alive = np.isfinite(f.reshape(len(f), -1)).all(-1)
    return error_rate(f[alive].mean(0), y) if alive.any() else float("nan")


_geometric_mean = nan_geometric_mean  # the old private name


def _alpha_stars(config, changes: np.ndarray) -> list[float | None]:
    """α*(h) per width from per-seed kernel changes ``[widths, alphas, seeds]``."""
    geometric = nan_geometric_mean(changes)
    return [crossing(config.alphas, row, config.kernel_threshold) for row in geometric]


def _fit_alpha_star(
    config, changes: np.ndarray, min_width: float = 0.0, level: float = 0.95
) -> dict[str, Any] | None:
    """The exponent of α*(h) over the widths ≥ ``min_width`` that cross the threshold."""
    stars = _alpha_stars(config, changes)
    have = [i for i, s in enumerate(stars) if s is not None and config.widths[i] >= min_width]
    if len(have) < 2:
        return None
    widths = np.array(config.widths)
    slope, intercept = power_law_fit(widths[have], [stars[i] for i in have], solver="polyfit")
    out = {
        "slope": slope,
        "intercept": intercept,
        "n_widths": len(have),
        "min_width": min_width,
        "n_bootstrap": config.n_bootstrap,
        "level": level,
        "ci_low": None,
        "ci_high": None,
        "dropped": 0,
    }
    E = changes.shape[-1]
    if config.n_bootstrap > 0:

        def slope_of(draw: np.ndarray) -> float | None:
            sample = _alpha_stars(config, changes[:, :, draw])
            if any(sample[i] is None for i in have):
                return None
            return power_law_fit(widths[have], [sample[i] for i in have], solver="polyfit")[0]

        interval = bootstrap_interval(slope_of, E, n_bootstrap=config.n_bootstrap, level=level)
        out["ci_low"], out["ci_high"], out["dropped"] = interval
    return out


def analyse(
    config: FeatureLazyConfig, rows, outputs, y_test, lazy=None, jamming=None
) -> dict[str, Any]:
    """Every observable of the grid, α*(h) and its exponent, and the regime comparison.

    ``rows[(h, α)]`` are the stored rows of that point (one per seed, in seed
    order) and ``outputs[(h, α)]`` their test outputs ``[E, n_test, k]``;
    ``lazy``, when given, lists the lazy references of each width, and
    ``jamming`` the jamming transition at this P: α* is then fitted on the
    widths ≥ ``fit_from`` · h* only (near jamming the crossover is different).
    """
    points = []
    changes = np.empty((len(config.widths), len(config.alphas), len(config.seeds)))
    for i, width in enumerate(config.widths):
        for j, alpha in enumerate(config.alphas):
            f = outputs[(width, alpha)]
            scalars = [row["scalars"] for row in rows[(width, alpha)]]
            single = np.array([error_rate(member, y_test) for member in f])
            kernel = np.array([s["final"]["kernel_change"] for s in scalars])
            changes[i, j] = kernel
            points.append(
                {
                    "width": width,
                    "alpha": alpha,
                    "N": scalars[0]["n_weights"],
                    "fitted": float(np.mean([s["outcome"] == "fitted" for s in scalars])),
                    "test_error": float(single.mean()),
                    "test_error_std": float(single.std()),
                    "ensemble_test_error": _ensemble_error(f, y_test),
                    "kernel_change": float(nan_geometric_mean(kernel)),
                    "weight_change": float(np.mean([s["final"]["weight_change"] for s in scalars])),
                    "output_variance": float(f.var(0).mean()),
                    "per_seed_error": single.tolist(),
                    "per_seed_kernel_change": kernel.tolist(),
                }
            )
    stars = _alpha_stars(config, changes)
    h_star = (jamming or {}).get("h_star")
    min_width = config.fit_from * h_star if h_star else 0.0
    crossover = [
        {
            "width": w,
            "alpha_star": s,
            "alpha_star_code": None if s is None else s * math.sqrt(w),
        }
        for w, s in zip(config.widths, stars, strict=True)
    ]
    # the output variance over seeds against h, at the largest α (lazy end)
    lazy_end = [p for p in points if p["alpha"] == config.alphas[-1]]
    variance_fit = None
    if len(lazy_end) >= 2 and all(p["output_variance"] > 0 for p in lazy_end):
        slope, _ = power_law_fit(
            [p["width"] for p in lazy_end],
            [p["output_variance"] for p in lazy_end],
            solver="polyfit",
        )
        variance_fit = {"alpha": config.alphas[-1], "slope": slope}
    widest = config.widths[-1]
    by_key = {(p["width"], p["alpha"]): p for p in points}
    feature_error = by_key[(widest, config.alphas[0])]["test_error"]
    lazy_error = by_key[(widest, config.alphas[-1])]["test_error"]
    lazy_source = f"α = {config.alphas[-1]:g}"
    for reference in lazy or []:
        if reference["width"] == widest:
            lazy_error, lazy_source = reference["kernel_flow_error"], "frozen-kernel flow"
    regime = {
        "width": widest,
        "feature_error": feature_error,
        "lazy_error": lazy_error,
        "lazy_source": lazy_source,
        "better": "feature"
        if feature_error < lazy_error
        else "lazy"
        if lazy_error < feature_error
        else "neither",
    }
    return {
        "points": points,
        "crossover": crossover,
        "alpha_star_fit": _fit_alpha_star(config, changes, min_width),
        "jamming": jamming,
        "variance_fit": variance_fit,
        "lazy": lazy or [],
        "regime": regime,
        "reported": REPORTED,
    }


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


def _jamming_line(config: FeatureLazyConfig, store_path: Path, executor: str) -> dict[str, Any]:
    """Where the networks of this task stop fitting all P points: the jamming minimiser's
    bisection in width (:func:`symscape.experiments.jamming.find_transition`)."""
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
    search = find_transition(jam, P, store_path, executor)
    out = {k: search[k] for k in ("P", "N_star", "bracket", "outside")}
    bracket = search.get("width_bracket")
    out["width_bracket"] = bracket
    out["h_star"] = math.sqrt(bracket[0] * bracket[1]) if bracket else None
    return out


def run(
    config: FeatureLazyConfig, store_path: str | Path, executor: str = "inprocess"
) -> dict[str, Any]:
    """Train the grid (resuming from the store) and analyse the stored outputs."""
    from symscape.data import load
    from symscape.sweep import Store

    started = time.perf_counter()
    store_path = Path(store_path)
    specs = config.specs()
    for spec in specs:
        complete(spec, store_path, executor)
    network_runs = specs[0].runs()
    rows: dict[tuple[float, float], list] = {}
    outputs: dict[tuple[float, float], np.ndarray] = {}
    ds = load(config.dataset, **config.data, dtype=config.dtype, device=config.device)
    with Store(store_path, create=False) as store:
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
    jamming = _jamming_line(config, store_path, executor) if config.jamming else None
    record = analyse(config, rows, outputs, ds.y_test.cpu().numpy(), lazy, jamming)
    stamp(record, "feature_lazy", config, started)
    return record


# ------------------------------------------------------------------- figures
def _grid(record, key: str) -> np.ndarray:
    config = record["config"]
    table = {(p["width"], p["alpha"]): p[key] for p in record["points"]}
    return np.array([[table[(w, a)] for a in config["alphas"]] for w in config["widths"]])


def _edges(values) -> np.ndarray:
    """Cell edges around log-spaced centres (geometric midpoints)."""
    v = np.log(np.asarray(values, float))
    mids = (v[1:] + v[:-1]) / 2
    first, last = (2 * v[0] - mids[0], 2 * v[-1] - mids[-1]) if len(v) > 1 else (v[0] - 1, v[0] + 1)
    return np.exp(np.concatenate([[first], mids, [last]]))


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``NAME_STEM``): ``kernel_change``, ``test_error``, ``crossover`` and ``phase_diagram``.
    Pure: no file is written and no pyplot figure opened."""
    import matplotlib.ticker
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    config = record["config"]
    widths, alphas = np.array(config["widths"]), np.array(config["alphas"])
    kernel, error = _grid(record, "kernel_change"), _grid(record, "test_error")
    ensemble, variance = _grid(record, "ensemble_test_error"), _grid(record, "output_variance")
    colours = colormaps["viridis"](np.linspace(0, 0.9, len(widths)))
    stars = {c["width"]: c["alpha_star"] for c in record["crossover"]}
    drawn = {}

    # 1. the kernel change against α, and against α√h (the collapse of the crossover)
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    for i, w in enumerate(widths):
        for ax, x in ((axes[0], alphas), (axes[1], alphas * np.sqrt(w))):
            ax.plot(x, kernel[i], "o-", color=colours[i], ms=3, label=f"h = {w:g}")
        if stars[w] is not None:
            axes[0].plot(stars[w], config["kernel_threshold"], "kx", ms=7)
    for ax, label in ((axes[0], "α"), (axes[1], "α √h  (α of the code convention)")):
        ax.axhline(config["kernel_threshold"], color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="‖Θ_T − Θ₀‖ / ‖Θ₀‖")
    axes[0].set_title("Kernel change (× : α*)")
    axes[1].set_title("The same against α√h")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    drawn["kernel_change"] = fig

    # 2. test error against α, single networks, ensemble and the lazy references
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    lazy = {ref["width"]: ref for ref in record["lazy"]}
    for i, w in enumerate(widths):
        ax.plot(alphas, error[i], "o-", color=colours[i], ms=3, label=f"h = {w:g}")
        ax.plot(alphas, ensemble[i], "--", color=colours[i], lw=0.8)
        if w in lazy:
            ax.axhline(lazy[w]["kernel_flow_error"], color=colours[i], lw=0.8, ls=":")
    ax.set(xscale="log", xlabel="α", ylabel="test error")
    ax.set_title("Test error (dashed: ensemble; dotted: frozen-kernel flow)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    drawn["test_error"] = fig

    # 3. α*(h) with its fit, and the output variance over seeds against h
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    have = [(w, s) for w, s in stars.items() if s is not None]
    if have:
        axes[0].plot(*zip(*have, strict=True), "ko", label="α*(h)")
    fit = record["alpha_star_fit"]
    if fit:
        slope = fit["slope"]
        interval = ci_text(fit)
        axes[0].plot(
            widths,
            np.exp(fit["intercept"]) * widths**slope,
            "k--",
            lw=0.9,
            label=f"slope {slope:.2f}{interval}",
        )
        w0 = np.exp(np.log(widths).mean())
        a0 = np.exp(fit["intercept"]) * w0**slope
        axes[0].plot(widths, a0 * (widths / w0) ** -0.5, "r:", lw=0.9, label="reported slope −1/2")
    axes[0].set(xscale="log", yscale="log", xlabel="width h", ylabel="α*", title="Crossover")
    axes[0].legend(fontsize=7)
    for j in (0, len(alphas) // 2, len(alphas) - 1):
        axes[1].plot(widths, variance[:, j], "o-", ms=3, label=f"α = {alphas[j]:g}")
    axes[1].plot(widths, variance[0, -1] * widths[0] / widths, "k:", lw=0.9, label="slope −1")
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="width h",
        ylabel="Var over seeds of F(x)",
        title="Output variance over initialisations",
    )
    axes[1].legend(fontsize=7)
    for ax in axes:  # the widths themselves as ticks, not a clutter of minor labels
        ax.set_xticks(widths, [f"{w:g}" for w in widths])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    drawn["crossover"] = fig

    # 4. the phase diagram: test error in the (h, α) plane, α*(h), the fitting boundary
    fig = Figure(figsize=(5.8, 4.8))
    ax = fig.subplots()
    mesh = ax.pcolormesh(_edges(widths), _edges(alphas), error.T, cmap="magma_r", shading="flat")
    fig.colorbar(mesh, ax=ax, label="test error")
    if have:
        ax.plot(
            *zip(*have, strict=True),
            "wo-",
            mec="k",
            lw=1.5,
            label="α*(h): kernel change = threshold",
        )
    # cells where fewer than half of the seeds fit: the under-parametrised (jamming) side,
    # or a budget too short for the slow lazy flows; hatched, not hidden
    from matplotlib.patches import Patch, Rectangle

    fitted, wx, ay = _grid(record, "fitted"), _edges(widths), _edges(alphas)
    for i, j in zip(*np.nonzero(fitted < 0.5), strict=True):
        ax.add_patch(
            Rectangle(
                (wx[i], ay[j]),
                wx[i + 1] - wx[i],
                ay[j + 1] - ay[j],
                fill=False,
                hatch="//",
                edgecolor="c",
                lw=0,
            )
        )
    handles, _ = ax.get_legend_handles_labels()
    if (fitted < 0.5).any():
        label = "< half of the seeds fit"
        handles.append(Patch(fill=False, hatch="//", edgecolor="c", label=label))
    jamming = record.get("jamming") or {}
    if jamming.get("h_star"):
        h_star = jamming["h_star"]
        ax.axvline(h_star, color="c", lw=2)
        ax.axvspan(min(wx[0], h_star / 1.5), h_star, color="c", alpha=0.15, lw=0)
        ax.set_xlim(min(wx[0], h_star / 1.5), wx[-1])
        handles.append(
            Line2D(
                [],
                [],
                color="c",
                lw=2,
                label=f"jamming: h* = {h_star:.2g} (N* = "
                f"{jamming['N_star']:.0f}); left of it, under-parametrised",
            )
        )
    ax.set(xscale="log", yscale="log", xlabel="width h", ylabel="α")
    ax.set_xticks(widths, [f"{w:g}" for w in widths])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.text(0.97, 0.95, "lazy", transform=ax.transAxes, ha="right", va="top", color="k")
    ax.text(0.97, 0.05, "feature", transform=ax.transAxes, ha="right", va="bottom", color="k")
    ax.set_title(
        f"Phase diagram ({config['dataset']}, {config['arch']}, P = {config['data']['P']})"
    )
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    fig.tight_layout()
    drawn["phase_diagram"] = fig
    return drawn


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function


def save_results(
    record: Mapping[str, Any],
    out: str | Path,
    figures: str | Path | None = None,
    name: str = "feature_lazy",
) -> dict[str, Any]:
    """Write ``<name>.json`` and the figures; returns the summary."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    written = save_figures(_draw(record), figures, name)
    fit = record["alpha_star_fit"]
    return {
        "name": name,
        "dataset": record["config"]["dataset"],
        "arch": record["config"]["arch"],
        "P": record["config"]["data"].get("P"),
        "crossover": record["crossover"],
        "alpha_star_fit": None
        if fit is None
        else {k: fit[k] for k in ("slope", "ci_low", "ci_high", "n_widths", "min_width")},
        "variance_fit": record["variance_fit"],
        "jamming": record.get("jamming"),
        "regime": record["regime"],
        "lazy": record["lazy"],
        "reported": REPORTED,
        "record": f"{name}.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }


def _protocols() -> dict[str, dict[str, FeatureLazyConfig]]:
    digits = {"P": 256, "n_test": 1000, "labels": "parity", "pca": 10}
    digits.update(center=True, sphere=True)
    mnist = {"P": 10_000, "n_test": 10_000, "labels": "parity"}
    cifar = {"P": 10_000, "n_test": 10_000, "labels": "halves"}
    alphas = tuple(float(10**e) for e in np.arange(-3.0, 4.01, 0.5))
    common = dict(alphas=alphas, seeds=tuple(range(10)), max_steps=200_000, kernel_points=256)
    return {
        "quick": {
            "stripe": FeatureLazyConfig(),
            "digits": FeatureLazyConfig(
                dataset="digits",
                data=digits,
                widths=(16.0, 64.0),
                alphas=(0.01, 0.1, 1.0, 10.0, 100.0),
                jamming=False,
            ),
        },
        "paper": {
            "mnist_fc": FeatureLazyConfig(
                dataset="mnist",
                data=mnist,
                depth=3,
                activation="relu",
                widths=(100.0, 300.0, 1000.0, 3000.0),
                **common,
            ),
            "cifar10_cnn": FeatureLazyConfig(
                dataset="cifar10",
                data=cifar,
                arch="cnn",
                depth=5,
                activation="relu",
                widths=(16.0, 32.0, 64.0, 128.0),
                **common,
            ),
        },
    }


PROTOCOLS = _protocols()
"""The protocols: ``quick`` (the stripe model, digits parity) and ``paper`` (MNIST with
fully connected nets, CIFAR10 with CNNs), each case one phase diagram."""


def feature_lazy_configs(
    scale: str, root: str | None = None
) -> list[tuple[str, FeatureLazyConfig]]:
    """The cases of protocol ``scale`` as ``(feature_lazy_<case>, config)`` pairs."""
    cases = protocol_cases(PROTOCOLS, scale, "feature vs lazy", root)
    return [(f"feature_lazy_{case}", config) for case, config in cases.items()]


def feature_lazy_section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: str | None = None,
    device: str = "cpu",
):
    """Every protocol of ``scale`` through the sweep store ``store`` (default
    ``out/symscape.db``) on ``executor`` (default ``pool``), every network on
    ``device``; their summaries."""
    store = section_store(out, store)
    summaries = []
    for name, config in feature_lazy_configs(scale, root):
        config = dataclasses.replace(config, device=device)
        record = run(config, store, executor=executor or "pool")
        summary = save_results(record, out, figures, name)
        summary["scale"] = scale
        summaries.append(summary)
    return {"protocols": summaries}


section = feature_lazy_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(section: Mapping[str, Any]) -> str:
    lines = ["## Feature vs lazy training", ""]
    for summary in section["protocols"]:
        lines += [
            f"### {summary['dataset']}, {summary['arch']}, P = {summary['P']} "
            f"({summary['wall_time_s']} s; record [{summary['record']}]({summary['record']}))",
            "",
            "| h | α* | α* √h (code convention) |",
            "|---|---|---|",
        ]
        for c in summary["crossover"]:
            lines.append(
                f"| {c['width']:g} | {cell(c['alpha_star'])} | {cell(c['alpha_star_code'])} |"
            )
        fit = summary["alpha_star_fit"]
        if fit:
            interval = ci_text(fit)
            lines += [
                "",
                f"α* ~ h^b: b = {fit['slope']:.2f}{interval} over {fit['n_widths']} widths "
                f"h ≥ {fit['min_width']:.3g} "
                f"(reported {summary['reported']['alpha_star_exponent']}).",
            ]
        jamming = summary.get("jamming") or {}
        if jamming.get("N_star"):
            lines += [
                "",
                f"Jamming line (the jamming minimiser, half of the seeds fit): N* = "
                f"{jamming['N_star']:.0f} (bracket {jamming['bracket']}), h* = "
                f"{jamming['h_star']:.3g}.",
            ]
        regime = summary["regime"]
        lines += [
            "",
            f"At h = {regime['width']:g}: feature regime (smallest α) test error "
            f"{regime['feature_error']:.3f}, lazy ({regime['lazy_source']}) "
            f"{regime['lazy_error']:.3f}: "
            f"the {regime['better']} regime generalises better.",
            "",
        ]
    return "\n".join(lines)
