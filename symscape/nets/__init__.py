"""Ensemble-batched networks: parameters ``[E, ...]``, outputs ``[E, P, k]``.

``build_architecture(name, input_shape, k, **options)`` makes one by name:
``fc`` (fully connected), ``linear`` (the perceptron, fc of depth 0) or
``cnn`` (a small convolutional network for images).

>>> from symscape.nets import build_architecture
>>> build_architecture("linear", input_shape=(20,)).n_weights
20
"""

from __future__ import annotations

from typing import Any

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.nets.activations import ACTIVATIONS, activation
from symscape.nets.base import PARAMETRIZATIONS, Architecture, Params
from symscape.nets.centered import alpha_from_code_convention, alpha_to_code_convention
from symscape.nets.cnn import ConvNet
from symscape.nets.fc import FullyConnected
from symscape.nets.init import INITS
from symscape.nets.widths import layer_widths

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "INITS",
    "PARAMETRIZATIONS",
    "Architecture",
    "ConvNet",
    "FullyConnected",
    "Params",
    "activation",
    "alpha_from_code_convention",
    "alpha_to_code_convention",
    "build_architecture",
    "layer_widths",
]

ARCHITECTURES = ("fc", "linear", "cnn")


def build_architecture(name: str, input_shape: tuple[int, ...], k: int = 1, **options: Any):
    """The architecture ``name`` for inputs of ``input_shape`` and ``k`` outputs."""
    if name == "fc":
        cls = FullyConnected
    elif name == "linear":
        cls = FullyConnected
        if options.pop("depth", 0) != 0:
            raise InvalidOptionError(
                "arch='linear' has no hidden layer", fix="drop depth or use 'fc'"
            )
        options.pop("width", None)
        options.setdefault("activation", "linear")
        options["depth"] = 0
    elif name == "cnn":
        cls = ConvNet
    else:
        raise UnknownNameError(
            f"unknown architecture {name!r}", fix=f"use one of {', '.join(ARCHITECTURES)}"
        )
    try:
        return cls(input_shape=tuple(input_shape), k=k, **options)
    except TypeError as err:
        raise InvalidOptionError(
            f"arch={name!r}: {err}", fix="check the architecture's options"
        ) from None
