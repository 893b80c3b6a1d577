r"""Equivariance error of a model: how far ``f(g·x)`` is from ``ρ_out(g) f(x)``.

For a model ``f`` on point clouds (positions ``[B, n, 3]``, optionally with
features in the irreps ``irreps_in``) whose output lies in the irreps
``irreps_out``, and a group element ``g``,

    error(g) = max |f(g·x) − ρ_out(g) f(x)|,    relative = error / max |f(x)|,

the maxima running over the clouds and the output components (and, below,
over the sampled ``g``). The group acts by

- ``"rotation"``: ``r ↦ R r`` and features ``↦ D_in(R)``, output ``D_out(R)``,
  ``R`` uniform on SO(3) (``n_samples`` of them);
- ``"inversion"``: ``r ↦ −r``, each irrep multiplied by its parity;
- ``"translation"``: ``r ↦ r + t``, ``t ~ N(0, scale²)`` per cloud; the output
  should not change;
- ``"permutation"``: the points of each cloud reordered at random; a pooled
  output ``[B, d]`` should not change, a per-point output ``[B, n, d]`` is
  reordered the same way.

The representation matrices D(R) are built in float64 from e3nn's 3j
symbols (:func:`representation_matrix`; e3nn's own Wigner D goes through
Euler angles and loses up to ~1e-10 near their singular points). The measure runs
in each of ``dtypes``: the inputs are cast and an ``nn.Module`` is copied and
cast with ``.to(dtype)``, so constants the model keeps outside its
parameters and buffers keep their own precision. An exactly equivariant
network reaches ~1e-6 (float32) and ~1e-12 (float64); any other model
shows errors of the order of its outputs, which ``relative`` makes plain.

For image models ``[B, C, H, W] → [B, ...]``, :func:`invariance_errors`
measures ``max |f(g·x) − f(x)|`` under the 90° rotations, the flips
(reflections of the square) and cyclic translations of the pixels: exact
symmetries, to set beside the relative stability R_f of
:mod:`symscape.measure.sensitivity`.

>>> import torch
>>> from symscape.measure.equivariance import invariance_errors
>>> x = torch.rand(8, 3, 10, 10)
>>> pooled = lambda x: x.mean(dim=(2, 3))        # global average pooling
>>> [e.absolute < 1e-6 for e in invariance_errors(pooled, x, dtypes=[torch.float32])]
[True, True, True]
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence

import torch

from symscape.errors import InvalidOptionError, UnknownNameError

__all__ = [
    "IMAGE_TRANSFORMATIONS",
    "TRANSFORMATIONS",
    "EquivarianceError",
    "equivariance_errors",
    "invariance_errors",
    "random_rotations",
    "representation_matrix",
]

TRANSFORMATIONS = ("rotation", "inversion", "translation", "permutation")
IMAGE_TRANSFORMATIONS = ("rotation", "flip", "translation")
_DTYPES = {torch.float32: "float32", torch.float64: "float64"}


@dataclasses.dataclass(frozen=True)
class EquivarianceError:
    """The largest error of one transformation type in one precision."""

    transformation: str
    dtype: str
    absolute: float  # max |f(g·x) − ρ(g) f(x)|
    relative: float  # absolute / max |f(x)|
    n_samples: int  # group elements tried
    n_inputs: int  # clouds or images

    def as_dict(self) -> dict:
        """A JSON-able dict (``inf`` and ``nan`` as ``None``)."""
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in dataclasses.asdict(self).items()
        }


# --------------------------------------------------------------------------- group elements


def random_rotations(
    n: int, generator: torch.Generator | None = None, dtype=torch.float64
) -> torch.Tensor:
    """``n`` rotation matrices ``[n, 3, 3]`` uniform on SO(3) (normalised Gaussian quaternions)."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    w, x, y, z = (q / q.norm(dim=1, keepdim=True)).unbind(1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(row, -1) for row in rows], -2).to(dtype)


