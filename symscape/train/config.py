"""A training run as data: :class:`TrainConfig`, and ``train(config)`` that runs it.

A config is a frozen, flat, JSON-able dataclass validated at construction;
``train(config)`` is a pure function of it (same config → same numbers on
CPU). ``seeds`` lists the members of the ensemble, trained as one batched
computation; member i is the network one would train alone with seed i.

>>> from symscape.train import TrainConfig, train
>>> config = TrainConfig(dataset="random", data={"P": 10, "n_test": 10, "d": 20},
...                      arch="linear", seeds=(0, 1), max_steps=5000)
>>> result = train(config)
>>> result["status"], result["final"]["n_delta"], result["n_weights"]
(['fitted', 'fitted'], [0, 0], 20)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from symscape._version import __version__
from symscape.config import (
    Flag,
    Interval,
    JsonConfig,
    Options,
    OrNone,
    Seeds,
    Table,
    Text,
    declared,
    param,
)
from symscape.data import dataset_names, get_dataset_spec, load
from symscape.data.options import parse_device, parse_dtype
from symscape.errors import InvalidOptionError
from symscape.nets import ACTIVATIONS, ARCHITECTURES, build_architecture
from symscape.nets.base import PARAMETRIZATIONS
from symscape.nets.init import INITS
from symscape.runtime import torch_threads
from symscape.train.dynamics import DYNAMICS, LBFGS, SGD, Adam, AdaptiveFlow
from symscape.train.loop import StopRules, fit
from symscape.train.losses import LOSSES
from symscape.train.models import CenteredNetwork, FrozenKernel, LossSpec

__all__ = ["ACTIVATION", "ARCH", "DATASET", "DEVICE", "DTYPE", "TrainConfig", "train"]

_DEFAULT_LR = {"sgd": 0.1, "adam": 1e-4}

# the constraints of the fields that the experiment configs share with this one
DATASET = Options(dataset_names, what="data set")
ARCH = Options(lambda: ARCHITECTURES, what="arch")
ACTIVATION = Options(lambda: ACTIVATIONS, what="activation")
DTYPE = Text("a floating dtype: float64, float32, float16 or bfloat16", validate=parse_dtype)
DEVICE = Text("cpu, cuda or cuda:N", validate=parse_device)

_POSITIVE = Interval(float, 0, None, closed="neither")
_UNLIMITED = Interval(float, 0, math.inf, closed="both")  # +inf: no limit
_FLOWS = ("flow", "momentum_flow", "kernel_flow")
_NOT_KERNEL = ("flow", "momentum_flow", "sgd", "adam", "lbfgs")
_UNUSED_NOTES = {"alpha": "alpha (kernel_flow is the alpha -> infinity limit)"}


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything that defines a training run (defaults: a small jamming-style run)."""

    # data
    dataset: str = param("random", "data set name", DATASET)
    data: Mapping[str, Any] = param(
        {"P": 100, "n_test": 100, "d": 10}, "data-set options (see symscape.data.load)", Table()
    )
    # network
    arch: str = param("fc", "architecture", ARCH)
    depth: int = param(2, "hidden layers", Interval(int, 0, None))
    width: float = param(
        32.0,
        "hidden width (fractional widths allowed; a linear network has none)",
        Interval(float, 1, None),
    )
    activation: str = param("relu", "activation function", ACTIVATION)
    bias: bool = param(False, "biases in every layer", Flag())
    parametrization: str = param(
        "ntk", "parametrization", Options(lambda: PARAMETRIZATIONS, what="parametrization")
    )
    init: str = param("gaussian", "weight initialisation", Options(lambda: INITS, what="init"))
    # model and loss
    alpha: float = param(1.0, "output scale α of F = α (f − f₀)", _POSITIVE, dynamics=_NOT_KERNEL)
    loss: str = param("quadratic_hinge", "loss function", Options(lambda: LOSSES, what="loss"))
    kappa: float = param(1.0, "margin κ of the hinge losses", Interval(float))
    beta: float = param(20.0, "sharpness β of the soft hinge", _POSITIVE)
    # dynamics
    dynamics: str = param("flow", "training dynamics", Options(lambda: DYNAMICS, what="dynamics"))
    dt0: float = param(1.0, "first time step of the flows", _POSITIVE, dynamics=_FLOWS)
    grad_tol: float = param(
        1e-4, "flows: gradient-change tolerance of a step", _POSITIVE, dynamics=_FLOWS
    )
    output_tol: float = param(
        0.1, "flows: largest output change of a step", _POSITIVE, dynamics=_FLOWS
    )
    dt_min: float = param(1e-6, "flows: smallest time step", _POSITIVE, dynamics=_FLOWS)
    tau: float | None = param(
        None,
        "momentum_flow: friction time",
        OrNone(_POSITIVE, "no momentum"),
        dynamics=("momentum_flow",),
    )
    lr: float | None = param(
        None,
        "learning rate (sgd: 0.1, adam: 1e-4 when none)",
        OrNone(_POSITIVE, "the dynamics' default"),
        dynamics=("sgd", "adam"),
    )
    batch_size: int | None = param(
        None,
        "sgd: batch size",
        OrNone(Interval(int, 1, None), "full batch"),
        dynamics=("sgd",),
    )
    batch_seed: int = param(
        0, "sgd: seed of the batches", Interval(int, 0, None), dynamics=("sgd",)
    )
    decay_every: int = param(
        250_000, "adam: steps per learning-rate decay", Interval(int, 1, None), dynamics=("adam",)
    )
    lr_min: float = param(1e-7, "adam: floor of the learning rate", _POSITIVE, dynamics=("adam",))
    history: int = param(50, "lbfgs: history size", Interval(int, 1, None), dynamics=("lbfgs",))
    stall_tol: float = param(
        1e-9, "lbfgs: relative loss change of a stalled step", _POSITIVE, dynamics=("lbfgs",)
    )
    stall_steps: int = param(
        10, "lbfgs: stalled steps before stopping", Interval(int, 1, None), dynamics=("lbfgs",)
    )
    window_steps: int = param(
        2000,
        "lbfgs: accepted steps over which the loss must keep moving (else: stopped)",
        Interval(int, 1, None),
        dynamics=("lbfgs",),
    )
    window_tol: float = param(
        1e-4,
        "lbfgs: relative loss decrease over window_steps below which the loss stopped moving",
        _POSITIVE,
        dynamics=("lbfgs",),
    )
    # stopping and recording
    max_steps: int = param(10_000, "steps at most", Interval(int, 0, None))
    max_time: float | None = param(None, "time t at most", OrNone(_UNLIMITED, "no limit"))
    max_wall: float | None = param(
        None, "wall-clock seconds at most", OrNone(_UNLIMITED, "no limit")
    )
    stop_when_fitted: bool = param(True, "stop a member once it fits (N_Δ = 0)", Flag())
    plateau_window: int | None = param(
        None,
        "steps over which a plateau is detected",
        OrNone(Interval(int, 1, None), "no plateau stop"),
    )
    plateau_tol: float = param(1e-6, "relative loss decrease of a plateau", Interval(float, 0))
    gap_tol: float | None = param(
        None, "tolerance on the gaps Δ when counting N_Δ", OrNone(Interval(float, 0), "exact")
    )
    record_points: int = param(40, "points of the recorded trajectory", Interval(int, 2, None))
    kernel_points: int = param(
        0, "training points on which the NTK is measured (0: not at all)", Interval(int, 0, None)
    )
    # ensemble and numerics
    seeds: tuple[int, ...] = param((0,), "ensemble seeds (one batched computation)", Seeds())
    dtype: str = param("float64", "floating dtype", DTYPE)
    device: str = param("cpu", "device", DEVICE)
    threads: int = param(1, "torch threads", Interval(int, 1, None))

    def __post_init__(self):
        spec = get_dataset_spec(self.dataset)
        for key in ("dtype", "device"):
            if key in self.data:
                raise InvalidOptionError(
                    f"data option {key!r} is set by the run", fix=f"use the config's {key} field"
                )
        # every option written out (defaults too, in their types): one run, one config
        resolved = spec.resolve(self.data)
        data = {k: v for k, v in resolved.items() if k not in ("dtype", "device")}
        object.__setattr__(self, "data", data)
        if self.dynamics == "momentum_flow" and self.tau is None:
            raise InvalidOptionError("dynamics='momentum_flow' needs tau", fix="set tau, e.g. 1000")
        self._reject_unused()
        P = self.data.get("P")  # None: the whole training split, checked when it is loaded
        if self.kernel_points < 0 or (P is not None and self.kernel_points > P):
            raise InvalidOptionError(
                f"kernel_points={self.kernel_points} must be between 0 and P={P}",
                fix="measure the NTK on at most the training set (0: not at all)",
            )
        self.stop_rules()
        self.make_dynamics()

    #: the fields that are an error, not ignored, when set for a dynamics that does not use
    #: them (as in earlier releases); the other dynamics-only fields (dt0, grad_tol,
    #: output_tol, dt_min, batch_seed, decay_every, lr_min) are ignored by the dynamics
    #: that do not use them, so that one sweep can span several dynamics with them fixed
    STRICT: ClassVar[tuple[str, ...]] = (
        "alpha",
        "tau",
        "lr",
        "batch_size",
        "history",
        "stall_tol",
        "stall_steps",
        "window_steps",
        "window_tol",
    )

    def _reject_unused(self) -> None:
        """A :data:`STRICT` field the chosen dynamics ignores (its declaration lists the
        dynamics that use it) set to other than its default is an error, not a silent
        no-op."""
        unused = []
        for field in dataclasses.fields(self):
            uses = declared(field).dynamics
            if field.name not in self.STRICT:
                continue
            if uses and self.dynamics not in uses and getattr(self, field.name) != field.default:
                note = (
                    " (kernel_flow is the alpha -> infinity limit)" if field.name == "alpha" else ""
                )
                unused.append(field.name + note)
        if unused:
            raise InvalidOptionError(
                f"dynamics={self.dynamics!r} does not use {', '.join(unused)}",
                fix="drop it, or choose the dynamics that uses it",
            )

    # ------------------------------------------------------------------ parts
    def stop_rules(self) -> StopRules:
        return StopRules(
            max_steps=self.max_steps,
            max_time=self.max_time,
            max_wall=self.max_wall,
            stop_when_fitted=self.stop_when_fitted,
            plateau_window=self.plateau_window,
            plateau_tol=self.plateau_tol,
            gap_tol=self.gap_tol,
        )

    def make_dynamics(self):
        if self.dynamics in ("flow", "momentum_flow", "kernel_flow"):
            tau = self.tau if self.dynamics == "momentum_flow" else None
            return AdaptiveFlow(
                self.dt0, self.grad_tol, self.output_tol, tau, self.max_time, self.dt_min
            )
        if self.dynamics == "lbfgs":
            return LBFGS(
                self.history,
                self.stall_tol,
                self.stall_steps,
                plateau_steps=self.window_steps,
                plateau_tol=self.window_tol,
            )
        lr = self.lr if self.lr is not None else _DEFAULT_LR[self.dynamics]
        if self.dynamics == "sgd":
            return SGD(lr, self.batch_size, self.batch_seed)
        return Adam(lr, self.decay_every, self.lr_min)

    def architecture(self, input_shape: tuple[int, ...], k: int):
        options = {
            "activation": self.activation,
            "bias": self.bias,
            "parametrization": self.parametrization,
            "init": self.init,
        }
        if self.arch != "linear":
            options.update(depth=self.depth, width=self.width)
        return build_architecture(self.arch, input_shape, k, **options)


