"""Ensemble-batched architectures: the shared machinery.

An :class:`Architecture` is a frozen description of a family of networks.
Its parameters live outside it, as a dict of tensors whose leading axis is
the ensemble (``[E, ...]``): ``arch.initialize(seeds)`` draws them, and
``arch.apply(params, x)`` maps inputs ``[P, ...]`` to outputs ``[E, P, k]``
in one batched computation — a functional core, as in ``torch.func``.

Parametrisations (per layer of fan-in ``n``, pre-activation ``z = s·W h + b``):

============  ===============  ==========================================
name          init of W        forward multiplier ``s``
============  ===============  ==========================================
``standard``  N(0, 1/n)        1
``ntk``       N(0, 1)          1/√n
``mean-field`` N(0, 1)         1/√n, and 1/n for the output layer
============  ===============  ==========================================

Biases start at zero. ``n_weights`` is N as the papers count it (weights
only); ``n_parameters`` adds the biases.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import torch

from symscape.data.options import parse_device, parse_dtype
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.nets.activations import ACTIVATIONS
from symscape.nets.init import INITS, draw_matrix

__all__ = ["PARAMETRIZATIONS", "Architecture", "Layer", "Params", "check_seeds"]

Params = dict[str, torch.Tensor]
PARAMETRIZATIONS = ("standard", "ntk", "mean-field")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One weight tensor: its name, shape per member, fan-in, init std and forward multiplier."""

    name: str
    shape: tuple[int, ...]
    fan_in: int
    std: float
    scale: float
    bias: str | None = None  # name of the bias of this layer, if any


def layer_constants(parametrization: str, fan_in: int, last: bool) -> tuple[float, float]:
    """``(init std, forward multiplier)`` of a layer."""
    if parametrization == "standard":
        return 1.0 / math.sqrt(fan_in), 1.0
    if parametrization == "ntk":
        return 1.0, 1.0 / math.sqrt(fan_in)
    return 1.0, (1.0 / fan_in if last else 1.0 / math.sqrt(fan_in))


def check_seeds(seeds: Sequence[int] | int) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise InvalidOptionError(
            f"seeds={seeds!r} must be a non-empty list of integers >= 0", fix="e.g. seeds=[0, 1, 2]"
        )
    return seeds


class Architecture:
    """Base class: subclasses define ``layers()`` and ``apply(params, x)``."""

    input_shape: tuple[int, ...]
    k: int
    activation: str
    parametrization: str
    init: str

    def _validate_common(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise UnknownNameError(
                f"unknown activation {self.activation!r}",
                fix=f"use one of {', '.join(ACTIVATIONS)}",
            )
        if self.parametrization not in PARAMETRIZATIONS:
            raise UnknownNameError(
                f"unknown parametrization {self.parametrization!r}",
                fix=f"use one of {', '.join(PARAMETRIZATIONS)}",
            )
        if self.init not in INITS:
            raise UnknownNameError(
                f"unknown init {self.init!r}", fix=f"use one of {', '.join(INITS)}"
            )
        if self.k < 1:
            raise InvalidOptionError(f"k={self.k} outputs: need at least 1", fix="use k >= 1")

    def layers(self) -> list[Layer]:
        raise NotImplementedError

    def apply(self, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def n_weights(self) -> int:
        """N: the number of weights of one member, biases excluded (the papers' count)."""
        return sum(math.prod(layer.shape) for layer in self.layers())

    @property
    def n_parameters(self) -> int:
        """Every trainable scalar of one member, biases included."""
        biases = sum(layer.shape[0] for layer in self.layers() if layer.bias is not None)
        return self.n_weights + biases

    def initialize(self, seeds: Sequence[int] | int, dtype="float64", device="cpu") -> Params:
        """Parameters ``[E, ...]`` of the members of ``seeds``: each depends on its seed only."""
        seeds = check_seeds(seeds)
        dtype, device = parse_dtype(dtype), parse_device(device)
        per_member: list[Params] = []
        for seed in seeds:
            generator = torch.Generator().manual_seed(seed)
            member = {}
            for layer in self.layers():
                member[layer.name] = draw_matrix(generator, layer.shape, layer.std, self.init)
                if layer.bias is not None:
                    member[layer.bias] = torch.zeros(layer.shape[0], dtype=torch.float64)
            per_member.append(member)
        return {
            name: torch.stack([m[name] for m in per_member]).to(dtype=dtype, device=device)
            for name in per_member[0]
        }

    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != tuple(self.input_shape):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidOptionError(
                f"{type(self).__name__} expects inputs [P, "
                f"{', '.join(map(str, self.input_shape))}], got {shape}",
                fix="build the architecture for this data set's input shape",
            )
