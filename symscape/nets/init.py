"""Per-member initialisation: member ``i`` depends on its own seed only.

Each member draws all its weights, layer after layer, from a CPU
``torch.Generator`` seeded with its seed, in float64, before any cast: an
ensemble member is bit-for-bit the network one would build alone with that
seed, whatever the ensemble size, dtype or device.

Both inits have E[W_ij²] = std²: ``gaussian`` draws N(0, std²);
``orthogonal`` draws a (semi-)orthogonal matrix from the QR decomposition
of a Gaussian one (signs fixed, so it is Haar-distributed) scaled by
``std · √max(fan_in, fan_out)``.
"""

from __future__ import annotations

import math

import torch

from symscape.validation import choose

__all__ = ["INITS", "draw_matrix"]

INITS = ("gaussian", "orthogonal")


def draw_matrix(
    generator: torch.Generator, shape: tuple[int, ...], std: float, init: str
) -> torch.Tensor:
    """One float64 weight tensor ``[fan_out, fan_in, *kernel]`` drawn from ``generator``."""
    if init not in INITS:
        init = choose(init, INITS, "init")
    w = torch.randn(shape, generator=generator, dtype=torch.float64)
    if init == "gaussian":
        return w * std
    rows, cols = shape[0], math.prod(shape[1:])
    a = w.reshape(rows, cols)
    transpose = rows < cols
    if transpose:
        a = a.T
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))
    if transpose:
        q = q.T
    return (q * std * math.sqrt(max(rows, cols))).reshape(shape)