def train(config: TrainConfig, callback=None) -> dict[str, Any]:
    """Train the ensemble of ``config``; returns a record of JSON scalars and numpy arrays.

    ``callback(step, status)`` is called after every step (for progress displays).
    """
    with torch_threads(config.threads):
        return _train(config, callback)


def _train(config: TrainConfig, callback) -> dict[str, Any]:
    started = time.perf_counter()
    ds = load(config.dataset, **config.data, dtype=config.dtype, device=config.device)
    k = 1 if ds.binary else ds.num_classes
    arch = config.architecture(ds.input_shape, k)
    params0 = arch.initialize(config.seeds, dtype=config.dtype, device=config.device)
    loss = LossSpec(config.loss, config.kappa, config.beta)
    if config.dynamics == "kernel_flow":
        model = FrozenKernel(arch, params0, ds, loss, kernel_points=config.kernel_points)
    else:
        model = CenteredNetwork(arch, params0, ds, config.alpha, loss, config.kernel_points)
    trajectory = fit(
        model, config.make_dynamics(), config.stop_rules(), config.record_points, callback
    )
    final = trajectory.final
    return {
        "symscape_version": __version__,
        "config": config.to_dict(),
        "n_weights": arch.n_weights,
        "n_parameters": arch.n_parameters,
        "P": ds.P,
        "E": len(config.seeds),
        "status": trajectory.status,
        "stop_step": trajectory.stop_step.tolist(),
        "evaluations": trajectory.evaluations,
        "final": {
            key: np.asarray(value).tolist()
            for key, value in final.items()
            if key not in ("step", "wall_time")
        },
        "wall_time": time.perf_counter() - started,
        "trajectory": trajectory.records,
        "train_output": model.train_outputs(trajectory.params).cpu().numpy(),
        "test_output": model.test_outputs(trajectory.params).cpu().numpy(),
        "params": {name: p.cpu().numpy() for name, p in trajectory.params.items()},
    }
