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
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from symscape._version import __version__
from symscape.config import JsonConfig
from symscape.data import dataset_names, get_dataset_spec, load
from symscape.data.options import parse_device, parse_dtype
from symscape.errors import InvalidOptionError
from symscape.nets import ACTIVATIONS, ARCHITECTURES, build_architecture
from symscape.nets.base import PARAMETRIZATIONS, check_seeds
from symscape.nets.init import INITS
from symscape.runtime import torch_threads
from symscape.train.dynamics import DYNAMICS, LBFGS, SGD, Adam, AdaptiveFlow
from symscape.train.loop import StopRules, fit
from symscape.train.losses import LOSSES
from symscape.train.models import CenteredNetwork, FrozenKernel, LossSpec
from symscape.validation import check_integer

__all__ = ["TrainConfig", "train"]

_DEFAULT_LR = {"sgd": 0.1, "adam": 1e-4}


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything that defines a training run (defaults: a small jamming-style run)."""

    NAMES: ClassVar = {
        "dataset": dataset_names,
        "arch": lambda: ARCHITECTURES,
        "activation": lambda: ACTIVATIONS,
        "parametrization": lambda: PARAMETRIZATIONS,
        "init": lambda: INITS,
        "loss": lambda: LOSSES,
        "dynamics": lambda: DYNAMICS,
    }
    UNLIMITED: ClassVar = ("max_time", "max_wall")

    # data
    dataset: str = "random"
    data: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: {"P": 100, "n_test": 100, "d": 10}
    )
    # network
    arch: str = "fc"
    depth: int = 2
    width: float = 32.0
    activation: str = "relu"
    bias: bool = False
    parametrization: str = "ntk"
    init: str = "gaussian"
    # model and loss
    alpha: float = 1.0
    loss: str = "quadratic_hinge"
    kappa: float = 1.0
    beta: float = 20.0
    # dynamics
    dynamics: str = "flow"
    dt0: float = 1.0
    grad_tol: float = 1e-4
    output_tol: float = 0.1
    dt_min: float = 1e-6
    tau: float | None = None
    lr: float | None = None
    batch_size: int | None = None
    batch_seed: int = 0
    decay_every: int = 250_000
    lr_min: float = 1e-7
    history: int = 50
    stall_tol: float = 1e-9
    stall_steps: int = 10
    # stopping and recording
    max_steps: int = 10_000
    max_time: float | None = None
    max_wall: float | None = None
    stop_when_fitted: bool = True
    plateau_window: int | None = None
    plateau_tol: float = 1e-6
    gap_tol: float | None = None
    record_points: int = 40
    kernel_points: int = 0
    # ensemble and numerics
    seeds: tuple[int, ...] = (0,)
    dtype: str = "float64"
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self):
        object.__setattr__(self, "seeds", tuple(check_seeds(self.seeds)))
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
        if not self.alpha > 0:
            raise InvalidOptionError(f"alpha={self.alpha} must be > 0", fix="use e.g. alpha=1")
        if self.arch != "linear" and not self.width >= 1:
            raise InvalidOptionError(f"width={self.width} must be >= 1", fix="use a width >= 1")
        if self.depth < 0:
            raise InvalidOptionError(f"depth={self.depth} is negative", fix="use depth >= 0")
        if self.dynamics == "momentum_flow" and self.tau is None:
            raise InvalidOptionError("dynamics='momentum_flow' needs tau", fix="set tau, e.g. 1000")
        self._reject_unused()
        if not self.beta > 0:
            raise InvalidOptionError(f"beta={self.beta} must be > 0", fix="use e.g. beta=20")
        if self.threads < 1:
            raise InvalidOptionError(f"threads={self.threads} must be >= 1", fix="use threads >= 1")
        check_integer(self.kernel_points, "kernel_points", 0)
        P = self.data.get("P")  # None: the whole training split, checked when it is loaded
        if self.kernel_points < 0 or (P is not None and self.kernel_points > P):
            raise InvalidOptionError(
                f"kernel_points={self.kernel_points} must be between 0 and P={P}",
                fix="measure the NTK on at most the training set (0: not at all)",
            )
        if self.record_points < 2:
            raise InvalidOptionError(f"record_points={self.record_points} < 2", fix="use >= 2")
        parse_dtype(self.dtype)
        parse_device(self.device)
        self.stop_rules()
        self.make_dynamics()

    def _reject_unused(self) -> None:
        """A field the chosen dynamics ignores is an error, not a silent no-op."""
        flows = ("flow", "momentum_flow", "kernel_flow")
        unused = []
        if self.tau is not None and self.dynamics != "momentum_flow":
            unused.append("tau")
        if self.alpha != 1.0 and self.dynamics == "kernel_flow":
            unused.append("alpha (kernel_flow is the alpha -> infinity limit)")
        if self.dynamics in (*flows, "lbfgs"):
            unused += [name for name in ("lr", "batch_size") if getattr(self, name) is not None]
        elif self.dynamics == "adam" and self.batch_size is not None:
            unused.append("batch_size")
        if self.dynamics != "lbfgs":
            defaults = {"history": 50, "stall_tol": 1e-9, "stall_steps": 10}
            unused += [name for name, value in defaults.items() if getattr(self, name) != value]
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
            return LBFGS(self.history, self.stall_tol, self.stall_steps)
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
