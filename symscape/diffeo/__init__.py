r"""Maximum-entropy random diffeomorphisms of images, and noise of the same norm.

An image is a function on the unit square, ``s = (u, v) ∈ [0, 1]²`` with
``u`` along the width (columns) and ``v`` along the height (rows). A
deformation moves every point by a displacement field ``τ``,

    τx(s) = x(s − τ(s)),
    τ_u(u, v) = Σ_{i,j ≥ 1} C_ij sin(iπu) sin(jπv),   τ_v the same with D_ij,

with ``C_ij, D_ij`` independent ``N(0, T / (i² + j²))`` for the modes kept
by the cut-off ``c`` and zero beyond: the distribution of maximum entropy at
fixed "energy" Σ (i² + j²)(C_ij² + D_ij²), with temperature ``T``. The field
vanishes on the border of the image.

Cut-off (:data:`CUTOFFS`). By default the authors' released code
(pcsl-epfl/diffeomorphism, ``cutoff="authors"``): ``i, j = 1 … c`` with
``√(i² + j²) < c + ½``, 6 modes at ``c = 3``; the papers' prose
(``cutoff="paper"``): ``√(i² + j²) ≤ c``, 4 modes at ``c = 3``.

Pixels. Pixel ``k`` of an axis of length ``n`` sits at ``k / (n − 1)``, so the
first and last rows and columns lie on the border and never move. A
displacement ``τ`` (in units of the image side) moves by ``n τ`` pixels, as in
the original code. Rectangular images ``H × W`` use the same sine series on
each axis with its own length: the horizontal displacement is ``W τ_u``
pixels and the vertical one ``H τ_v``. The deformation of an ``H × W`` image
is thus the deformation of the unit square stretched to the image; the
Jacobian determinant only changes by a positive factor, so a field that does
not fold the square does not fold the image. Wherever a formula below has
the side ``n``, a rectangular image uses ``n_eff = √((H² + W²)/2)``, the side
that keeps ``δ`` the root-mean-square displacement in pixels.

Resampling is bilinear with coordinates clamped to the image (replicate
border), or nearest-pixel; one fused ``grid_sample`` call deforms a whole
batch, each image with its own field, and is differentiable in the image.

Temperatures (Petrini, Favero, Geiger, Wyart 2021). The typical displacement
in pixels, for an ``n × n`` image, is

    δ ≈ (n/2) √(π T ln c),

the root-mean-square of the displacement ‖n τ(s)‖ over the image and the
draws, once the sum Σ 1/(i²+j²) over the kept modes is replaced by its
continuum value (π/2) ln c. The sum is smaller at small cut-offs, so the
formula overestimates the true displacement: with the authors' cut-off by
19% at c = 3, 16% at c = 5, 14% at c = 10, 8% at c = 60 (the papers' cut-off:
30%, 21%, 15%, 9%; the exact sum is ``exact=True``). It remains the
*convention* of the papers: "δ = 1 pixel" means ``T = 4 δ² / (π n² ln c)``.
A deformation is visible (δ ≥ 1/2 pixel) for ``T ≥ T_min = 1/(π n² ln c)``
and does not fold the image, typically, for ``T ≤ T_max = 4/(π³ c² ln c)``;
the range is empty when ``c ≥ 2n/π``.

>>> import torch
>>> from symscape.diffeo import deform, same_norm_noise, temperature_range
>>> T_min, T_max = temperature_range(32, c=3)
>>> print(f"{T_min:.3g} {T_max:.3g}")
0.000283 0.013
>>> x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
>>> y = deform(x, T=T_max, c=3, generator=0)          # four images, four fields
>>> bool((y[:, :, 0] - x[:, :, 0]).abs().max() < 1e-12)  # the top row does not move
True
>>> eta = same_norm_noise(x, y, generator=0)
>>> torch.allclose(eta.flatten(1).norm(dim=1), (y - x).flatten(1).norm(dim=1))
True
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import torch
import torch.nn.functional as F

from symscape.diffeo._checks import (
    CUTOFFS,
    INTERPOLATIONS,
    _as_generator,
    _check_cut,
    _check_cutoff,
    _check_images,
    _check_interpolation,
    _check_positive,
    _check_range,
    _randn,
    _side,
)
from symscape.errors import InvalidOptionError

__all__ = [
    "CUTOFFS",
    "INTERPOLATIONS",
    "RandomDiffeo",
    "TemperatureWarning",
    "deform",
    "displacement_field",
    "mode_mask",
    "number_of_modes",
    "remap",
    "same_norm_noise",
    "sample_coefficients",
    "temperature_from_displacement",
    "temperature_range",
    "typical_displacement",
]


class TemperatureWarning(UserWarning):
    """A temperature outside ``[T_min, T_max]``: invisible, or likely to fold the image."""


_WARNED: set[str] = set()


def _warn_once(reason: str, message: str) -> None:
    """Warn once per process for each reason (below T_min, above T_max)."""
    if reason not in _WARNED:
        _WARNED.add(reason)
        warnings.warn(message, TemperatureWarning, stacklevel=4)


# --------------------------------------------------------------------------- warnings


def _warn_if_outside(temperature: float, c: float, n) -> None:
    low, high = _check_range(c, n)
    if temperature < low:
        _warn_once(
            "below",
            f"T={temperature:.3g} is below T_min={low:.3g} (c={c:g}, n={n}): the typical "
            "displacement is under half a pixel, the deformation is barely visible",
        )
    elif temperature > high:
        _warn_once(
            "above",
            f"T={temperature:.3g} is above T_max={high:.3g} (c={c:g}): the deformation will often "
            "fold the image and is no longer a diffeomorphism",
        )


# --------------------------------------------------------------------------- temperatures


def temperature_range(n, c: float = 3) -> tuple[float, float]:
    """``(T_min, T_max) = (1/(π n² ln c), 4/(π³ c² ln c))`` for images of side ``n``.

    ``n`` is an integer, or ``(H, W)`` for rectangular images (then ``n_eff``).
    Raises :class:`~symscape.errors.InvalidOptionError` when the range is empty
    (``c ≥ 2n/π``) or ``c < 2``.
    """
    return _check_range(_check_cut(c), n)


def _mode_sum(c: float, cutoff: str = "authors") -> float:
    """``Σ 1/(i² + j²)`` over the modes ``(i, j)`` that the cut-off keeps."""
    keep = mode_mask(c, cutoff)
    i = torch.arange(1, keep.shape[0] + 1, dtype=torch.float64)
    r2 = i[:, None] ** 2 + i[None, :] ** 2
    return float(torch.where(keep, 1 / r2, 0).sum())


def typical_displacement(
    T: float, c: float, n, *, exact: bool = False, cutoff: str = "authors"
) -> float:
    """Typical displacement δ in pixels at temperature ``T`` and cut-off ``c``.

    By default the papers' formula ``δ = (n/2) √(π T ln c)``. With
    ``exact=True``, the root-mean-square displacement over the image (the
    continuous square) and the draws, ``δ = n √(T S / 2)`` with ``S = Σ
    1/(i² + j²)`` over the modes ``cutoff`` keeps; the papers' formula replaces ``S``
    by ``(π/2) ln c`` and overestimates δ by 19% at ``c = 3`` (30% with the papers'
    cut-off). Averaged over the
    pixel grid instead of the square, ``δ²`` is smaller by ``(1 − 1/H)(1 − 1/W)``.
    """
    T, c, side = _check_positive(T, "T"), _check_cut(c), _side(n)
    if exact:
        return side * math.sqrt(T * _mode_sum(c, cutoff) / 2)
    return side / 2 * math.sqrt(math.pi * T * math.log(c))


def temperature_from_displacement(
    delta: float, c: float, n, *, exact: bool = False, cutoff: str = "authors"
) -> float:
    """The inverse of :func:`typical_displacement`: ``T = 4 δ² / (π n² ln c)`` by default."""
    delta, c, side = _check_positive(delta, "delta"), _check_cut(c), _side(n)
    if exact:
        return 2 * delta**2 / (side**2 * _mode_sum(c, cutoff))
    return 4 * delta**2 / (math.pi * side**2 * math.log(c))


# --------------------------------------------------------------------------- fields


def number_of_modes(c: float, cutoff: str = "authors") -> int:
    """Modes per axis kept by the cut-off: the largest ``i`` with ``(i, 1)`` kept.

    ``⌊c⌋`` for the authors' cut-off (``i² + 1 < (c + ½)²`` holds for every
    ``i ≤ c`` once ``c ≥ 2``); the largest ``i`` with ``i² + 1 ≤ c²`` for the papers'.

    >>> number_of_modes(3), number_of_modes(3, "paper")
    (3, 2)
    """
    c, cutoff = _check_cut(c), _check_cutoff(cutoff)
    if cutoff == "authors":
        return math.floor(c)
    return math.isqrt(math.floor(c * c) - 1)


def mode_mask(c: float, cutoff: str = "authors") -> torch.Tensor:
    """``[m, m]`` booleans, ``[i − 1, j − 1]`` true when the cut-off keeps the mode ``(i, j)``.

    ``m = number_of_modes(c, cutoff)``; the authors' cut-off keeps ``√(i² + j²) < c + ½``
    (with ``i, j ≤ c``), the papers' ``√(i² + j²) ≤ c``.

    >>> int(mode_mask(3).sum()), int(mode_mask(3, "paper").sum())
    (6, 4)
    """
    cutoff = _check_cutoff(cutoff)
    m = number_of_modes(c, cutoff)
    i = torch.arange(1, m + 1, dtype=torch.float64)
    r2 = i[:, None] ** 2 + i[None, :] ** 2
    if cutoff == "authors":
        return r2 < (c + 0.5) ** 2
    return r2 <= c * c


def sample_coefficients(
    batch: int,
    T: float,
    c: float = 3,
    *,
    size=None,
    generator=None,
    dtype: torch.dtype = torch.float32,
    device="cpu",
    cutoff: str = "authors",
) -> torch.Tensor:
    """Random coefficients ``[batch, 2, m, m]`` of ``batch`` fields, ``m = number_of_modes(c)``.

    ``[:, 0, i−1, j−1]`` is ``C_ij`` (the horizontal displacement τ_u) and
    ``[:, 1, i−1, j−1]`` is ``D_ij`` (τ_v); they are ``N(0, T/(i² + j²))``
    for the modes the ``cutoff`` keeps (:func:`mode_mask`) and exactly zero
    beyond. With ``size`` (``n`` or
    ``(H, W)``), ``T`` is checked against :func:`temperature_range` (a
    :class:`TemperatureWarning` once per process when outside it).
    ``generator`` is a ``torch.Generator``, an integer seed or ``None``
    (torch's global generator).
    """
    if not isinstance(batch, numbers.Integral) or isinstance(batch, bool) or batch < 0:
        raise InvalidOptionError(
            f"batch={batch!r} is not a number of images", fix="give an integer >= 0"
        )
    T, c = _check_positive(T, "T"), _check_cut(c)
    if size is not None:
        _warn_if_outside(T, c, size)
    keep = mode_mask(c, cutoff)
    m = keep.shape[0]
    i = torch.arange(1, m + 1, dtype=torch.float64)
    r2 = i[:, None] ** 2 + i[None, :] ** 2
    std = torch.where(keep, torch.sqrt(T / r2), 0).to(dtype=dtype, device=device)
    z = _randn((int(batch), 2, m, m), _as_generator(generator), dtype, device)
    return z * std


@functools.lru_cache(maxsize=64)
def _sines(n: int, m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[n, m]`` matrix ``sin(iπ k/(n − 1))``, exactly zero on the first and last pixel."""
    k = torch.arange(n, dtype=torch.float64)
    i = torch.arange(1, m + 1, dtype=torch.float64)
    s = torch.sin(math.pi * k[:, None] * i[None, :] / (n - 1))
    s[0] = 0
    s[-1] = 0
    return s.to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _grid_parts(height: int, width: int, m_u: int, dtype: torch.dtype, device: torch.device):
    """The pieces of the sampling grid of ``grid_sample`` (``align_corners=True``).

    ``grid[b, h, w, l] = base[h, w, l] + Σ_{i,k} P[b, h, (i, k)] K[(i, k), (w, l)]``:
    ``K`` holds ``sin(iπu_w)`` times the factor that turns a displacement in
    units of the image side into grid units, ``−2W/(W − 1)`` or ``−2H/(H − 1)``.
    """
    s_w = _sines(width, m_u, torch.float64, torch.device("cpu"))
    scale = torch.tensor(
        [-2 * width / (width - 1), -2 * height / (height - 1)], dtype=torch.float64
    )
    kernel = torch.einsum("wi,k,kl->ikwl", s_w, scale, torch.eye(2, dtype=torch.float64))
    kernel = kernel.reshape(2 * m_u, 2 * width)
    gx = torch.linspace(-1, 1, width, dtype=torch.float64)
    gy = torch.linspace(-1, 1, height, dtype=torch.float64)
    base = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)  # [H, W, 2]: (x, y)
    return kernel.to(dtype=dtype, device=device), base.to(dtype=dtype, device=device)


