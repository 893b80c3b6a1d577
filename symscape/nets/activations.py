"""Activation functions, normalised so that E[φ(z)²] = 1 for z ~ N(0, 1).

With this normalisation a layer of NTK-parametrised weights N(0, 1)
preserves the scale of its input at any depth (the convention of the
feature-vs-lazy papers: ``relu`` is √2·max(0, z)).

>>> import torch
>>> from symscape.nets.activations import activation, second_moment
>>> z = torch.randn(400_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
>>> abs(float(activation("relu")(z).pow(2).mean()) - 1) < 0.02
True
>>> round(second_moment("relu"), 12), round(second_moment("linear"), 12)
(0.5, 1.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from symscape.validation import choose

__all__ = [
    "ACTIVATIONS",
    "activation",
    "activation_derivative",
    "activation_parts",
    "second_moment",
]

_RAW: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "swish": F.silu,
    "swish10": lambda z: z * torch.sigmoid(10 * z),  # swish with β = 10 (feature vs lazy)
    "linear": lambda z: z,
}
ACTIVATIONS = tuple(_RAW)


def _swish_derivative(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


_DERIVATIVES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda z: (z > 0).to(z.dtype),
    "tanh": lambda z: 1 - torch.tanh(z).square(),
    "softplus": torch.sigmoid,
    "swish": _swish_derivative,
    "swish10": lambda z: _swish_derivative(10 * z),
    "linear": torch.ones_like,
}


@functools.cache
def second_moment(name: str) -> float:
    """E[φ(z)²] for z ~ N(0, 1), by adaptive quadrature (exact 1/2 for relu)."""
    from scipy.integrate import quad

    def integrand(z: float) -> float:
        value = float(_RAW[name](torch.tensor(z, dtype=torch.float64)))
        return value * value * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    return float(quad(integrand, -np.inf, 0.0)[0] + quad(integrand, 0.0, np.inf)[0])


def activation_parts(
    name: str, normalize: bool = True
) -> tuple[Callable[[torch.Tensor], torch.Tensor], float]:
    """``(φ, c)``: the raw activation and its factor 1/√E[φ(z)²] (1 if not ``normalize``).

    Networks fold ``c`` into the next layer's weights instead of multiplying
    every activation: the same function, one pass over memory less.
    """
    if name not in _RAW:
        name = choose(name, ACTIVATIONS, "activation")
    if not normalize or name == "linear":
        return _RAW[name], 1.0
    return _RAW[name], 1.0 / math.sqrt(second_moment(name))


def activation(name: str, normalize: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation ``name``, divided by √E[φ(z)²] when ``normalize``."""
    raw, factor = activation_parts(name, normalize)
    return raw if factor == 1.0 else (lambda z: raw(z) * factor)


def activation_derivative(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """φ' of the raw activation ``name`` (relu's derivative at 0 is 0, as autograd's).

    >>> import torch
    >>> z = torch.linspace(-2, 2, 5, dtype=torch.float64)
    >>> activation_derivative("relu")(z).tolist()
    [0.0, 0.0, 0.0, 1.0, 1.0]
    """
    if name not in _DERIVATIVES:
        name = choose(name, ACTIVATIONS, "activation")
    return _DERIVATIVES[name]