def _degree_matrices(rotation: torch.Tensor, l_max: int) -> list[torch.Tensor]:
    """``D^l(R)`` for ``l ≤ l_max`` in float64, by the recursion through e3nn's 3j symbols.

    With ``Q`` the 3j symbol ``(l − 1) ⊗ 1 → l`` as a ``[3(2l − 1), 2l + 1]``
    matrix (e3nn normalises it to ``QᵀQ = 1/(2l + 1)``),
    ``D^l = (2l + 1) Qᵀ (D^{l−1} ⊗ R) Q``, starting from ``D¹ = R`` (l = 1 is
    (x, y, z)). No Euler angles: those lose digits near their singular points.
    """
    from e3nn import o3

    if torch.equal(rotation, torch.eye(3, dtype=torch.float64)):  # exact, e.g. for inversion
        return [torch.eye(2 * degree + 1, dtype=torch.float64) for degree in range(l_max + 1)]
    blocks = [torch.ones(1, 1, dtype=torch.float64), rotation]
    for degree in range(2, l_max + 1):
        q = o3.wigner_3j(degree - 1, 1, degree, dtype=torch.float64).reshape(-1, 2 * degree + 1)
        blocks.append((2 * degree + 1) * q.T @ torch.kron(blocks[-1], rotation) @ q)
    return blocks


def representation_matrix(irreps, matrix: torch.Tensor) -> torch.Tensor:
    """``D(g)`` of e3nn ``irreps`` for an orthogonal ``matrix [3, 3]``, in float64.

    An improper ``matrix`` (det = −1) is ``−R`` with ``R`` a rotation; each
    irrep then carries its parity ``p``: ``D_{l,p}(−R) = p D^l(R)``.

    >>> import pytest; _ = pytest.importorskip("e3nn")
    >>> import torch
    >>> R = random_rotations(1, torch.Generator().manual_seed(0))[0]
    >>> bool((representation_matrix("1o", R) - R).abs().max() < 1e-15)   # l = 1 is (x, y, z)
    True
    >>> representation_matrix("0e + 0o", -torch.eye(3)).diagonal().tolist()
    [1.0, -1.0]
    """
    from symscape.equivariant import as_irreps

    irreps = as_irreps(irreps)
    m = torch.as_tensor(matrix).detach().to("cpu", torch.float64)
    identity = torch.eye(3, dtype=torch.float64)
    if m.shape != (3, 3) or (m @ m.T - identity).abs().max() > 1e-6:
        raise InvalidOptionError(
            f"matrix {tuple(m.shape)} is not an orthogonal 3 x 3 matrix",
            fix="pass a rotation, or a rotation times -1",
        )
    improper = bool(torch.linalg.det(m) < 0)
    blocks = _degree_matrices(-m if improper else m, irreps.lmax if len(irreps) else 0)
    parts = [(ir.p if improper else 1) * blocks[ir.l] for mul, ir in irreps for _ in range(mul)]
    return torch.block_diag(*parts) if parts else torch.zeros(0, 0, dtype=torch.float64)


# --------------------------------------------------------------------------- validation


