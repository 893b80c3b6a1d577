"""Input transforms, always fitted on the training set only.

They run in float64, in this order, when asked for:

1. ``resize`` images to ``image_size × image_size`` (bilinear; antialiased when shrinking);
2. ``flatten`` to vectors;
3. ``pca_whiten``: project on the first ``k`` principal components of the
   training inputs, each divided by its standard deviation, so the training
   covariance is the identity;
4. ``center``: subtract the training mean;
5. ``sphere``: rescale each input to norm ``√d`` (d = scalars per input).

>>> import torch
>>> from symscape.data.transforms import pca_whiten
>>> x = torch.randn(200, 5, dtype=torch.float64) @ torch.randn(5, 5, dtype=torch.float64)
>>> z_train, z_test = pca_whiten(x, x[:10], k=3)
>>> torch.allclose(torch.cov(z_train.T), torch.eye(3, dtype=torch.float64))
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from symscape.errors import InvalidOptionError

__all__ = ["center", "flatten", "pca_whiten", "resize", "sphere"]


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resample images ``[n, C, H, W]`` to ``[n, C, size, size]``."""
    if x.ndim != 4:
        raise InvalidOptionError(
            f"image_size needs images [n, C, H, W], got shape {tuple(x.shape)}",
            fix="only use image_size with image data sets",
        )
    if x.shape[-2:] == (size, size) or len(x) == 0:
        return x if len(x) else x.new_zeros(0, x.shape[1], size, size)
    shrink = size < min(x.shape[-2:])
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink
    )


def flatten(x: torch.Tensor) -> torch.Tensor:
    """``[n, ...] → [n, d]``."""
    return x.reshape(len(x), -1)


def pca_whiten(
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whitened projection on the first ``k`` principal components of ``x_train``.

    ``z = (x − μ) V_k / σ_k`` with μ the training mean, ``V_k`` the top
    right-singular vectors of the centred training matrix and ``σ_k² `` the
    corresponding variances (denominator ``P − 1``): ``cov(z_train) = I``.
    Signs are fixed so that the largest entry of each component is positive.
    """
    a, b = flatten(x_train), flatten(x_test)
    n, d = a.shape
    if k > min(n - 1, d):
        raise InvalidOptionError(
            f"pca={k} components need at least {k + 1} training points and {k} input dimensions, "
            f"have P={n} and d={d}",
            fix=f"use pca <= {max(min(n - 1, d), 0)} or a larger P",
        )
    mean = a.mean(0)
    _, s, vh = torch.linalg.svd(a - mean, full_matrices=False)
    std = s[:k] / math.sqrt(n - 1)
    if std[-1] <= 1e-12 * max(float(std[0]), 1e-300):
        raise InvalidOptionError(
            f"pca={k}: the training inputs span fewer than {k} dimensions, cannot whiten",
            fix="use fewer components",
        )
    v = vh[:k].T
    idx = v.abs().argmax(0)
    v = v * torch.sign(v[idx, torch.arange(k)])
    return (a - mean) @ v / std, (b - mean) @ v / std


def center(x_train: torch.Tensor, x_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract the training mean (per scalar of the input) from both sets."""
    mean = x_train.mean(0, keepdim=True)
    return x_train - mean, x_test - mean


def sphere(x: torch.Tensor) -> torch.Tensor:
    """Rescale each input to norm ``√d``, as in the jamming papers."""
    if len(x) == 0:
        return x
    d = math.prod(x.shape[1:])
    norms = flatten(x).norm(dim=1)
    if bool((norms == 0).any()):
        raise InvalidOptionError(
            "sphere=True met an input of norm zero, which has no direction",
            fix="use center=False or sphere=False for this data",
        )
    return x * (math.sqrt(d) / norms).reshape(-1, *([1] * (x.ndim - 1)))