def _check_coefficients(coefficients, batch: int | None = None) -> torch.Tensor:
    if (
        not isinstance(coefficients, torch.Tensor)
        or coefficients.ndim != 4
        or coefficients.shape[1] != 2
        or (batch is not None and coefficients.shape[0] != batch)
    ):
        shape = tuple(coefficients.shape) if isinstance(coefficients, torch.Tensor) else None
        want = f"[{batch if batch is not None else 'B'}, 2, m, m]"
        raise InvalidOptionError(
            f"coefficients of shape {shape} are not {want}",
            fix="use sample_coefficients(B, T, c), one field per image",
        )
    return coefficients


def displacement_field(coefficients: torch.Tensor, size) -> torch.Tensor:
    """The displacement in pixels ``[B, 2, H, W]`` of each field on an ``H × W`` image.

    ``[:, 0]`` is the horizontal displacement ``W τ_u`` (along columns),
    ``[:, 1]`` the vertical one ``H τ_v`` (along rows); ``size`` is ``n`` or
    ``(H, W)``. Computed separably, ``τ_u = S_H Cᵀ S_Wᵀ`` with the sine
    matrices ``S_n[k, i] = sin(iπ k/(n − 1))``.
    """
    coefficients = _check_coefficients(coefficients)
    _side(size)
    height, width = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
    dtype, device = coefficients.dtype, coefficients.device
    s_w = _sines(width, coefficients.shape[2], dtype, device)
    s_h = _sines(height, coefficients.shape[3], dtype, device)
    tau = s_h @ coefficients.transpose(-1, -2) @ s_w.T  # [B, 2, H, W], units of the side
    return tau * torch.tensor([width, height], dtype=dtype, device=device).view(1, 2, 1, 1)


