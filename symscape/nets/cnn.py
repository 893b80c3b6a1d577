"""A small convolutional network for images, ensemble-batched with grouped convolutions.

``depth`` layers of 3×3 convolutions with ``width`` channels (padding 1,
stride ``stride`` after the first layer), the activation after each, a
global average pool and a linear read-out to ``k`` outputs. The E members
run as one convolution with ``groups=E``; the first layer, whose input all
members share, as one ordinary convolution with E·width output channels.

>>> import torch
>>> from symscape.nets import ConvNet
>>> net = ConvNet(input_shape=(1, 8, 8), depth=2, width=4)
>>> net.apply(net.initialize([0, 1]), torch.randn(5, 1, 8, 8, dtype=torch.float64)).shape
torch.Size([2, 5, 1])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from symscape.errors import InvalidOptionError
from symscape.nets.activations import activation as get_activation
from symscape.nets.base import Architecture, Layer, layer_constants
from symscape.nets.widths import layer_widths

__all__ = ["ConvNet"]


@dataclasses.dataclass(frozen=True)
class ConvNet(Architecture):
    """Convolutions 3×3, global average pooling, linear read-out."""

    input_shape: tuple[int, ...]
    k: int = 1
    depth: int = 2
    width: float = 16.0
    activation: str = "relu"
    bias: bool = False
    parametrization: str = "ntk"
    init: str = "gaussian"
    stride: int = 1
    kernel_size: int = 3

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        self._validate_common()
        if len(self.input_shape) != 3:
            raise InvalidOptionError(
                f"a ConvNet needs image inputs [C, H, W], got input shape {self.input_shape}",
                fix="use arch='fc' for vector data, or an image data set without flatten/pca",
            )
        if self.depth < 1:
            raise InvalidOptionError(
                f"depth={self.depth}: a ConvNet needs >= 1 layer", fix="depth >= 1"
            )
        if not self.width >= 1:
            raise InvalidOptionError(f"width={self.width} must be at least 1", fix="use width >= 1")
        if self.stride < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InvalidOptionError(
                f"stride={self.stride}, kernel_size={self.kernel_size}",
                fix="use stride >= 1 and an odd kernel_size",
            )

    def layers(self) -> list[Layer]:
        channels = [self.input_shape[0], *layer_widths(self.width, self.depth)]
        ks = self.kernel_size
        out = []
        for i in range(self.depth):
            fan_in = channels[i] * ks * ks
            std, scale = layer_constants(self.parametrization, fan_in, last=False)
            out.append(
                Layer(
                    f"conv{i}",
                    (channels[i + 1], channels[i], ks, ks),
                    fan_in,
                    std,
                    scale,
                    bias=f"conv{i}_bias" if self.bias else None,
                )
            )
        std, scale = layer_constants(self.parametrization, channels[-1], last=True)
        out.append(
            Layer(
                "readout",
                (self.k, channels[-1]),
                channels[-1],
                std,
                scale,
                bias="readout_bias" if self.bias else None,
            )
        )
        return out

    def apply(self, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[E, P, k]`` of every member on images ``x [P, C, H, W]``."""
        self.check_input(x)
        phi = get_activation(self.activation)
        layers = self.layers()
        E = params[layers[0].name].shape[0]
        h = x
        for i, layer in enumerate(layers[:-1]):
            w = params[layer.name]  # [E, out, in, k, k]
            weight = w.reshape(E * w.shape[1], *w.shape[2:])
            bias = params[layer.bias].reshape(-1) / layer.scale if layer.bias else None
            stride = 1 if i == 0 else self.stride
            pad = self.kernel_size // 2
            h = F.conv2d(h, weight, bias, stride=stride, padding=pad, groups=1 if i == 0 else E)
            h = phi(h * layer.scale)
        pooled = h.mean(dim=(-2, -1))  # [P, E*channels]
        pooled = pooled.reshape(len(x), E, -1).transpose(0, 1)  # [E, P, channels]
        readout = layers[-1]
        out = torch.matmul(pooled, params[readout.name].transpose(-1, -2)) * readout.scale
        if readout.bias:
            out = out + params[readout.bias].unsqueeze(-2)
        return out
