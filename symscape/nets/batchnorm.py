r"""Which statistics a network's batch-norm layers normalise by, while it is measured.

A batch-norm layer in ``eval()`` mode computes ``(x − μ) / √(σ² + ε) · γ + β``
with its *running* statistics ``μ, σ²``. At initialisation these are the
constructor's ``μ = 0, σ² = 1``, so every batch-norm layer is the identity
and the network measured is not the one that trains (which normalises each
batch). Two ways to measure a freshly initialised network as it computes:

* :func:`batch_statistics` (the authors' code, Petrini et al. 2021,
  diffeo-sota ``results/stability_measures.py``: "use batch statistics for
  batch-norm as at init there is no running statistics available"): within
  the block, each layer normalises by the mean and biased variance of the
  batch it sees. A batch must then hold one kind of image only (all clean,
  all deformed or all noisy), or the statistics mix them;
* :func:`estimate_running_statistics`: the running statistics set to the
  mean and variance over given images (the training set), one fixed
  function for every input.

>>> import torch
>>> bn = torch.nn.BatchNorm1d(3).eval()
>>> x = 5 + 2 * torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
>>> bool(torch.allclose(bn(x), x / (1 + bn.eps) ** 0.5))  # untouched running stats: identity
True
>>> with batch_statistics(bn):
...     y = bn(x)
>>> [abs(round(v, 4)) for v in (y.mean().item(), y.var(unbiased=False).item())]
[0.0, 1.0]
>>> bn.running_mean.tolist(), bn.training  # left as they were
([0.0, 0.0, 0.0], False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["batch_norm_layers", "batch_statistics", "estimate_running_statistics"]


def batch_norm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The batch-norm layers of ``model`` (``BatchNorm1d/2d/3d`` and their subclasses)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextlib.contextmanager
def batch_statistics(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, ``model``'s batch-norm layers use each batch's own statistics.

    The layers are put in ``eval()`` mode with their running statistics
    hidden (PyTorch then normalises by the batch's mean and biased variance
    and updates nothing); on exit the running statistics, their counter and
    each layer's mode are restored exactly. Other layers are not touched.
    """
    layers = batch_norm_layers(model)
    saved = [(m.running_mean, m.running_var, m.training) for m in layers]
    try:
        for m in layers:
            m.eval()
            m.running_mean = None
            m.running_var = None
        yield model
    finally:
        for m, (mean, var, training) in zip(layers, saved, strict=True):
            m.running_mean, m.running_var = mean, var
            m.train(training)


def estimate_running_statistics(
    model: nn.Module, x: torch.Tensor, batch_size: int = 500
) -> nn.Module:
    """Set the running statistics of ``model``'s batch-norm layers from the images ``x``, and
    return it in ``eval()`` mode: each layer's mean and variance averaged over the batches of
    ``batch_size`` (PyTorch's cumulative average, ``momentum=None``). The weights are not
    touched; each layer's momentum is restored."""
    layers = batch_norm_layers(model)
    momenta = [m.momentum for m in layers]
    model.train()
    try:
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: the mean over the batches
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                if len(x[start : start + batch_size]) >= 2:
                    model(x[start : start + batch_size])
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
    return model.eval()