def _sample(x: torch.Tensor, grid: torch.Tensor, interpolation: str) -> torch.Tensor:
    # align_corners=True: grid −1 and +1 are the centres of the first and last pixels;
    # padding_mode="border" clamps the source coordinates to the image before interpolating.
    return F.grid_sample(x, grid, mode=interpolation, padding_mode="border", align_corners=True)


def remap(
    x: torch.Tensor, displacement: torch.Tensor, interpolation: str = "bilinear"
) -> torch.Tensor:
    """``out(p) = x(p − d(p))`` for images ``[B, C, H, W]`` and displacements ``[B, 2, H, W]``.

    Displacements are in pixels (``[:, 0]`` along columns, ``[:, 1]`` along
    rows); source coordinates are clamped to the image (replicate border).
    """
    _check_images(x)
    interpolation = _check_interpolation(interpolation)
    b, _, height, width = x.shape
    if not isinstance(displacement, torch.Tensor) or displacement.shape != (b, 2, height, width):
        got = tuple(displacement.shape) if isinstance(displacement, torch.Tensor) else None
        raise InvalidOptionError(
            f"displacement of shape {got} does not match images {tuple(x.shape)}",
            fix=f"give one field per image, of shape {(b, 2, height, width)}",
        )
    _, base = _grid_parts(height, width, 1, x.dtype, x.device)
    scale = torch.tensor([2 / (width - 1), 2 / (height - 1)], dtype=x.dtype, device=x.device)
    grid = base - displacement.to(x.dtype).permute(0, 2, 3, 1) * scale
    return _sample(x, grid, interpolation)


