r"""Synthetic point-cloud tasks with an exact E(3) symmetry.

A cloud is ``n`` points drawn uniformly in a ball of radius ``spread``. Two
targets, both exact functions of the cloud:

- ``"energy"`` (irreps ``0e``, invariant): a Morse pair potential
  ``E = Σ_{a<b} φ(|r_a − r_b|)``, ``φ(r) = (1 − e^{−(r − 1)})² − 1``;
- ``"dipole"`` (irreps ``1o``, a vector): ``μ = Σ_a q_a (r_a − r̄)`` with
  charges ``q_a = c_a − ⟨c⟩`` set by the coordination ``c_a = Σ_{b≠a} e^{−|r_a − r_b|²}``.

Both are invariant to translations and permutations; the energy is invariant
to rotations and inversion, the dipole turns with the cloud and flips sign
under inversion. Clouds come from numpy PCG64 streams of ``seed``
(:func:`symscape.data.sampling.rng`), the same on every machine, and the
training sets are nested: the first P clouds do not depend on P. The
targets' irreps are e3nn ``Irreps`` (e3nn is imported on first use).

>>> import numpy as np
>>> cloud = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
>>> morse_energy(cloud)  # one pair at the minimum of φ
array([-1.])
>>> import pytest; _ = pytest.importorskip("e3nn")
>>> data = point_cloud_task("dipole", P=8, n_test=4, n_points=5)
>>> data.x_train.shape, data.y_train.shape, str(data.irreps_out)
(torch.Size([8, 5, 3]), torch.Size([8, 3]), '1x1o')
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import torch

from symscape.data.sampling import rng
from symscape.errors import InvalidOptionError, MissingDependencyError
from symscape.validation import choose

__all__ = ["TASKS", "PointCloudData", "dipole", "morse_energy", "point_cloud_task"]


def _irreps(spelling: str):
    """e3nn ``Irreps`` of ``spelling``; :class:`MissingDependencyError` without e3nn."""
    try:
        from e3nn import o3
    except ImportError as err:
        raise MissingDependencyError(
            f"point-cloud targets are e3nn irreps, and e3nn does not import ({err})",
            fix='reinstall symscape (e3nn is a dependency), or pip install "e3nn>=0.6,<0.7"',
        ) from None
    return o3.Irreps(spelling)


def _distances(cloud: np.ndarray) -> np.ndarray:
    return np.linalg.norm(cloud[:, None, :] - cloud[None, :, :], axis=-1)


def morse_energy(cloud: np.ndarray) -> np.ndarray:
    """``[1]``: the Morse pair energy of one cloud ``[n, 3]`` (minimum −1 per pair at r = 1)."""
    r = _distances(cloud)[np.triu_indices(len(cloud), k=1)]
    return np.array([np.sum((1 - np.exp(1 - r)) ** 2 - 1)])


def dipole(cloud: np.ndarray) -> np.ndarray:
    """``[3]``: ``Σ_a q_a (r_a − r̄)``, charges from the coordination ``Σ_b e^{−r_ab²}``."""
    r = _distances(cloud)
    coordination = np.exp(-(r**2)).sum(1) - 1  # without the point itself
    charges = coordination - coordination.mean()
    return charges @ (cloud - cloud.mean(0))


TASKS = {"energy": (morse_energy, "0e"), "dipole": (dipole, "1o")}


@dataclasses.dataclass(frozen=True)
class PointCloudData:
    """Clouds ``x [P, n, 3]`` and targets ``y [P, irreps_out.dim]`` (float64)."""

    task: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    irreps_out: object  # e3nn Irreps of the target


def _count(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidOptionError(
            f"{name}={value!r} must be an integer >= {minimum}", fix=f"pass {name} >= {minimum}"
        )
    return int(value)


def _clouds(generator: np.random.Generator, count: int, n_points: int, spread: float):
    """``count`` clouds of points uniform in the ball of radius ``spread``, one after the other."""
    clouds = np.empty((count, n_points, 3))
    for cloud in clouds:  # cloud by cloud, so that the first P do not depend on count
        direction = generator.standard_normal((n_points, 3))
        radius = spread * generator.random((n_points, 1)) ** (1 / 3)
        cloud[:] = radius * direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    return clouds


def point_cloud_task(
    task: str = "energy",
    P: int = 64,
    n_test: int = 256,
    *,
    n_points: int = 5,
    spread: float = 1.5,
    seed: int = 0,
) -> PointCloudData:
    """``P`` training and ``n_test`` test clouds of ``n_points`` points with the ``task`` target."""
    task = choose(task, TASKS, "task")
    P, n_test = _count(P, "P", 1), _count(n_test, "n_test", 1)
    n_points, seed = _count(n_points, "n_points", 2), _count(seed, "seed", 0)
    if not isinstance(spread, numbers.Real) or not spread > 0:
        raise InvalidOptionError(f"spread={spread!r} must be positive", fix="pass e.g. 1.5")
    target, irreps = TASKS[task]
    arrays = []
    for stream, count in (("train", P), ("test", n_test)):
        clouds = _clouds(rng(seed, stream), count, n_points, float(spread))
        arrays += [clouds, np.stack([target(c) for c in clouds])]
    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in arrays)
    return PointCloudData(task, x_train, y_train, x_test, y_test, _irreps(irreps))
