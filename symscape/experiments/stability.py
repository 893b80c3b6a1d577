r"""Relative stability toward diffeomorphisms of trained classifiers, and their test error.

The experiment of Petrini, Favero, Geiger and Wyart (NeurIPS 2021), on the
zoo of :mod:`symscape.nets.zoo`: train each architecture with several seeds,
and measure, at initialisation and after training, on ``n_points`` test
images,

    D_f (sensitivity to diffeomorphisms),  G_f (to noise of the same norm),
    R_f = D_f / G_f,

at a list of typical displacements δ (or temperatures), on the output and,
at the reference δ (the one closest to 1 pixel), layer by layer. Seeds are
combined by geometric mean. Across architectures, the test error is fitted
by a power law ``ε = a R_f^b`` (:func:`fit_power_law`); the reported law,
ε ≈ 0.2 √R_f over 15 architectures on CIFAR10, is drawn beside the fit for
comparison, never used in place of a measurement.

Protocols (:func:`quick_config`, :func:`paper_config`):

* ``quick``: scikit-learn's digits upsampled to 28×28 (1,297 training and
  500 test images, embedded), ``fc:0.5``, ``lenet``, ``vgg:0.25`` and
  ``resnet18:0.125``, three seeds, 12 epochs of SGD (batch 64, lr 0.05,
  momentum 0.9, weight decay 5e-4, cosine schedule), random crops (padding
  2), no flips (digits are not mirror-symmetric); δ from 0.5 to 2.5 pixels,
  c = 3, 500 test points, median estimator. A few minutes on 2 cores.
* ``paper``: CIFAR10 from ``$SYMSCAPE_DATA``, the settings of the paper's
  code: SGD with learning rate 0.1, momentum 0.9, weight decay 5e-4, batch
  128, 250 epochs, a cosine schedule (annealed to zero over the epochs here;
  the original anneals over 200 epochs), horizontal flips, no crops; δ from
  0.5 to 3 pixels, c = 3, 500 test points, median estimator, three seeds.
  The reported study has 15 architectures, most of which (AlexNet,
  EfficientNet, ...) the zoo does not build: this protocol spans the zoo's
  four at several widths, 15 networks in all.

Inputs are normalised per channel with the training set's mean and standard
deviation; deformations and noise act on the normalised images (a
deformation commutes with that affine map, so only the noise's norm is
measured in normalised units). Models are measured in ``eval()`` mode (batch
norm with running statistics). Deformations, noise and bootstrap of a
network's measurement depend on its seed only, so the network at
initialisation and after training sees the same deformations.

>>> fit = fit_power_law([0.2 * r**0.5 for r in (1e-3, 1e-2, 1e-1)], [1e-3, 1e-2, 1e-1])
>>> round(fit["a"], 12), round(fit["b"], 12)
(0.2, 0.5)
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
import torch

from symscape._version import __version__
from symscape.analysis import fit_line, geometric_mean
from symscape.config import (
    Flag,
    Interval,
    Items,
    JsonConfig,
    Options,
    OrNone,
    Seeds,
    Table,
    Text,
    param,
)
from symscape.data import get_dataset_spec
from symscape.diffeo import (
    deform,
    same_norm_noise,
    temperature_from_displacement,
    temperature_range,
    typical_displacement,
)
from symscape.errors import InvalidOptionError
from symscape.experiments._output import cell, save_figure, save_figures
from symscape.experiments._protocols import protocol_cases
from symscape.experiments._stability_network import (
    _load_data,
    _one_network,
    _reference,
    _scales,
)
from symscape.experiments._sweeps import complete, section_store
from symscape.experiments.stability_report import describe
from symscape.measure.sensitivity import ESTIMATORS
from symscape.nets.zoo import (
    spelled_classifier,
)
from symscape.runnable import Experiment
from symscape.runtime import torch_threads
from symscape.train.classifier import (  # noqa: F401  (_random_crop, _random_flip: old paths)
    SCHEDULES,
    _positive,
    _random_crop,
    _random_flip,
    classification_error,
    train_classifier,
)
from symscape.train.config import DATASET, DEVICE, DTYPE

__all__ = [
    "NETWORK_EXPERIMENT",
    "REPORTED_LAW",
    "SCHEDULES",
    "NetworkConfig",
    "StabilityConfig",
    "classification_error",
    "describe",
    "error_vs_stability_figure",
    "figures",
    "fit_power_law",
    "gallery_figure",
    "layers_figure",
    "markdown_section",
    "paper_config",
    "quick_config",
    "run",
    "save_figure",
    "save_results",
    "section",
    "sensitivity_curves_figure",
    "stability_section",
    "train_classifier",
]

# ε ≈ a R_f^b across 15 architectures on CIFAR10, as reported (SCIENCE.md §4)
REPORTED_LAW = {"a": 0.2, "b": 0.5}
_FORBIDDEN_DATA = ("labels", "dtype", "device", "flatten", "pca", "sphere")


_POSITIVE = Interval(float, 0, None, closed="neither")
_ZOO = (
    "fc:0.5",
    "fc:1",
    "fc:2",
    "lenet:1",
    "lenet:2",
    "lenet:4",
    "vgg:0.25",
    "vgg:0.5",
    "vgg:1",
    "vgg:2",
    "resnet18:0.125",
    "resnet18:0.25",
    "resnet18:0.5",
    "resnet18:1",
    "resnet18:2",
)


@dataclasses.dataclass(frozen=True)
class StabilityConfig(JsonConfig):
    """Everything that defines a stability run (defaults: the paper's CIFAR10 protocol)."""

    # data: a registered image data set and its options (P, n_test, image_size, root, seed)
    dataset: str = param("cifar10", "image data set", DATASET)
    data: Mapping[str, Any] = param(
        {}, "data-set options (P, n_test, image_size, root, seed)", Table()
    )
    # networks: zoo specs "name" or "name:width"; a spec in checkpoints is loaded, not trained
    architectures: tuple[str, ...] = param(
        _ZOO,
        "zoo specs: fc, lenet, vgg or resnet18, optionally :WIDTH (resnet18:0.25)",
        Items(Text("a zoo spec NAME[:WIDTH]", canonical=spelled_classifier), distinct=True),
    )
    checkpoints: Mapping[str, str] = param(
        {}, "state-dict files to measure instead of training (spec -> path)", Table()
    )
    # training
    epochs: int = param(250, "training epochs", Interval(int, 0, None))
    batch_size: int = param(128, "SGD batch size", Interval(int, 2, None))
    lr: float = param(0.1, "initial learning rate", _POSITIVE)
    momentum: float = param(0.9, "SGD momentum", Interval(float, 0, 1, closed="left"))
    weight_decay: float = param(5e-4, "weight decay", Interval(float, 0, None))
    schedule: str = param("cosine", "learning-rate schedule", Options(SCHEDULES, what="schedule"))
    crop: bool = param(False, "random-crop augmentation", Flag())
    crop_padding: int = param(4, "its padding in pixels", Interval(int, 0, None))
    flip: bool = param(True, "horizontal-flip augmentation", Flag())
    diffeo_augment: bool = param(False, "diffeo augmentation", Flag())
    diffeo_delta: float = param(1.0, "its displacement in pixels", _POSITIVE)
    seeds: tuple[int, ...] = param((0, 1, 2), "network seeds", Seeds())
    # evaluation
    n_points: int = param(500, "test points measured", Interval(int, 2, None))
    deltas: tuple[float, ...] | None = param(
        (0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
        "typical displacements in pixels",
        OrNone(Items(_POSITIVE), "temperatures instead"),
    )
    temperatures: tuple[float, ...] | None = param(
        None, "temperatures T instead of displacements", OrNone(Items(_POSITIVE), "deltas")
    )
    c: float = param(3.0, "cut-off of the deformations", Interval(float, 2, None))
    estimator: str = param(
        "median", "median (the paper's code) or mean", Options(lambda: ESTIMATORS, what="estimator")
    )
    n_bootstrap: int = param(200, "bootstrap replicates", Interval(int, 0, None))
    # numerics
    dtype: str = param("float32", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)
    threads: int = param(1, "torch threads", Interval(int, 1, None))

    def __post_init__(self):
        spec = get_dataset_spec(self.dataset)
        if spec.input_kind != "image":
            raise InvalidOptionError(
                f"dataset={self.dataset!r} has no images ({spec.input_kind} inputs)",
                fix="use digits (with image_size=28), mnist, fashion-mnist or cifar10",
            )
        for key in _FORBIDDEN_DATA:
            if key in self.data:
                raise InvalidOptionError(
                    f"data option {key!r} is set by the stability run",
                    fix=f"drop {key!r} from data (images and class labels are needed)",
                )
        spec.resolve(self.data)
        checkpoints = {
            spelled_classifier(str(k)) if isinstance(k, str) else str(k): str(v)
            for k, v in self.checkpoints.items()
        }
        stray = [k for k in checkpoints if k not in self.architectures]
        if stray:
            raise InvalidOptionError(
                f"checkpoints for {stray} not in architectures {list(self.architectures)}",
                fix="key each checkpoint by one of the architecture specs",
            )
        object.__setattr__(self, "checkpoints", checkpoints)
        if (self.deltas is None) == (self.temperatures is None):
            raise InvalidOptionError(
                "give exactly one of deltas and temperatures",
                fix="e.g. deltas=(0.5, 1, 2) and temperatures=None",
            )
        for name in ("deltas", "temperatures"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))


def quick_config(**changes: Any) -> StabilityConfig:
    """The quick protocol (digits at 28×28, four small nets, minutes on a CPU), with changes."""
    settings = dict(
        dataset="digits",
        data={"image_size": 28},
        architectures=("fc:0.5", "lenet", "vgg:0.25", "resnet18:0.125"),
        epochs=12,
        batch_size=64,
        lr=0.05,
        crop=True,
        crop_padding=2,
        flip=False,
        seeds=(0, 1, 2),
        deltas=(0.5, 1.0, 1.5, 2.0, 2.5),
    )
    return StabilityConfig(**{**settings, **changes})


def paper_config(**changes: Any) -> StabilityConfig:
    """The paper's protocol on CIFAR10 (the config's defaults), with changes."""
    return StabilityConfig(**changes)


PROTOCOLS = {"quick": {"digits": quick_config()}, "paper": {"cifar10": paper_config()}}
"""The protocols: ``quick`` (digits at 28×28, four small nets) and ``paper`` (CIFAR10)."""


# --------------------------------------------------------------------------- one network
# a stability run's fields that one network shares with the others; the rest is per network
_PER_NETWORK = {"architectures": "architecture", "seeds": "seed", "checkpoints": "checkpoint"}
_SHARED = tuple(f.name for f in dataclasses.fields(StabilityConfig) if f.name not in _PER_NETWORK)


def _network_post_init(self) -> None:
    """Checked as the stability run of this one network; values as that run spells them."""
    config = self.stability_config()
    for name in _SHARED:
        object.__setattr__(self, name, getattr(config, name))
    object.__setattr__(self, "architecture", config.architectures[0])
    object.__setattr__(self, "seed", config.seeds[0])


def _stability_config(self) -> StabilityConfig:
    """The :class:`StabilityConfig` of this one network (one architecture, one seed)."""
    return StabilityConfig(
        **{name: getattr(self, name) for name in _SHARED},
        architectures=(self.architecture,),
        seeds=(self.seed,),
        checkpoints={self.architecture: self.checkpoint} if self.checkpoint else {},
    )


def _network_fields() -> list[tuple[str, Any, dataclasses.Field]]:
    """The fields of :class:`NetworkConfig`: the per-network three, then the shared ones."""
    out: list[tuple[str, Any, dataclasses.Field]] = [
        ("architecture", "str", dataclasses.field(default=StabilityConfig.architectures[0])),
        ("seed", "int", dataclasses.field(default=0)),
        ("checkpoint", "str", dataclasses.field(default="")),
    ]
    for f in dataclasses.fields(StabilityConfig):
        if f.name in _SHARED:
            copy = dataclasses.field(
                default=f.default, default_factory=f.default_factory, metadata=f.metadata
            )
            out.append((f.name, f.type, copy))
    return out


# One network of a stability run, a sweep run of its own (``stability-network``): the
# architecture spec, the seed, the checkpoint to load instead of training ("": train), and
# every other field of StabilityConfig, declared there once and copied here.
NetworkConfig = dataclasses.make_dataclass(
    "NetworkConfig",
    _network_fields(),
    bases=(JsonConfig,),
    frozen=True,
    namespace={
        "__module__": __name__,
        "__doc__": "One network (architecture, seed, checkpoint) of a stability run.",
        "NAMES": StabilityConfig.NAMES,
        "UNLIMITED": StabilityConfig.UNLIMITED,
        "__post_init__": _network_post_init,
        "stability_config": _stability_config,
    },
)


def network_configs(config: StabilityConfig) -> list:
    """One :class:`NetworkConfig` per network of ``config``: architecture by architecture,
    seed by seed (the order of ``record["runs"]``)."""
    shared = {name: getattr(config, name) for name in _SHARED}
    return [
        NetworkConfig(
            architecture=spec, seed=seed, checkpoint=config.checkpoints.get(spec, ""), **shared
        )
        for spec in config.architectures
        for seed in config.seeds
    ]


def _network_run(network) -> dict[str, Any]:
    """The entry of one network (see :func:`run`) and its ``seconds``."""
    config = network.stability_config()
    with torch_threads(config.threads):
        data = _load_data(config)
        temps, deltas = _scales(config, tuple(data.x_test.shape[-2:]))
        entry, seconds = _one_network(
            network.architecture, network.seed, data, config, temps, _reference(deltas)
        )
    return {**entry, "seconds": seconds}


def _network_status(record: Mapping[str, Any]) -> str:
    return "diverged" if record["trained"].get("status") == "diverged" else "done"


NETWORK_EXPERIMENT = Experiment(
    name="stability-network",
    config=NetworkConfig,
    run=_network_run,
    status=_network_status,
)


def sweep_spec(config: StabilityConfig):
    """The sweep of ``config``: one run per network, in the order of :func:`network_configs`."""
    from symscape.sweep import SweepSpec

    networks = network_configs(config)
    fixed = {name: value for name, value in networks[0].to_dict().items() if name in _SHARED}
    per_network = {
        name: [network.to_dict()[name] for network in networks]
        for name in ("architecture", "seed", "checkpoint")
    }
    return SweepSpec(
        "stability-network", f"stability-{config.dataset}", fixed, {}, (per_network,), None
    )


# --------------------------------------------------------------------------- training


# --------------------------------------------------------------------------- the run


def _trained_networks(config: StabilityConfig, store_path, executor) -> list[dict[str, Any]]:
    """The entry and ``seconds`` of every network, through the sweep store (in run order)."""
    import tempfile

    from symscape.sweep import Store

    if store_path is None:
        with tempfile.TemporaryDirectory(prefix="symscape-stability-") as folder:
            return _trained_networks(config, Path(folder) / "stability.db", executor)
    spec = sweep_spec(config)
    keys = [run.key for run in spec.runs()]
    complete(spec, store_path, executor, "of the stability zoo")
    with Store(store_path, create=False) as store:
        return [row["scalars"] for row in store.get(keys)]


def _geometric(values: list[float | None]) -> float | None:
    """Geometric mean of finite values; ``None`` (JSON null) when any is missing."""
    if any(v is None for v in values):
        return None
    g = geometric_mean(values)
    return g if math.isfinite(g) else None


def _summarise(runs: list[dict], spec: str, reference: int) -> dict:
    mine = [r for r in runs if r["architecture"] == spec]
    out: dict[str, Any] = {
        "architecture": spec,
        "seeds": [r["seed"] for r in mine],
        "n_parameters": mine[0]["n_parameters"],
        "test_errors": [r["trained"]["test_error"] for r in mine],
        "test_error": float(np.mean([r["trained"]["test_error"] for r in mine])),
        "stages": mine[0]["stages"],
    }
    for phase in ("init", "trained"):
        curves = {}
        for key in ("D", "G", "R"):
            per_t = zip(*[[s[key] for s in r[phase]["output"]] for r in mine], strict=True)
            curves[key] = [_geometric(list(values)) for values in per_t]
        out[phase] = curves
        for key in ("D", "G", "R"):
            out[f"{key}_{phase}"] = curves[key][reference]
        per_stage = zip(*[[s["R"] for s in r[phase]["layers"]] for r in mine], strict=True)
        out[f"layers_R_{phase}"] = [_geometric(list(values)) for values in per_stage]
    return out


def _correlation(x: list, y: list) -> float | None:
    """Pearson correlation of log x and log y over finite positive pairs (None below 3)."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a and b and a > 0 and b > 0]
    if len(pairs) < 3:
        return None
    lx, ly = np.log(np.array(pairs, dtype=np.float64)).T
    if np.ptp(lx) == 0 or np.ptp(ly) == 0:
        return None
    return float(np.corrcoef(lx, ly)[0, 1])


def run(
    config: StabilityConfig, store_path: str | Path | None = None, executor="inprocess"
) -> dict[str, Any]:
    """Train (or load) and measure every architecture and seed; returns a JSON-able record.

    Each network is one run of the sweep store ``store_path`` (a temporary
    store when ``None``) on ``executor`` (a name or an
    :class:`~symscape.sweep.executors.ExecutorChoice`): a rerun into the same
    store trains only the networks it does not hold yet.
    ``record["runs"]`` holds one entry per network (architecture and seed):
    test error and D_f, G_f, R_f (with bootstrap intervals) at every δ, at
    initialisation and after training, and R_f per stage at the reference δ.
    ``record["summary"]`` combines the seeds (geometric means; arithmetic
    mean of the test error); ``record["fit"]`` is :func:`fit_power_law`
    across architectures. Everything but ``record["timing"]`` is the same
    for the same config on a CPU, whatever the executor.
    """
    if not isinstance(config, StabilityConfig):
        raise InvalidOptionError(
            f"run needs a StabilityConfig, got {type(config).__name__}",
            fix="build one with StabilityConfig(...) or quick_config()",
        )
    started = time.perf_counter()
    with torch_threads(config.threads):
        data = _load_data(config)
        size = tuple(data.x_test.shape[-2:])
        temps, deltas = _scales(config, size)
        reference = _reference(deltas)
    runs = _trained_networks(config, store_path, executor)
    times = {f"{r['architecture']} seed {r['seed']}": round(r.pop("seconds"), 2) for r in runs}
    summary = [_summarise(runs, spec, reference) for spec in config.architectures]
    errors = [s["test_error"] for s in summary]
    try:
        fit = fit_power_law(errors, [s["R_trained"] for s in summary])
    except InvalidOptionError as err:
        fit = {"a": None, "b": None, "reason": str(err)}
    t_min, t_max = temperature_range(size, config.c)
    return {
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
        "correlation_with_log_error": {
            "log_R": _correlation([s["R_trained"] for s in summary], errors),
            "log_D": _correlation([s["D_trained"] for s in summary], errors),
        },
        "reported": {
            **REPORTED_LAW,
            "law": "test error ≈ 0.2 √R_f",
            "source": "Petrini, Favero, Geiger, Wyart 2021: 15 architectures on CIFAR10",
        },
        "timing": {"total_s": round(time.perf_counter() - started, 2), "networks_s": times},
    }


# --------------------------------------------------------------------------- analysis


def fit_power_law(errors: Sequence[float], R: Sequence[float]) -> dict[str, Any]:
    """Least-squares fit of ``log ε = log a + b log R`` across points ``(R_i, ε_i)``.

    Points with a value that is not finite and positive are left out (their
    count is ``dropped``). Returns ``a``, ``b``, the number of points used,
    the root-mean-square residual in ``ln ε``, and the reported law
    (``a_reported = 0.2``, ``b_reported = 0.5``) beside them for comparison.
    Needs two points with different R_f.
    """
    try:
        e = np.asarray([np.nan if v is None else float(v) for v in errors], dtype=np.float64)
        r = np.asarray([np.nan if v is None else float(v) for v in R], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            "fit_power_law needs two lists of numbers", fix="pass test errors and R_f values"
        ) from None
    if e.ndim != 1 or e.shape != r.shape:
        raise InvalidOptionError(
            f"errors ({e.size}) and R ({r.size}) must be two lists of the same length",
            fix="pass one test error per R_f",
        )
    keep = np.isfinite(e) & np.isfinite(r) & (e > 0) & (r > 0)
    log_r, log_e = np.log(r[keep]), np.log(e[keep])
    if keep.sum() < 2 or np.ptp(log_r) == 0:
        raise InvalidOptionError(
            f"a power law needs two points with positive, different R_f and positive errors; "
            f"got {int(keep.sum())} usable of {e.size}",
            fix="measure more architectures (a test error of 0 cannot be fitted in log scale)",
        )
    b, log_a = fit_line(log_r, log_e)
    residual = log_e - (log_a + b * log_r)
    return {
        "a": math.exp(log_a),
        "b": b,
        "n_points": int(keep.sum()),
        "dropped": int((~keep).sum()),
        "residual_rms_log": float(np.sqrt((residual**2).mean())),
        "a_reported": REPORTED_LAW["a"],
        "b_reported": REPORTED_LAW["b"],
    }


# --------------------------------------------------------------------------- figures


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def error_vs_stability_figure(record: Mapping[str, Any]):
    """Test error against R_f (with the fit and the reported law) and against D_f."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_r, ax_d = fig.subplots(1, 2)
    reference = record["reference"]["index"]
    summary = record["summary"]
    for colour, s in zip(_colours(len(summary)), summary, strict=True):
        mine = [r for r in record["runs"] if r["architecture"] == s["architecture"]]
        for ax, key in ((ax_r, "R"), (ax_d, "D")):
            xs = [r["trained"]["output"][reference][key] for r in mine]
            ys = [r["trained"]["test_error"] for r in mine]
            ax.scatter(xs, ys, color=colour, alpha=0.35, s=14)
            ax.scatter(
                s[f"{key}_trained"], s["test_error"], color=colour, s=60, label=s["architecture"]
            )
    values = [s["R_trained"] for s in summary if s["R_trained"]]
    if values:
        grid = np.geomspace(min(values) / 2, max(values) * 2, 50)
        fit = record["fit"]
        if fit.get("a") is not None:
            ax_r.plot(
                grid,
                fit["a"] * grid ** fit["b"],
                "k-",
                label=f"fit ε = {fit['a']:.2g} R_f^{fit['b']:.2f}",
            )
        law = record["reported"]
        ax_r.plot(grid, law["a"] * grid ** law["b"], "k--", label=f"reported ε ≈ {law['a']:g} √R_f")
    delta = record["reference"]["delta"]
    for ax, key in ((ax_r, "R_f"), (ax_d, "D_f")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{key} after training (δ = {delta:.3g} px)")
        ax.set_ylabel("test error ε")
    ax_r.legend(fontsize=8)
    ax_r.set_title("relative stability R_f = D_f/G_f", fontsize=10)
    ax_d.set_title("sensitivity to diffeomorphisms D_f alone", fontsize=10)
    return fig


def sensitivity_curves_figure(record: Mapping[str, Any]):
    """D_f, G_f and R_f against δ: dashed at initialisation, solid after training."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    deltas = record["deltas"]
    summary = record["summary"]
    for colour, s in zip(_colours(len(summary)), summary, strict=True):
        for ax, key in zip(axes, ("D", "G", "R"), strict=True):
            for phase, style in (("init", "--"), ("trained", "-")):
                ys = [np.nan if v is None else v for v in s[phase][key]]
                label = s["architecture"] if phase == "trained" else None
                ax.plot(deltas, ys, style, color=colour, marker="o", ms=3, label=label)
    folding = record["temperature_range"]["delta_T_max"]
    for ax, key in zip(axes, ("D_f", "G_f", "R_f"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("typical displacement δ (pixels)")
        ax.set_ylabel(key)
        if folding <= max(deltas) * 1.2:
            ax.axvline(folding, color="grey", lw=0.8, ls=":")
    axes[2].axhline(1, color="grey", lw=0.8)
    axes[0].legend(fontsize=8, title="solid: trained, dashed: init", title_fontsize=8)
    return fig


def layers_figure(record: Mapping[str, Any]):
    """R_f of each stage of each architecture, at initialisation and after training."""
    from matplotlib.figure import Figure

    summary = record["summary"]
    fig = Figure(figsize=(3.2 * len(summary), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(summary), sharey=True))
    for ax, colour, s in zip(axes, _colours(len(summary)), summary, strict=True):
        positions = range(len(s["stages"]))
        for phase, style in (("init", "--"), ("trained", "-")):
            ys = [np.nan if v is None else v for v in s[f"layers_R_{phase}"]]
            ax.plot(positions, ys, style, color=colour, marker="o", ms=4, label=phase)
        ax.axhline(1, color="grey", lw=0.8)
        ax.set_xticks(list(positions), s["stages"], rotation=60, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(s["architecture"], fontsize=10)
    axes[0].set_ylabel(f"R_f at δ = {record['reference']['delta']:.3g} px")
    axes[0].legend(fontsize=8)
    return fig


def gallery_figure(image: torch.Tensor, c: float = 3.0, seed: int = 0):
    """One image deformed at T_min, at δ = 1 pixel and at T_max, beside same-norm noise.

    ``image`` is ``[C, H, W]`` with values in [0, 1] (the noisy images are
    clipped to [0, 1] for display only).
    """
    from matplotlib.figure import Figure

    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise InvalidOptionError(
            "gallery_figure needs one image [C, H, W]", fix="pass e.g. dataset.x_test[0]"
        )
    x = image.detach().double().cpu()[None]
    size = tuple(x.shape[-2:])
    t_min, t_max = temperature_range(size, c)
    t_typical = temperature_from_displacement(1.0, c, size)
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    axes = fig.subplots(2, 4)

    def show(ax, img, title):
        img = img[0].clamp(0, 1).permute(1, 2, 0).numpy()
        if img.shape[2] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()

    show(axes[0, 0], x, "original x")
    axes[1, 0].set_axis_off()
    axes[1, 0].text(0.5, 0.5, "below: x + η,\n‖η‖ = ‖τx − x‖", ha="center", va="center", fontsize=9)
    names = ("T_min", "δ = 1 px", "T_max")
    for col, (T, name) in enumerate(zip((t_min, t_typical, t_max), names, strict=True), start=1):
        moved = deform(x, T=T, c=c, generator=seed)
        noisy = x + same_norm_noise(x, moved, generator=seed)
        delta = typical_displacement(T, c, size)
        show(axes[0, col], moved, f"τx, {name}\nT = {T:.2g}, δ = {delta:.2g} px")
        show(axes[1, col], noisy, f"x + η, {name}")
    return fig


# --------------------------------------------------------------------------- outputs


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """The four figures of a :func:`run` record, ``{stem: Figure}`` (saved as
    ``stability_STEM``): ``error_vs_stability``, ``sensitivity_curves``, ``layers`` and
    ``gallery`` (which loads two images of the record's data set). Pure: no file is written
    and no pyplot figure opened."""
    config = StabilityConfig.from_dict(record["config"])
    image = _load_data(dataclasses.replace(config, n_points=2)).raw_image
    return {
        "error_vs_stability": error_vs_stability_figure(record),
        "sensitivity_curves": sensitivity_curves_figure(record),
        "layers": layers_figure(record),
        "gallery": gallery_figure(image, c=config.c),
    }


_draw = figures  # save_results's argument ``figures`` (a folder) hides the function


def _rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per architecture: test error and the sensitivities at the reference δ."""
    return [
        {
            "architecture": s["architecture"],
            "n_parameters": s["n_parameters"],
            "test_error": s["test_error"],
            "R_init": s["R_init"],
            "R_trained": s["R_trained"],
            "D_trained": s["D_trained"],
            "G_trained": s["G_trained"],
        }
        for s in record["summary"]
    ]


def save_results(
    record: Mapping[str, Any], out: str | Path, figures: str | Path | None = None
) -> dict[str, Any]:
    """Write ``stability.json`` under ``out`` and the four figures under ``figures``.

    ``figures`` defaults to ``out``. Returns a short summary (one row per
    architecture, the fit, the paths relative to ``out``).
    """
    out = Path(out)
    figures = out if figures is None else Path(figures)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "stability.json"
    path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    written = save_figures(_draw(record), figures, "stability")

    def relative(p: Path) -> str:
        try:
            return str(p.relative_to(out))
        except ValueError:
            return str(p)

    return {
        "dataset": record["config"]["dataset"],
        "rows": _rows(record),
        "reference_delta": record["reference"]["delta"],
        "fit": record["fit"],
        "reported": {k: record["reported"][k] for k in ("a", "b", "law")},
        "correlation_with_log_error": record["correlation_with_log_error"],
        "record": relative(path),
        "figures": [relative(p) for p in written],
        "wall_time_s": record["timing"]["total_s"],
    }


def stability_section(
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

    ``root`` is the data folder of the paper protocol (default ``$SYMSCAPE_DATA``).
    Each network is one run of the sweep store ``store`` (default
    ``out/symscape.db``) on ``executor`` (default ``inprocess``), so that an
    interrupted section resumes without retraining the networks it finished.
    """
    store = section_store(out, store)
    executor = executor or "inprocess"
    (config,) = protocol_cases(PROTOCOLS, scale, "stability", root).values()
    config = dataclasses.replace(config, device=device)
    started = time.perf_counter()
    record = run(config, store, executor)
    summary = save_results(record, out, figures)
    summary["scale"] = scale
    summary["wall_time_s"] = round(time.perf_counter() - started, 2)
    return summary


section = stability_section  # the registry's hook (symscape.experiments.registry)


def markdown_section(summary: Mapping[str, Any]) -> str:
    """The summary of :func:`save_results` as a Markdown section (for ``summary.md``)."""
    fit, law = summary["fit"], summary["reported"]
    lines = [
        "## Stability toward diffeomorphisms",
        "",
        f"{summary['dataset']}, δ = {summary['reference_delta']:.3g} pixel, geometric means over "
        f"seeds ({summary['wall_time_s']} s; record [{summary['record']}]({summary['record']})).",
        "",
        "| architecture | parameters | test error | R_f init | R_f trained | D_f | G_f |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {row['architecture']} | {row['n_parameters']} | {row['test_error']:.3f} | "
            f"{cell(row['R_init'])} | {cell(row['R_trained'])} | {cell(row['D_trained'])} | "
            f"{cell(row['G_trained'])} |"
        )
    if fit.get("a") is not None:
        measured = f"ε = {fit['a']:.3g} R_f^{fit['b']:.3g} over {fit['n_points']} architectures"
    else:
        measured = f"no fit ({fit.get('reason', 'too few points')})"
    lines += [
        "",
        f"Fit: {measured}; reported: {law['law']} (a = {law['a']}, b = {law['b']}).",
        "",
        "Figures: "
        + ", ".join(f"[{Path(p).name}]({p})" for p in summary["figures"] if p.endswith(".png")),
    ]
    return "\n".join(lines) + "\n"