def deform(
    x: torch.Tensor,
    T: float | None = None,
    c: float = 3,
    *,
    delta: float | None = None,
    coefficients: torch.Tensor | None = None,
    generator=None,
    interpolation: str = "bilinear",
    cutoff: str = "authors",
) -> torch.Tensor:
    """Deform each image of ``x [B, C, H, W]`` by its own random diffeomorphism.

    Give exactly one of the temperature ``T``, the typical displacement
    ``delta`` in pixels (the papers' convention, :func:`temperature_from_displacement`)
    or explicit ``coefficients [B, 2, m, m]`` (:func:`sample_coefficients`;
    ``T``, ``c``, ``cutoff`` and the range checks are then not used). ``cutoff``
    picks the modes (:data:`CUTOFFS`). The result has the
    dtype and device of ``x`` and is differentiable with respect to ``x``.
    The same coefficients give the same image whether an image is deformed
    alone or in a batch.
    """
    _check_images(x)
    interpolation = _check_interpolation(interpolation)
    b, _, height, width = x.shape
    given = [
        name
        for name, v in (("T", T), ("delta", delta), ("coefficients", coefficients))
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidOptionError(
            f"deform got {' and '.join(given) if given else 'none'} of T, delta, coefficients",
            fix="give exactly one of T, delta or coefficients",
        )
    if coefficients is None:
        c = _check_cut(c)
        if delta is not None:
            T = temperature_from_displacement(delta, c, (height, width))
        coefficients = sample_coefficients(
            b,
            T,
            c,
            size=(height, width),
            generator=generator,
            dtype=x.dtype,
            device=x.device,
            cutoff=cutoff,
        )
    coefficients = _check_coefficients(coefficients, b).to(dtype=x.dtype, device=x.device)
    _, _, m_u, m_v = coefficients.shape
    kernel, base = _grid_parts(height, width, m_u, x.dtype, x.device)
    s_h = _sines(height, m_v, x.dtype, x.device)
    # P[b, h, (i, k)] = Σ_j sin(jπ v_h) coef[b, k, i, j], then one matmul for every row of the batch
    rows = s_h @ coefficients.permute(0, 3, 2, 1).reshape(b, m_v, 2 * m_u)
    grid = (rows.reshape(b * height, 2 * m_u) @ kernel).view(b, height, width, 2)
    return _sample(x, grid.add_(base), interpolation)


def same_norm_noise(x: torch.Tensor, x_deformed: torch.Tensor, generator=None) -> torch.Tensor:
    """Gaussian noise ``η`` rescaled per image so that ``‖η‖ = ‖τx − x‖``.

    Norms are over all of an image's values (channels and pixels); an image
    that the deformation left unchanged gets ``η = 0``.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(x_deformed, torch.Tensor):
        raise InvalidOptionError("same_norm_noise needs two tensors", fix="pass x and deform(x)")
    if x.shape != x_deformed.shape or x.ndim < 2 or not x.is_floating_point():
        raise InvalidOptionError(
            f"x {tuple(x.shape)} and x_deformed {tuple(x_deformed.shape)} must be batches of "
            "floating images of the same shape",
            fix="pass x and deform(x)",
        )
    eta = _randn(x.shape, _as_generator(generator), x.dtype, x.device)
    target = (x_deformed - x).detach().flatten(1).norm(dim=1)
    scale = target / eta.flatten(1).norm(dim=1)
    return eta * scale.view(-1, *([1] * (x.ndim - 1)))


class RandomDiffeo(torch.nn.Module):
    """Augmentation: a random diffeomorphism for each image, in a torchvision-style pipeline.

    Accepts one image ``[C, H, W]`` or a batch ``[B, C, H, W]``. Give the
    temperature ``T`` or the typical displacement ``delta`` in pixels (then
    ``T`` follows each input's size). ``generator`` (a ``torch.Generator`` or a
    seed) makes the sequence of deformations reproducible; with ``None``,
    torch's global generator is used, which ``DataLoader`` seeds per worker.
    """

    def __init__(
        self,
        T: float | None = None,
        c: float = 3,
        *,
        delta: float | None = None,
        interpolation: str = "bilinear",
        generator=None,
        cutoff: str = "authors",
    ):
        super().__init__()
        if (T is None) == (delta is None):
            raise InvalidOptionError(
                "RandomDiffeo needs exactly one of T and delta", fix="pass T=... or delta=..."
            )
        self.T = None if T is None else _check_positive(T, "T")
        self.delta = None if delta is None else _check_positive(delta, "delta")
        self.c = _check_cut(c)
        self.cutoff = _check_cutoff(cutoff)
        self.interpolation = _check_interpolation(interpolation)
        self.generator = _as_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = isinstance(x, torch.Tensor) and x.ndim == 3
        batch = x.unsqueeze(0) if single else x
        options = dict(generator=self.generator, interpolation=self.interpolation)
        out = deform(batch, self.T, self.c, delta=self.delta, cutoff=self.cutoff, **options)
        return out[0] if single else out

    def extra_repr(self) -> str:
        what = f"T={self.T:g}" if self.T is not None else f"delta={self.delta:g}"
        return f"{what}, c={self.c:g}, cutoff={self.cutoff!r}, interpolation={self.interpolation!r}"
