r"""Random directions in weight space, normalised filter by filter (Li et al., 2018).

A direction ``d`` has one tensor per parameter tensor ``w``. Drawn Gaussian,
``d ~ N(0, 1)`` entry by entry, it is then rescaled so that a step ``w + a d``
moves each part of the network in proportion to its own size:

* ``"filter"`` (Li, Xu, Taylor, Studer, Goldstein, *Visualizing the loss
  landscape of neural nets*, NeurIPS 2018): every filter ``d_i`` — a slice
  along the first axis of a weight of two or more axes: a row of a linear
  weight ``[out, in]``, an output channel of a convolution ``[out, in, kh, kw]``
  — becomes ``d_i ‖w_i‖ / ‖d_i‖``, so that ``‖d_i‖ = ‖w_i‖``;
* ``"layer"``: the whole tensor, ``d ‖w‖ / ‖d‖``;
* ``"none"``: the raw Gaussian.

Tensors of fewer than two axes (biases, normalisation scales) are set to zero
by default, ``biases="zero"``, as in the paper; ``biases="keep"`` treats each
as one filter (normalised to the norm of ``w`` under ``"filter"`` and
``"layer"``, raw under ``"none"``).

Why filters: with a positively homogeneous activation (ReLU), scaling a
layer's weights by ``c > 0`` and the next layer's by ``1/c`` leaves the
function unchanged, but moves a raw direction's step by a different relative
amount; the filter-normalised direction scales with the filters, so the
landscape ``L(w + a d)`` is the same at both weights.

>>> import torch
>>> w = {"weight": torch.tensor([[3.0, 4.0], [0.0, 1.0]]), "bias": torch.ones(2)}
>>> d = random_direction(w, seed=0)
>>> torch.linalg.vector_norm(d["weight"], dim=1)
tensor([5.0000, 1.0000])
>>> d["bias"]
tensor([0., 0.])
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from symscape.errors import InvalidOptionError, UnknownNameError

__all__ = ["BIASES", "NORMALIZATIONS", "check_direction", "random_direction"]

NORMALIZATIONS = ("filter", "layer", "none")
BIASES = ("zero", "keep")


def random_direction(
    params: Mapping[str, torch.Tensor],
    seed: int,
    normalization: str = "filter",
    biases: str = "zero",
) -> dict[str, torch.Tensor]:
    """A Gaussian direction ``{name: tensor}`` shaped as ``params``, normalised (see above).

    The draw depends on ``seed`` and the parameters' names, order and shapes
    only: it is made in float64 on the CPU, then cast to each parameter's
    dtype and device.
    """
    if normalization not in NORMALIZATIONS:
        raise UnknownNameError(
            f"unknown normalization {normalization!r}", fix=f"use one of {NORMALIZATIONS}"
        )
    if biases not in BIASES:
        raise UnknownNameError(f"unknown biases={biases!r}", fix=f"use one of {BIASES}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidOptionError(f"seed={seed!r} is not an integer >= 0", fix="e.g. seed=0")
    _check_params(params)
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, w in params.items():
        d = torch.randn(tuple(w.shape), generator=generator, dtype=torch.float64)
        w64 = w.detach().to("cpu", torch.float64)
        vector = w.dim() < 2
        if vector and biases == "zero":
            d = torch.zeros_like(d)
        elif normalization == "filter" and not vector:
            d = _rescale(d.flatten(1), w64.flatten(1)).reshape(d.shape)
        elif normalization != "none":  # "layer", or a kept bias as one filter
            d = _rescale(d.reshape(1, -1), w64.reshape(1, -1)).reshape(d.shape)
        out[name] = d.to(w.device, w.dtype)
    return out


def _rescale(d: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Each row of ``d`` rescaled to the norm of the same row of ``w`` (a zero row of ``w``
    gives a zero row)."""
    norm_d = torch.linalg.vector_norm(d, dim=1, keepdim=True)
    norm_w = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    return d * (norm_w / norm_d.clamp_min(torch.finfo(d.dtype).tiny))


def _check_params(params: Mapping[str, torch.Tensor]) -> None:
    names = list(params) if isinstance(params, Mapping) else []
    bad = [n for n in names if not _floating(params[n])]
    if not names or bad:
        raise InvalidOptionError(
            f"params must be a non-empty dict of floating tensors (bad: {bad})",
            fix="pass {name: tensor, ...}, e.g. dict(model.named_parameters())",
        )


def _floating(value) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def check_direction(
    params: Mapping[str, torch.Tensor], direction, what: str = "direction"
) -> dict[str, torch.Tensor]:
    """``direction`` as a dict with the names and shapes of ``params``, in their dtype and
    device; one line naming the first mismatch otherwise."""
    if not isinstance(direction, Mapping):
        raise InvalidOptionError(
            f"{what} is a {type(direction).__name__}, not a dict of tensors",
            fix="pass {name: tensor} with the names of params (e.g. random_direction(params, 0))",
        )
    if set(direction) != set(params):
        missing, extra = sorted(set(params) - set(direction)), sorted(set(direction) - set(params))
        raise InvalidOptionError(
            f"{what} does not match the params (missing {missing}, unknown {extra})",
            fix="give the direction one tensor per parameter, under the same names",
        )
    out = {}
    for name, w in params.items():
        d = direction[name]
        if not _floating(d):
            raise InvalidOptionError(
                f"{what}[{name!r}] is not a floating tensor", fix="pass floating tensors"
            )
        if tuple(d.shape) != tuple(w.shape):
            raise InvalidOptionError(
                f"{what}[{name!r}] has shape {tuple(d.shape)}, the params {tuple(w.shape)}",
                fix="draw the direction from these params (random_direction(params, seed))",
            )
        out[name] = d.detach().to(w.device, w.dtype)
    return out
