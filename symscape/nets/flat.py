"""The parameters of an ensemble as one vector per member, and back.

Parameters are a dict of tensors ``[E, ...]`` (member first, see
:class:`~symscape.nets.base.Architecture`); flattening concatenates each
member's tensors in the dict's order.

>>> import torch
>>> params = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([[7.0], [8.0]])}
>>> flat_params(params).tolist()
[[0.0, 1.0, 2.0, 7.0], [3.0, 4.0, 5.0, 8.0]]
>>> back = unflat_params(flat_params(params), params)
>>> all(torch.equal(back[k], params[k]) for k in params)
True
"""

from __future__ import annotations

import torch

from symscape.nets.base import Params

__all__ = ["flat_params", "unflat_params"]


def flat_params(params: Params) -> torch.Tensor:
    """The parameters of each member as one vector: ``[E, N]``."""
    return torch.cat([p.reshape(p.shape[0], -1) for p in params.values()], dim=1)


def unflat_params(vector: torch.Tensor, like: Params) -> Params:
    """The inverse of :func:`flat_params`: ``[E, N]`` back to parameters shaped as ``like``."""
    out, start = {}, 0
    for name, p in like.items():
        size = p[0].numel()
        out[name] = vector[:, start : start + size].reshape(p.shape)
        start += size
    return out
