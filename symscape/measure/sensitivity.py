r"""Sensitivity of a predictor to diffeomorphisms (D_f), to noise (G_f), and their ratio R_f.

For a predictor ``f`` (its output, or the features of one of its layers) and
test images ``x`` (Petrini, Favero, Geiger, Wyart 2021):

    D_f = ⟨‖f(τx) − f(x)‖²⟩_{x,τ} / ⟨‖f(x) − f(z)‖²⟩_{x,z},
    G_f = ⟨‖f(x + η) − f(x)‖²⟩_{x,η} / ⟨‖f(x) − f(z)‖²⟩_{x,z},
    R_f = D_f / G_f,

with ``τ`` a maximum-entropy diffeomorphism (:mod:`symscape.diffeo`), one per
test point, and ``η`` Gaussian noise rescaled so that ``‖η‖ = ‖τx − x‖`` for
that same ``τ``. The denominator runs over the pairs of distinct test points.
``⟨·⟩`` is the median (``estimator="median"``, the original code; the lower
median when the count is even) or the mean (``"mean"``). With the median the
denominators cancel in R_f, which is then the ratio of the medians of the
two numerators.

Conventions: a numerator that is exactly zero gives ``D_f = 0`` (or ``G_f =
0``) even when the denominator is zero too, so a constant model has ``D_f =
G_f = 0``; ``R_f = D_f / G_f`` is then ``nan`` (undefined: the model moves
neither way). A non-zero numerator over a zero denominator gives ``inf``.

Confidence intervals are percentile bootstraps over the test points (each
replicate resamples the points, with the same replicates for every layer and
temperature); pairs of a resample that are the same test point are left out
of the denominator. Results depend only on ``seed`` and ``batch_size``.

For the identity map the two numerators are equal point by point, so R_f = 1:

>>> import torch
>>> from symscape.measure import sensitivities
>>> x = torch.rand(16, 1, 12, 12, dtype=torch.float64)
>>> [s] = sensitivities(lambda x: x, x, deltas=[1.0], estimator="mean", n_bootstrap=0)
>>> round(s.R, 10), s.layer
(1.0, 'output')
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from symscape.analysis.means import geometric_mean
from symscape.diffeo import (
    deform,
    same_norm_noise,
    sample_coefficients,
    temperature_from_displacement,
    temperature_range,
    typical_displacement,
)
from symscape.errors import InvalidOptionError
from symscape.validation import check_integer

__all__ = ["ESTIMATORS", "OUTPUT", "Sensitivity", "geometric_mean", "sensitivities"]

ESTIMATORS = ("median", "mean")
OUTPUT = "output"  # the layer name of the value f returns
# layers whose output depends on train/eval mode
_TRAINING_DEPENDENT = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.dropout._DropoutNd)


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """D_f, G_f, R_f of one layer at one temperature, with bootstrap intervals."""

    layer: str
    temperature: float
    delta: float  # the typical displacement in pixels, papers' convention
    c: float
    estimator: str
    n_points: int
    D: float
    G: float
    R: float
    D_interval: tuple[float, float]
    G_interval: tuple[float, float]
    R_interval: tuple[float, float]
    confidence: float
    n_bootstrap: int

    def as_dict(self) -> dict:
        """A JSON-able dict: intervals as lists, ``nan`` and ``inf`` as ``None``."""

        def clean(v):
            if isinstance(v, tuple):
                return [clean(u) for u in v]
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {k: clean(v) for k, v in dataclasses.asdict(self).items()}


# --------------------------------------------------------------------------- validation


def _numbers(values, name: str) -> list[float]:
    if isinstance(values, numbers.Real):
        values = [values]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidOptionError(
            f"{name}={values!r} is not a list of numbers", fix=f"pass {name}=[...]"
        ) from None
    if not out:
        raise InvalidOptionError(f"{name} is empty", fix=f"give at least one value in {name}")
    return out


def _resolve_layers(f, layers) -> dict[str, torch.nn.Module | None]:
    if layers is None:
        return {OUTPUT: None}
    if isinstance(layers, str):
        layers = [layers]
    names = list(dict.fromkeys(layers))
    if not names or not all(isinstance(n, str) for n in names):
        raise InvalidOptionError(
            f"layers={layers!r} is not a list of layer names",
            fix=f"pass names from model.named_modules(), or {OUTPUT!r}",
        )
    modules = dict(f.named_modules()) if isinstance(f, torch.nn.Module) else {}
    modules.pop("", None)
    unknown = [n for n in names if n != OUTPUT and n not in modules]
    if unknown:
        if not isinstance(f, torch.nn.Module):
            raise InvalidOptionError(
                f"layers {unknown} need forward hooks, and f is a plain callable",
                fix=f"pass an nn.Module to measure its layers, or layers=[{OUTPUT!r}]",
            )
        available = [OUTPUT, *modules]
        shown = ", ".join(available[:60]) + (", ..." if len(available) > 60 else "")
        raise InvalidOptionError(
            f"unknown layers {unknown}; this model has: {shown}",
            fix="use names from model.named_modules()",
        )
    return {n: None if n == OUTPUT else modules[n] for n in names}


class _Recorder:
    """Forward hooks that keep the output of each named layer during one call of f."""

    def __init__(self, layers: dict[str, torch.nn.Module | None]):
        self.layers = layers
        self.outputs: dict[str, torch.Tensor] = {}
        self.calls: dict[str, int] = {}
        self.handles = []

    def __enter__(self):
        for name, module in self.layers.items():
            if module is not None:
                self.handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()

    def _hook(self, name):
        def hook(_module, _inputs, output):
            self.outputs[name] = output
            self.calls[name] = self.calls.get(name, 0) + 1

        return hook

    def features(self, f, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer: [b, d]}`` for one batch: the layers' outputs, flattened per point."""
        self.outputs, self.calls = {}, {}
        out = f(x)
        result = {}
        for name in self.layers:
            value = out if name == OUTPUT else self.outputs.get(name)
            if self.calls.get(name, 1) != 1:
                raise InvalidOptionError(
                    f"layer {name!r} ran {self.calls[name]} times in one forward pass "
                    "(a module used twice), its features are ambiguous",
                    fix="measure the enclosing block or a module used once",
                )
            if not isinstance(value, torch.Tensor) or value.ndim < 1 or len(value) != len(x):
                what = "f's output" if name == OUTPUT else f"layer {name!r}"
                got = (
                    tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                )
                raise InvalidOptionError(
                    f"{what} is {got}, not a tensor with one row per input point ({len(x)})",
                    fix="measure a layer that returns a tensor [B, ...]",
                )
            result[name] = value.detach().reshape(len(x), -1)
        return result


