"""Fully connected networks (and the perceptron, their depth-0 case), ensemble-batched.

``f(x) = s_L W_L φ(… φ(s_0 W_0 x + b_0) …) + b_L`` with ``depth`` hidden
layers of (fractional) width ``width``; inputs of any shape are flattened.

>>> import torch
>>> from symscape.nets import FullyConnected
>>> net = FullyConnected(input_shape=(5,), depth=2, width=8)
>>> params = net.initialize(seeds=[0, 1, 2])
>>> net.apply(params, torch.randn(10, 5, dtype=torch.float64)).shape
torch.Size([3, 10, 1])
>>> net.n_weights  # 5·8 + 8·8 + 8·1
112
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import torch

from symscape.errors import InvalidOptionError
from symscape.nets.activations import activation_parts
from symscape.nets.base import Architecture, Layer, layer_constants
from symscape.nets.widths import layer_widths

__all__ = ["FullyConnected"]


@dataclasses.dataclass(frozen=True)
class FullyConnected(Architecture):
    """A fully connected network; ``depth=0`` is the linear model (the perceptron)."""

    input_shape: tuple[int, ...]
    k: int = 1
    depth: int = 2
    width: float = 64.0
    activation: str = "relu"
    bias: bool = False
    parametrization: str = "ntk"
    init: str = "gaussian"

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        self._validate_common()
        if self.depth < 0:
            raise InvalidOptionError(f"depth={self.depth} is negative", fix="use depth >= 0")
        if self.depth > 0 and not self.width >= 1:
            raise InvalidOptionError(
                f"width={self.width} must be at least 1", fix="use a width >= 1"
            )

    @property
    def d(self) -> int:
        return math.prod(self.input_shape)

    @property
    def widths(self) -> list[int]:
        """Integer widths of the hidden layers."""
        return layer_widths(self.width, self.depth) if self.depth else []

    def layers(self) -> list[Layer]:
        sizes = [self.d, *self.widths, self.k]
        out = []
        for i in range(len(sizes) - 1):
            std, scale = layer_constants(self.parametrization, sizes[i], i == len(sizes) - 2)
            out.append(
                Layer(
                    f"w{i}",
                    (sizes[i + 1], sizes[i]),
                    sizes[i],
                    std,
                    scale,
                    bias=f"b{i}" if self.bias else None,
                )
            )
        return out

    def apply(self, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[E, P, k]`` of every member on inputs ``x [P, *input_shape]``."""
        self.check_input(x)
        phi, gain = activation_parts(self.activation)
        layers = self.layers()
        h = x.reshape(len(x), -1)
        for i, layer in enumerate(layers):
            w = params[layer.name]  # [E, out, in]
            # the forward multiplier and the previous activation's gain act on the
            # (small) weights, not on the (large) activations
            factor = layer.scale * (gain if i > 0 else 1.0)
            if factor != 1.0:
                w = w * factor
            if i == 0:  # the input is shared: one GEMM for all members
                E, out = w.shape[0], w.shape[1]
                h = (h @ w.reshape(E * out, -1).T).reshape(len(x), E, out).transpose(0, 1)
            else:
                h = torch.bmm(h, w.transpose(1, 2))
            if layer.bias is not None:
                h = h + params[layer.bias].unsqueeze(-2)
            if i < len(layers) - 1:
                h = phi(h)
        return h
