"""Double descent: test error against N through N*, single networks and the ensemble average.

SCIENCE.md §2 and §0. At fixed P, networks of several widths h are trained
to convergence by gradient flow (``dynamics="flow"``, the adaptive flow of
SCIENCE.md §3: it stops a member once N_Δ = 0, where the hinge loss and its
gradient vanish), E seeds per width as one ensemble, through the sweep
store. Depth 3 by default, so that N ∝ h² over the fit range. From the
stored per-seed test outputs (:mod:`~symscape.experiments.double_descent_analysis`):

* ε_N, the test error of each network (mean and spread over seeds);
* ε̄_N, the test error of the ensemble-averaged predictor f̄_N = mean_i f_N,i;
* the fluctuation ‖f_N − f̄_N‖ (root mean square over test points, averaged
  over seeds) — ~ h^−1/2 beyond N* (reported ~ N^−1/4, where N ∝ h²);
* ε_N − ε̄_N, the part of the error the ensemble average removes — ~ h^−1
  (reported ~ N^−1/2, ``ε_N − ε_∞`` with ε̄ standing in for ε_∞), and its
  statistical floor, the paired sampling sd √(Var_x d(x)/n) of the gap on the
  shared test points (below two floors its exponent is not testable);
* N*, where the fitted fraction (undecided runs counted as not fitted)
  crosses 1/2. Near N* the flow approaches a zero loss ever more slowly
  (critical slowing down): its own runs there stay undecided at any budget a
  laptop affords and its crossing lies well above the transition. So N* is
  located by the jamming minimiser (L-BFGS until N_Δ = 0 or its loss stops
  moving), a bisection in width at the same P between the narrowest width
  and the narrowest one where the flow fitted half its seeds
  (:func:`locate_n_star`, ``locate``); the flow's own crossing is kept
  beside it. The flow itself stops a run whose loss has stopped moving
  (``window_steps``, ``window_tol``; outcome ``"plateau"``): with N_Δ > 0
  it is decided, not fitted, as the authors stop theirs (no Hessian check
  follows, unlike the minimiser's window: a flow that lingers at a saddle
  that long is counted as stopped there).

The exponents are fitted against h, then against N, on the widths with
N ≥ ``fit_from`` · N* where every seed fitted (least squares in log–log; the
95 % interval resamples the members and recomputes the ensemble average,
so it reflects the seeds' scatter).

>>> DoubleDescentConfig(widths=(2.0, 8.0), seeds=(0, 1)).train_config().dynamics
'flow'
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symscape.config import (
    Flag,
    Interval,
    Items,
    JsonConfig,
    Options,
    OrNone,
    Seeds,
    Table,
    param,
)
from symscape.experiments._output import save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._record import stamp
from symscape.experiments._sweeps import section_store
from symscape.experiments.double_descent_analysis import IN_H, REPORTED, analyse
from symscape.experiments.double_descent_report import describe, markdown_section
from symscape.sweep.runner import Runner, as_runner, given_store_path
from symscape.train.config import ACTIVATION, ARCH, DATASET, DEVICE, DTYPE

__all__ = [
    "DYNAMICS",
    "IN_H",
    "PROTOCOLS",
    "REPORTED",
    "Config",
    "DoubleDescentConfig",
    "analyse",
    "describe",
    "double_descent_section",
    "figures",
    "locate_n_star",
    "markdown_section",
    "run",
    "save_results",
    "section",
]

DYNAMICS = ("flow", "adam", "lbfgs")
"""The dynamics double descent trains with: gradient flow (the default, SCIENCE.md §2),
full-batch Adam at small learning rate, or L-BFGS (it overshoots the margin and inflates
‖f − f̄‖ 2–3×; kept for comparison)."""

MNIST_PARITY = {
    "P": 200,
    "n_test": 1000,
    "labels": "parity",
    "pca": 10,
    "center": True,
    "sphere": True,
}
"""MNIST parity on 10 whitened PCA components (the papers' data), all 1,000 test digits of
``mnist-5k``."""


@dataclasses.dataclass(frozen=True)
class DoubleDescentConfig(JsonConfig):
    """Test error against width at fixed P (defaults: the quick protocol, MNIST-5k parity)."""

    dataset: str = param("mnist-5k", "data set name", DATASET)
    data: Mapping[str, Any] = param(MNIST_PARITY, "data-set options", Table())
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(3, "hidden layers (3 or more: N ∝ h²)", Interval(int, 0, None))
    activation: str = param("swish", "activation function", ACTIVATION)
    widths: tuple[float, ...] = param(
        (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0),
        "widths (fractional widths allowed)",
        Items(Interval(float, 0, None, closed="neither"), at_least=2, sort=True,
              why="double descent needs several widths"),
    )  # fmt: skip
    seeds: tuple[int, ...] = param(
        tuple(range(8)),
        "seeds per width (one ensemble)",
        Seeds(at_least=2, why="an ensemble average needs several seeds"),
    )
    dynamics: str = param("flow", "training dynamics", Options(DYNAMICS, what="dynamics"))
    max_steps: int = param(
        10_000,
        "steps at most per ensemble (a run that reaches it unfitted is undecided: not fitted)",
        Interval(int, 0, None),
    )
    window_steps: int | None = param(
        2000,
        "flow: steps over which the loss must keep falling, else the run has stopped (outcome "
        "'plateau', with N_Δ > 0: decided, not fitted, as the authors stop theirs)",
        OrNone(Interval(int, 1, None), "no window"),
    )
    window_tol: float = param(
        1e-3,
        "relative loss decrease over window_steps below which the loss stopped moving",
        Interval(float, 0, None, closed="neither"),
    )
    locate: bool = param(
        True,
        "locate N* with the jamming minimiser (L-BFGS until N_Δ = 0 or its loss stops moving), "
        "a bisection in width at the same P: near N* the flow crawls past any budget",
        Flag(),
    )
    locate_bisections: int = param(
        3, "bisection steps in log width locating N*", Interval(int, 0, None)
    )
    locate_steps: int = param(
        30_000,
        "gradient evaluations per ensemble at most, locating N* (a run that reaches it "
        "unfitted is undecided: not fitted)",
        Interval(int, 0, None),
    )
    locate_window_steps: int = param(
        500,
        "accepted L-BFGS steps over which the loss must keep moving, locating N*",
        Interval(int, 1, None),
    )
    locate_window_tol: float = param(
        1e-3,
        "relative loss decrease over locate_window_steps below which the loss stopped moving",
        Interval(float, 0, None, closed="neither"),
    )
    fit_from: float = param(
        4.0, "fit the exponents on N >= FIT_FROM x N*", Interval(float, 1, None)
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
            dynamics=self.dynamics,
            max_steps=self.max_steps,
            # the gradient flow's loss only falls: one that stops falling has stopped (L-BFGS
            # has its own window; Adam's loss can rise over a window, no sign of a minimum)
            plateau_window=self.window_steps if self.dynamics == "flow" else None,
            plateau_tol=self.window_tol,
            record_points=24,
            seeds=self.seeds,
            dtype=self.dtype,
            device=self.device,
        )

    def locator(self, P: int, width_max: float):
        """The jamming search that locates N* at this P: the same network and data, the
        jamming minimiser, a bisection in log width from the narrowest width to
        ``width_max`` (one where the flow already fitted half its seeds)."""
        from symscape.experiments.jamming.config import JammingConfig

        return JammingConfig(
            dataset=self.dataset,
            data={k: v for k, v in self.data.items() if k != "P"},
            P_values=(P,),
            arch=self.arch,
            depth=self.depth,
            activation=self.activation,
            seeds=self.seeds,
            width_min=max(1.0, self.widths[0]),
            width_max=width_max,
            bisections=self.locate_bisections,
            max_steps=self.locate_steps,
            window_steps=self.locate_window_steps,
            window_tol=self.locate_window_tol,
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
    search = None
    if config.locate:
        search = locate_n_star(config, rows, len(ds.y_train), runner)
    record = analyse(config, rows, outputs, y_test, early, search)
    stamp(record, "double_descent", config, started)
    return record


def locate_n_star(
    config: DoubleDescentConfig, rows: Mapping[float, list], P: int, runner: Runner
) -> dict[str, Any] | None:
    """N* by the jamming minimiser (:meth:`DoubleDescentConfig.locator`): a bisection in log
    width between the narrowest width and the narrowest one where the flow fitted half its
    seeds (``rows[w]``: the flow's stored rows). ``None`` when the flow fitted half its seeds
    at the narrowest width already or at none (no bracket); else the search's result
    (``N_star`` is ``None`` when the minimiser's fitted fractions do not cross 1/2 inside
    the bracket)."""
    from symscape.experiments.jamming.search import find_transition, outcome_counts

    def fitted(width: float) -> float:
        return outcome_counts(row["scalars"]["outcome"] for row in rows[width])["fitted"]

    # widths below 1 are not networks the minimiser's search spans (its widths start at 1)
    top = next((w for w in config.widths if fitted(w) >= 0.5), None)
    if top is None or top == config.widths[0] or top <= 1.0:
        return None
    search = find_transition(config.locator(P, top), P, runner)
    return {
        "N_star": search["N_star"],
        "bracket": search["bracket"],
        "width_bracket": search.get("width_bracket"),
        "outside": search["outside"],
        "tried": [
            {k: t[k] for k in ("width", "N", "fitted", "undecided_fraction")}
            for t in search["tried"]
        ],
    }


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a :func:`run` record, ``{stem: matplotlib.figure.Figure}`` (saved as
    ``double_descent_STEM``): ``error`` (test errors against N/N*) and ``fluctuations``
    (‖f_N − f̄_N‖ and ε_N − ε̄_N against the width h, with their fits in h and the error
    gap's statistical floor). Pure: no file is written and no pyplot figure opened."""
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
    h = np.array([p["width"] for p in points], float)
    ax.plot(h, [p["fluctuation"] for p in points], "o-", label="‖f_N − f̄_N‖")
    gap = [  # a gap ≤ 0 has no place on log axes
        g if (g := p["test_error"] - p["ensemble_test_error"]) > 0 else np.nan for p in points
    ]
    ax.plot(h, gap, "s-", label="ε_N − ε̄_N")
    # the floor the gap's verdict uses: paired on the shared test points (an old record
    # without it: the error's own floor)
    floor = [2 * p.get("gap_floor", p["error_floor"]) for p in points]
    ax.plot(h, floor, color="grey", lw=0.8, label="2 × floor of ε_N − ε̄_N")
    fitted_h = np.array(record.get("fit_widths", []), float)
    for name, marker in (("fluctuation_h", "k--"), ("error_gap_h", "k:")):
        fit = record["fits"].get(name)
        if fit and len(fitted_h):
            ax.plot(
                fitted_h,
                np.exp(fit["intercept"]) * fitted_h ** fit["slope"],
                marker,
                lw=0.9,
                label=f"slope {fit['slope']:.2f} (theory {fit['reported']})",
            )
    ax.set(xscale="log", yscale="log", xlabel="width h", title="What the ensemble average removes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    drawn["fluctuations"] = fig
    return drawn


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function

_SUMMARY_POINT = (
    "width",
    "N",
    "fitted",
    "undecided",
    "test_error",
    "ensemble_test_error",
    "error_floor",
    "gap_floor",
    "early_stopping_error",
    "fluctuation",
    "output_norm",
)
_SUMMARY_FIT = ("slope", "ci_low", "ci_high", "reported", "untestable", "n_sizes", "n_seeds")


def save_results(record: Mapping[str, Any], out: str | Path, figures: str | Path | None = None):
    """Write ``double_descent.json`` and the figures; returns the summary."""
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / "double_descent.json").write_text(json.dumps(record, indent=1) + "\n")
    written = save_figures(_draw(record), figures, "double_descent")
    fits = {name: {k: fit.get(k) for k in _SUMMARY_FIT} for name, fit in record["fits"].items()}
    return {
        "N_star": record["N_star"],
        "N_star_located": record.get("N_star_located"),
        "N_star_lowest": record.get("N_star_lowest"),
        "N_star_highest": record.get("N_star_highest"),
        "N_star_flow": record.get("N_star_flow"),
        "N_star_search": record.get("N_star_search"),
        "fit_from": record["config"]["fit_from"],
        "fit_widths": record.get("fit_widths", []),
        "dlnN_dlnh": record.get("dlnN_dlnh"),
        "dynamics": record["config"].get("dynamics"),
        "fits": fits,
        "fit_starts": record.get("fit_starts", []),
        "gap_fit_starts": record.get("gap_fit_starts", []),
        "reported": record["reported"],
        "points": [{k: p.get(k) for k in _SUMMARY_POINT} for p in record["points"]],
        "record": "double_descent.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
        "wall_time_s": round(record["wall_time_s"], 2),
    }


PROTOCOLS = {
    "quick": {"mnist-5k": DoubleDescentConfig()},
    "medium": {
        "mnist-5k": DoubleDescentConfig(
            data={**MNIST_PARITY, "P": 500},
            widths=(2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192),
            seeds=tuple(range(16)),
            max_steps=20_000,
            locate_bisections=4,
        )
    },
    "paper": {
        "mnist": DoubleDescentConfig(
            dataset="mnist",
            data={**MNIST_PARITY, "P": 10_000, "n_test": 10_000},
            depth=5,
            activation="relu",
            widths=(8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 128.0, 256.0),
            seeds=tuple(range(20)),
            max_steps=500_000,
        )
    },
}
"""The protocols: ``quick`` (MNIST-5k parity on 10 whitened PCA components, P = 200,
depth 3, 8 seeds, h = 1…96; the minimiser puts N* near h ≈ 2.2), ``medium`` (P = 500,
16 seeds, h = 2…192; the minimiser puts N* near h ≈ 4, the flow's own runs cross 1/2
near h ≈ 10; four bisections locate it) and ``paper`` (MNIST parity, P = 10k, depth-5
ReLU nets, 20 seeds)."""


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
    """``quick`` and ``medium``: MNIST-5k parity, 10 whitened PCA components, P = 200 and
    500; ``paper``: MNIST parity, P = 10k.

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
