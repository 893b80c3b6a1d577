r"""Synthetic point-cloud tasks with an exact E(3) symmetry, and learning curves on them.

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
training sets are nested: the first P clouds do not depend on P.

:func:`learning_curves` trains, for each training-set size P, ``E`` seeds of
the equivariant network (one :class:`~symscape.equivariant.EquivariantEnsemble`),
of an MLP on the flattened coordinates, and of the same MLP with random
rotations of the training clouds at every step, and reports their test
errors and equivariance errors.

>>> import pytest; _ = pytest.importorskip("e3nn")
>>> import torch
>>> from symscape.equivariant.tasks import dipole, point_cloud_task
>>> from symscape.measure.equivariance import equivariance_errors
>>> data = point_cloud_task("dipole", P=8, n_test=4, n_points=5)
>>> data.x_train.shape, data.y_train.shape, str(data.irreps_out)
(torch.Size([8, 5, 3]), torch.Size([8, 3]), '1x1o')
>>> target = lambda x: torch.stack([torch.from_numpy(dipole(c.numpy())) for c in x])
>>> max(e.relative for e in equivariance_errors(target, data.x_test, "1o")) < 1e-5
True
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from symscape.data.sampling import rng
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.validation import choose

__all__ = [
    "MODELS",
    "TASKS",
    "LearningPoint",
    "PointCloudData",
    "dipole",
    "learning_curves",
    "morse_energy",
    "point_cloud_task",
]

MODELS = ("equivariant", "mlp", "mlp_augmented")


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
    from symscape.equivariant import as_irreps

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
    return PointCloudData(task, x_train, y_train, x_test, y_test, as_irreps(irreps))


# --------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class LearningPoint:
    """One trained model: its test error (MSE over the test variance) at one P and seed."""

    task: str
    model: str
    P: int
    seed: int
    train_error: float
    test_error: float
    rotation_error: float  # relative equivariance error under rotations, float32

    def as_dict(self) -> dict:
        """A JSON-able dict."""
        return dataclasses.asdict(self)


class _MLPs(torch.nn.Module):
    """E independent MLPs on the flattened coordinates, ``[B, n, 3] → [E, B, k]``."""

    def __init__(self, seeds: Sequence[int], n_points: int, k: int, width: int):
        super().__init__()
        members = []
        for seed in seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                members.append(
                    torch.nn.Sequential(
                        torch.nn.Flatten(),
                        torch.nn.Linear(3 * n_points, width),
                        torch.nn.SiLU(),
                        torch.nn.Linear(width, width),
                        torch.nn.SiLU(),
                        torch.nn.Linear(width, k),
                    )
                )
        self.members = torch.nn.ModuleList(members)

    def forward(self, x):
        """``[E, B, k]``."""
        return torch.stack([m(x) for m in self.members])


def _member(model: torch.nn.Module, i: int):
    return lambda x: model(x)[i]


def _train(model, data, scale, steps, lr, augment, generator):
    """Full-batch Adam with cosine decay on the summed MSE of every member."""
    from symscape.measure.equivariance import random_rotations, representation_matrix

    x, y = data.x_train.float(), (data.y_train / scale).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        xb, yb = x, y
        if augment:
            rotations = random_rotations(len(x), generator)
            d_out = torch.stack([representation_matrix(data.irreps_out, R) for R in rotations])
            xb = torch.einsum("bij,bnj->bni", rotations.float(), x)
            yb = torch.einsum("bij,bj->bi", d_out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss = (model(xb) - yb).pow(2).mean(dim=(1, 2)).sum()
        loss.backward()
        optimizer.step()
        schedule.step()


def _relative_errors(model, x, y, scale) -> list[float]:
    with torch.no_grad():
        prediction = model(x.float()).double() * scale
    variance = (y - y.mean(0)).pow(2).mean()
    return ((prediction - y).pow(2).mean(dim=(1, 2)) / variance).tolist()


def learning_curves(
    task: str = "energy",
    sizes: Sequence[int] = (16, 32, 64, 128),
    seeds: Sequence[int] = (0, 1),
    *,
    models: Sequence[str] = MODELS,
    n_points: int = 5,
    n_test: int = 256,
    steps: int = 300,
    lr: float = 1e-2,
    width: int = 64,
    network: dict | None = None,
    data_seed: int = 0,
) -> list[LearningPoint]:
    """Test errors of each model at each training-set size P, for every seed.

    Every P uses the first P clouds of the same nested training set and the
    same test set (``data_seed``); each model trains ``len(seeds)`` members
    at once, one per initialisation seed, for ``steps`` full-batch Adam
    steps (learning rate ``lr``, cosine decay) on the targets divided by
    their training standard deviation. ``test_error`` is the test MSE over
    the variance of the test targets (1 = predicting the mean). ``network``
    overrides the equivariant network's options (default: 2 layers,
    multiplicity 8, l_max 2, radius 3.5: every pair of points in a ball of
    radius 1.5).
    """
    from symscape.equivariant.network import EquivariantEnsemble
    from symscape.measure.equivariance import equivariance_errors

    models = [models] if isinstance(models, str) else list(models)
    for name in models:
        if name not in MODELS:
            raise UnknownNameError(f"unknown model {name!r}", fix=f"use {', '.join(MODELS)}")
    sizes = sorted({_count(P, "P", 1) for P in sizes})
    seeds = [_count(s, "seed", 0) for s in seeds]
    if not sizes or not seeds:
        raise InvalidOptionError(
            f"sizes={sizes} and seeds={seeds} need at least one value each",
            fix="pass e.g. sizes=(16, 64, 256), seeds=(0, 1)",
        )
    steps = _count(steps, "steps", 1)
    data = point_cloud_task(task, max(sizes), n_test, n_points=n_points, seed=data_seed)
    options = dict(layers=2, multiplicity=8, l_max=2, radius=3.5, num_neighbors=n_points - 1)
    options.update(network or {})
    records = []
    for P in sizes:
        subset = dataclasses.replace(data, x_train=data.x_train[:P], y_train=data.y_train[:P])
        scale = subset.y_train.std().clamp_min(1e-12).item() if P > 1 else 1.0
        for name in models:
            if name == "equivariant":
                model = EquivariantEnsemble(seeds, irreps_out=data.irreps_out, **options)
            else:
                model = _MLPs(seeds, n_points, data.irreps_out.dim, width)
            generator = torch.Generator().manual_seed(P)
            _train(model, subset, scale, steps, lr, name == "mlp_augmented", generator)
            train = _relative_errors(model, subset.x_train, subset.y_train, scale)
            test = _relative_errors(model, data.x_test, data.y_test, scale)
            for i, seed in enumerate(seeds):
                [rotation] = equivariance_errors(
                    _member(model, i),
                    data.x_test[:32].float(),
                    data.irreps_out,
                    transformations=["rotation"],
                    dtypes=[torch.float32],
                )
                point = LearningPoint(task, name, P, seed, train[i], test[i], rotation.relative)
                records.append(point)
    return records