# --------------------------------------------------------------------------- statistics


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() - b.double()).pow(2).sum(1).cpu()


def _pairwise(features: torch.Tensor) -> torch.Tensor:
    """``[N, N]`` squared distances in float64 (centred first, against cancellation)."""
    a = features.double()
    a = a - a.mean(0)
    sq = a.pow(2).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * a @ a.T).clamp_min(0).cpu()
    d.fill_diagonal_(0)
    return d


def _lower_median(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted lower median of ``values [M]`` for each row of integer ``weights [R, M]``."""
    order = torch.argsort(values)
    cum = weights[:, order].cumsum(1)
    k = torch.searchsorted(cum, (cum[:, -1:] + 1) // 2).clamp_max(len(values) - 1)[:, 0]
    return torch.where(cum[:, -1] > 0, values[order][k], math.nan)


def _pair_lower_median(dist: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Lower median over the pairs ``i < j``, pair ``(i, j)`` counted ``w_i w_j`` times.

    The pairs are sorted once; each replicate then costs one gather and one
    cumulative sum over the ``N(N − 1)/2`` pairs, in int32.
    """
    n = len(dist)
    i, j = torch.triu_indices(n, n, offset=1)
    flat = i * n + j
    values = dist.flatten()[flat]
    order = torch.argsort(values)
    flat, values = flat[order], values[order]
    out = []
    for w in weights.split(max(1, (1 << 22) // max(len(values), 1))):
        pair_weights = (w[:, :, None] * w[:, None, :]).flatten(1)[:, flat]
        cum = pair_weights.cumsum(1, dtype=torch.int32)
        k = torch.searchsorted(cum, (cum[:, -1:] + 1) // 2).clamp_max(len(values) - 1)[:, 0]
        out.append(torch.where(cum[:, -1] > 0, values[k], math.nan))
    return torch.cat(out)


def _pair_mean(dist: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the pairs ``i < j``, pair ``(i, j)`` counted ``w_i w_j`` times."""
    w = weights.double()
    total = ((w @ dist) * w).sum(1)  # the diagonal of dist is zero
    count = w.sum(1) ** 2 - w.pow(2).sum(1)
    return torch.where(count > 0, total / count, math.nan)


def _stability(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator``, and 0 wherever the numerator is exactly 0."""
    return torch.where(numerator == 0, 0.0, numerator / denominator)


def _denominator(dist: torch.Tensor, weights: torch.Tensor, estimator: str) -> torch.Tensor:
    """⟨‖f(x) − f(z)‖²⟩ over distinct pairs, for each row of resampling counts."""
    if estimator == "median":
        return _pair_lower_median(dist, weights)
    return _pair_mean(dist, weights)


def _numerator(values: torch.Tensor, weights: torch.Tensor, estimator: str) -> torch.Tensor:
    """⟨‖f(x') − f(x)‖²⟩ over points, for each row of resampling counts."""
    if estimator == "median":
        return _lower_median(values, weights)
    w = weights.double()
    return w @ values / w.sum(1)


def _interval(replicates: torch.Tensor, confidence: float) -> tuple[float, float]:
    if len(replicates) == 0 or bool(torch.isnan(replicates).all()):
        return (math.nan, math.nan)
    q = torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64)
    lo, hi = torch.nanquantile(replicates, q).tolist()
    return (lo, hi)


# --------------------------------------------------------------------------- measurement


def sensitivities(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    temperatures: Sequence[float] | float | None = None,
    deltas: Sequence[float] | float | None = None,
    c: float = 3,
    layers: Sequence[str] | None = None,
    estimator: str = "median",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    batch_size: int = 256,
    interpolation: str = "bilinear",
    cutoff: str = "authors",
) -> list[Sensitivity]:
    """D_f, G_f and R_f of ``f`` on test images ``x [N, C, H, W]``, one record per layer and T.

    Parameters
    ----------
    f:
        Any callable ``[B, C, H, W] → [B, ...]``, or an ``nn.Module`` (put it
        in ``eval()`` mode first: measuring runs it as it is, without gradients).
    temperatures, deltas:
        Exactly one: temperatures ``T``, or typical displacements δ in pixels
        (the papers' convention, ``T = 4δ²/(π n² ln c)``; "δ = 1" is their
        protocol, with c = 3 and 500 test images).
    layers:
        Names from ``f.named_modules()`` (measured in one pass, by forward
        hooks) and/or ``"output"``, the value ``f`` returns; default output only.
    estimator:
        ``"median"`` or ``"mean"``.
    n_bootstrap, confidence:
        Percentile bootstrap over test points (0 for no intervals: ``nan``).
    cutoff:
        The modes of the deformations (:data:`symscape.diffeo.CUTOFFS`): the
        authors' code (default) or the papers' prose.
    seed, batch_size:
        The deformations, the noise and the bootstrap follow from ``seed``;
        ``f`` sees batches of ``batch_size`` images.

    Returns the records ordered by layer, then temperature; see
    :class:`Sensitivity` (``as_dict()`` for JSON).
    """
    if not callable(f):
        raise InvalidOptionError(f"f={f!r} is not callable", fix="pass a model or a function")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidOptionError(
            f"x must be floating images [N, C, H, W], got {got}",
            fix="pass a batch of test images, e.g. x.float() with a batch axis",
        )
    n_points, size = len(x), tuple(x.shape[-2:])
    if n_points < 2:
        raise InvalidOptionError(
            f"x has {n_points} test point; the denominator needs pairs of distinct points",
            fix="pass at least 2 test images (the papers use 500)",
        )
    if (temperatures is None) == (deltas is None):
        raise InvalidOptionError(
            "give exactly one of temperatures and deltas",
            fix="pass temperatures=[...] or deltas=[...]",
        )
    temperature_range(size, c)  # validates c against the image size
    if deltas is not None:
        temps = [temperature_from_displacement(d, c, size) for d in _numbers(deltas, "deltas")]
    else:
        temps = _numbers(temperatures, "temperatures")
    deltas_ = [typical_displacement(T, c, size) for T in temps]  # validates T
    if estimator not in ESTIMATORS:
        raise InvalidOptionError(
            f"estimator={estimator!r} is not known", fix=f"use one of {', '.join(ESTIMATORS)}"
        )
    n_bootstrap = check_integer(n_bootstrap, "n_bootstrap", 0)
    batch_size = check_integer(batch_size, "batch_size", 1)
    seed = check_integer(seed, "seed", 0)
    if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise InvalidOptionError(
            f"confidence={confidence!r} must be in (0, 1)", fix="use e.g. confidence=0.95"
        )
    layer_modules = _resolve_layers(f, layers)
    if isinstance(f, torch.nn.Module) and any(
        m.training for m in f.modules() if isinstance(m, _TRAINING_DEPENDENT)
    ):
        warnings.warn(
            "the model has batch norm or dropout in training mode: call model.eval() first",
            UserWarning,
            stacklevel=2,
        )

    deform_seed, bootstrap_seed = (
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2)
    )
    generator = torch.Generator().manual_seed(deform_seed)
    batches = [slice(s, min(s + batch_size, n_points)) for s in range(0, n_points, batch_size)]
    d_tau = {name: torch.zeros(len(temps), n_points, dtype=torch.float64) for name in layer_modules}
    d_eta = {name: torch.zeros(len(temps), n_points, dtype=torch.float64) for name in layer_modules}
    recorder = _Recorder(layer_modules)
    with torch.no_grad(), recorder:
        clean = [recorder.features(f, x[b]) for b in batches]
        for t, T in enumerate(temps):
            coefficients = sample_coefficients(
                n_points, T, c, size=size, generator=generator, dtype=x.dtype, cutoff=cutoff
            )
            for b, ref in zip(batches, clean, strict=True):
                xb = x[b]
                moved = deform(xb, coefficients=coefficients[b], interpolation=interpolation)
                noisy = xb + same_norm_noise(xb, moved, generator=generator)
                for name, feats in recorder.features(f, moved).items():
                    d_tau[name][t, b] = _squared_distances(feats, ref[name])
                for name, feats in recorder.features(f, noisy).items():
                    d_eta[name][t, b] = _squared_distances(feats, ref[name])

    # row 0: every point once (the estimate); then the bootstrap resamples, as counts
    draws = torch.randint(
        n_points, (n_bootstrap, n_points), generator=torch.Generator().manual_seed(bootstrap_seed)
    )
    counts = torch.ones(1 + n_bootstrap, n_points, dtype=torch.int32)
    counts[1:] = 0
    counts[1:].scatter_add_(1, draws, torch.ones_like(draws, dtype=torch.int32))

    records = []
    for name in layer_modules:
        den = _denominator(_pairwise(torch.cat([ref[name] for ref in clean])), counts, estimator)
        for t, T in enumerate(temps):
            D = _stability(_numerator(d_tau[name][t], counts, estimator), den)
            G = _stability(_numerator(d_eta[name][t], counts, estimator), den)
            R = D / G
            records.append(
                Sensitivity(
                    layer=name,
                    temperature=T,
                    delta=deltas_[t],
                    c=float(c),
                    estimator=estimator,
                    n_points=n_points,
                    D=float(D[0]),
                    G=float(G[0]),
                    R=float(R[0]),
                    D_interval=_interval(D[1:], confidence),
                    G_interval=_interval(G[1:], confidence),
                    R_interval=_interval(R[1:], confidence),
                    confidence=float(confidence),
                    n_bootstrap=n_bootstrap,
                )
            )
    return records