def _names(values, known: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    names = list(dict.fromkeys(values))
    if not names:
        raise InvalidOptionError(f"no {what} given", fix=f"pass some of {', '.join(known)}")
    for name in names:
        if name not in known:
            raise UnknownNameError(f"unknown {what} {name!r}", fix=f"use {', '.join(known)}")
    return names


def _dtypes(dtypes) -> list[torch.dtype]:
    dtypes = [dtypes] if isinstance(dtypes, torch.dtype) else list(dtypes)
    if not dtypes or any(d not in _DTYPES for d in dtypes):
        raise InvalidOptionError(
            f"dtypes={dtypes!r} must list torch.float32 and/or torch.float64",
            fix="pass dtypes=[torch.float32, torch.float64]",
        )
    return dtypes


def _count(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= 1", fix=f"pass {name} >= 1"
        )
    return int(value)


def _in_dtype(f, dtype):
    """``f`` in ``dtype``: a cast copy of a module, or the callable itself."""
    if isinstance(f, torch.nn.Module):
        return copy.deepcopy(f).to(dtype)
    return f


def _outputs(f, *inputs, n_inputs: int) -> torch.Tensor:
    out = f(*inputs)
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or len(out) != n_inputs:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InvalidOptionError(
            f"the model returned {got}, not a tensor with one row per input ({n_inputs})",
            fix="measure a model that maps a batch of inputs to a batch of outputs",
        )
    return out.detach()


def _act(irreps, matrix: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor | None:
    """``values @ D(matrix)ᵀ``: the irreps of the last axis transformed (``None`` passes)."""
    if values is None:
        return None
    return values @ representation_matrix(irreps, matrix).to(values).T


def _reorder(values: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    """``values [B, n, d]`` with the points of cloud b in the order ``index[b]``."""
    if values is None:
        return None
    return values.gather(1, index[..., None].expand(-1, -1, values.shape[-1]))


def _seed(value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise InvalidOptionError(f"seed={value!r} must be an integer >= 0", fix="pass seed >= 0")
    return int(value)


def _error(moved: torch.Tensor, expected: torch.Tensor) -> float:
    return (moved.double() - expected.double()).abs().max().item() if moved.numel() else 0.0


def _record(name, dtype, errors, reference, n_inputs) -> EquivarianceError:
    absolute = max(errors)
    scale = reference.abs().max().item() if reference.numel() else 0.0
    relative = absolute / scale if scale > 0 else (0.0 if absolute == 0 else math.inf)
    return EquivarianceError(name, _DTYPES[dtype], absolute, relative, len(errors), n_inputs)


# --------------------------------------------------------------------------- point clouds


def _check_clouds(positions, features, irreps_in):
    if (
        not isinstance(positions, torch.Tensor)
        or positions.ndim != 3
        or positions.shape[-1] != 3
        or not positions.is_floating_point()
    ):
        got = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions)
        raise InvalidOptionError(
            f"positions must be floating point clouds [B, n, 3], got {got}",
            fix="pass a batch of clouds, e.g. positions[None] for one cloud",
        )
    if (features is None) != (irreps_in is None):
        raise InvalidOptionError(
            "features and irreps_in go together: one was given without the other",
            fix="pass both (features [B, n, irreps_in.dim]) or neither",
        )
    if features is not None and (
        not isinstance(features, torch.Tensor)
        or tuple(features.shape) != (*positions.shape[:2], irreps_in.dim)
    ):
        got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)
        raise InvalidOptionError(
            f"features {got} do not match positions {tuple(positions.shape)} and "
            f"irreps_in={str(irreps_in)!r} (dim {irreps_in.dim})",
            fix="pass features [B, n, irreps_in.dim]",
        )


def equivariance_errors(
    f: Callable[..., torch.Tensor],
    positions: torch.Tensor,
    irreps_out="0e",
    *,
    features: torch.Tensor | None = None,
    irreps_in=None,
    transformations: Sequence[str] = TRANSFORMATIONS,
    dtypes: Sequence[torch.dtype] = (torch.float32, torch.float64),
    n_samples: int = 4,
    translation_scale: float = 1.0,
    seed: int = 0,
) -> list[EquivarianceError]:
    """The equivariance error of ``f`` on point clouds, per transformation type and dtype.

    Parameters
    ----------
    f:
        A model called as ``f(positions)``, or ``f(positions, features)`` when
        ``features`` are given, returning ``[B, irreps_out.dim]`` (pooled) or
        ``[B, n, irreps_out.dim]`` (per point).
    positions, features:
        ``[B, n, 3]`` and ``[B, n, irreps_in.dim]``.
    irreps_out, irreps_in:
        e3nn ``Irreps`` (or strings) of the output and of the input features.
    transformations:
        Some of ``"rotation"``, ``"inversion"``, ``"translation"``, ``"permutation"``.
    dtypes, n_samples, translation_scale, seed:
        Precisions to measure in; group elements per type (inversion has one);
        the standard deviation of the translations; the seed of the draws
        (the same group elements in every dtype).

    Returns one :class:`EquivarianceError` per transformation and dtype,
    ordered by transformation, then dtype.
    """
    from symscape.equivariant import as_irreps

    if not callable(f):
        raise InvalidOptionError(f"f={f!r} is not callable", fix="pass a model or a function")
    irreps_out = as_irreps(irreps_out, "irreps_out")
    irreps_in = None if irreps_in is None else as_irreps(irreps_in, "irreps_in")
    _check_clouds(positions, features, irreps_in)
    names = _names(transformations, TRANSFORMATIONS, "transformation")
    dtypes = _dtypes(dtypes)
    n_samples = _count(n_samples, "n_samples")
    if not isinstance(translation_scale, numbers.Real) or not translation_scale > 0:
        raise InvalidOptionError(
            f"translation_scale={translation_scale!r} must be positive", fix="pass e.g. 1.0"
        )
    batch, n = positions.shape[:2]
    generator = torch.Generator().manual_seed(_seed(seed))
    elements = {  # group elements in float64, drawn once for every dtype
        "rotation": list(random_rotations(n_samples, generator)),
        "inversion": [-torch.eye(3, dtype=torch.float64)],
        "translation": [
            translation_scale * torch.randn(batch, 1, 3, generator=generator, dtype=torch.float64)
            for _ in range(n_samples)
        ],
        "permutation": [
            torch.argsort(torch.rand(batch, n, generator=generator), dim=1)
            for _ in range(n_samples)
        ],
    }
    records = []
    for dtype in dtypes:
        model = _in_dtype(f, dtype)
        pos = positions.to(dtype)
        feats = None if features is None else features.to(dtype)

        def run(p, x, model=model):
            return _outputs(model, *((p,) if x is None else (p, x)), n_inputs=batch)

        with torch.no_grad():
            reference = run(pos, feats)
            if reference.shape[-1] != irreps_out.dim:
                raise InvalidOptionError(
                    f"the model's output {tuple(reference.shape)} does not end in "
                    f"irreps_out.dim={irreps_out.dim} ({irreps_out})",
                    fix="pass the irreps of what the model returns",
                )
            per_point = reference.ndim == 3 and reference.shape[1] == n
            for name in names:
                errors = []
                for g in elements[name]:
                    if name in ("rotation", "inversion"):
                        moved = run(pos @ g.to(pos).T, _act(irreps_in, g, feats))
                        expected = _act(irreps_out, g, reference)
                    elif name == "translation":
                        moved, expected = run(pos + g.to(pos), feats), reference
                    else:
                        index = g.to(pos.device)
                        moved = run(_reorder(pos, index), _reorder(feats, index))
                        expected = _reorder(reference, index) if per_point else reference
                    errors.append(_error(moved, expected))
                records.append(_record(name, dtype, errors, reference, batch))
    return sorted(records, key=lambda r: names.index(r.transformation))


# --------------------------------------------------------------------------- images


def _image_elements(name: str, size: tuple[int, int], n_samples: int, generator):
    """The maps ``[B, C, H, W] → [B, C, H, W]`` of one transformation type."""
    height, width = size
    square = height == width
    if name == "rotation":
        turns = (1, 2, 3) if square else (2,)
        return [lambda x, k=k: torch.rot90(x, k, dims=(-2, -1)) for k in turns]
    if name == "flip":
        maps = [lambda x: x.flip(-1), lambda x: x.flip(-2)]
        if square:
            maps += [lambda x: x.transpose(-2, -1), lambda x: torch.rot90(x, 1, (-2, -1)).flip(-1)]
        return maps
    shifts = []
    while len(shifts) < n_samples and height * width > 1:
        dy, dx = (int(torch.randint(m, (1,), generator=generator)) for m in (height, width))
        if (dy, dx) != (0, 0):
            shifts.append((dy, dx))
    return [lambda x, s=s: torch.roll(x, s, dims=(-2, -1)) for s in shifts]


def invariance_errors(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    transformations: Sequence[str] = IMAGE_TRANSFORMATIONS,
    dtypes: Sequence[torch.dtype] = (torch.float32, torch.float64),
    n_samples: int = 4,
    seed: int = 0,
) -> list[EquivarianceError]:
    """``max |f(g·x) − f(x)|`` of an image model ``[B, C, H, W] → [B, ...]`` per transformation.

    ``"rotation"``: by 90°, 180°, 270° (180° only for a non-square image);
    ``"flip"``: the reflections (left-right, up-down, and the two diagonals of
    a square image); ``"translation"``: ``n_samples`` random non-zero cyclic
    shifts of the pixels (``torch.roll``). Same records as
    :func:`equivariance_errors`, with ``ρ_out(g) = 1``.
    """
    if not callable(f):
        raise InvalidOptionError(f"f={f!r} is not callable", fix="pass a model or a function")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidOptionError(
            f"x must be floating images [B, C, H, W], got {got}",
            fix="pass a batch of images, e.g. x.float() with a batch axis",
        )
    names = _names(transformations, IMAGE_TRANSFORMATIONS, "transformation")
    dtypes = _dtypes(dtypes)
    n_samples = _count(n_samples, "n_samples")
    generator = torch.Generator().manual_seed(_seed(seed))
    maps = {
        name: _image_elements(name, tuple(x.shape[-2:]), n_samples, generator) for name in names
    }
    records = []
    for dtype in dtypes:
        model, images = _in_dtype(f, dtype), x.to(dtype)
        with torch.no_grad():
            reference = _outputs(model, images, n_inputs=len(x))
            for name in names:
                errors = [
                    _error(_outputs(model, g(images), n_inputs=len(x)), reference)
                    for g in maps[name]
                ]
                records.append(_record(name, dtype, errors or [0.0], reference, len(x)))
    return sorted(records, key=lambda r: names.index(r.transformation))
