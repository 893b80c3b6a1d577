"""The arguments of :mod:`symscape.diffeo` checked: each function returns the value it
checked, or raises an :class:`~symscape.errors.InvalidOptionError` that names it and the fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

from symscape.errors import InvalidOptionError
from symscape.validation import choose

INTERPOLATIONS = ("bilinear", "nearest")
CUTOFFS = ("authors", "paper")
"""Which modes a cut-off ``c`` keeps: the authors' code (``√(i² + j²) < c + ½``,
``i, j ≤ c``; the default) or the papers' prose (``√(i² + j²) ≤ c``)."""


def _real(value, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise InvalidOptionError(f"{name}={value!r} is not a number", fix=f"give {name} as a float")
    return float(value)


def _check_cut(c) -> float:
    c = _real(c, "c")
    if not math.isfinite(c) or c < 2:
        raise InvalidOptionError(
            f"c={c} is not a valid cut-off: it must be a finite number >= 2 "
            "(c = 1 has no mode and ln c = 0)",
            fix="use c >= 2, typically c = 3",
        )
    return c


def _check_cutoff(cutoff) -> str:
    return choose(cutoff, CUTOFFS, "cut-off (the authors' code, or the papers' prose)")


def _check_positive(value, name: str) -> float:
    value = _real(value, name)
    if not math.isfinite(value) or value <= 0:
        raise InvalidOptionError(
            f"{name}={value} must be a finite positive number", fix=f"pass {name} > 0"
        )
    return value


def _side(n) -> float:
    """The side ``n`` of a square image, or ``n_eff = √((H² + W²)/2)`` for ``(H, W)``."""
    sides = tuple(n) if isinstance(n, Sequence) and not isinstance(n, str) else (n,)
    if (
        len(sides) not in (1, 2)
        or any(not isinstance(s, numbers.Integral) or isinstance(s, bool) for s in sides)
        or any(s < 2 for s in sides)
    ):
        raise InvalidOptionError(
            f"n={n!r} is not an image size", fix="give n as an integer >= 2 or a pair (H, W)"
        )
    return math.sqrt(sum(int(s) ** 2 for s in sides) / len(sides))


def _check_range(c: float, n) -> tuple[float, float]:
    side = _side(n)
    if c >= 2 * side / math.pi:
        raise InvalidOptionError(
            f"c={c:g} is too large for images of side n={side:g}: T_min > T_max when c >= 2n/π "
            f"= {2 * side / math.pi:.3g}, no temperature is both visible and fold-free",
            fix=f"use c < {2 * side / math.pi:.3g} or larger images",
        )
    log = math.log(c)
    return 1 / (math.pi * side**2 * log), 4 / (math.pi**3 * c**2 * log)


def _check_images(x) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidOptionError(
            f"images must be a tensor [B, C, H, W], got {shape}",
            fix="add the batch axis with x.unsqueeze(0), or use RandomDiffeo for single images",
        )
    if not x.is_floating_point():
        raise InvalidOptionError(
            f"images of dtype {x.dtype} cannot be interpolated",
            fix="convert them first, e.g. x.float() / 255",
        )
    if min(x.shape[-2:]) < 2:
        raise InvalidOptionError(
            f"images of size {tuple(x.shape[-2:])} are too small to deform",
            fix="use images of at least 2 × 2 pixels",
        )


def _check_interpolation(interpolation) -> str:
    if interpolation not in INTERPOLATIONS:
        raise InvalidOptionError(
            f"interpolation={interpolation!r} is not known",
            fix=f"use one of {', '.join(INTERPOLATIONS)}",
        )
    return interpolation


def _as_generator(generator) -> torch.Generator | None:
    """``None``, a ``torch.Generator``, or an integer seed (a fresh CPU generator)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise InvalidOptionError(
        f"generator={generator!r} is neither a torch.Generator nor an integer seed",
        fix="pass a torch.Generator, an int seed, or None",
    )


def _randn(shape, generator, dtype, device) -> torch.Tensor:
    """Gaussian draws on the generator's device (or ``device`` without one), moved to ``device``."""
    if generator is None:
        return torch.randn(shape, dtype=dtype, device=device)
    z = torch.randn(shape, dtype=dtype, device=generator.device, generator=generator)
    return z.to(device)
