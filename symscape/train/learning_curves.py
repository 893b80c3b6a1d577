r"""Learning curves on the point-cloud tasks: equivariant networks against plain MLPs.

:func:`learning_curves` trains, for each training-set size P, ``E`` seeds of
the equivariant network (one :class:`~symscape.equivariant.EquivariantEnsemble`),
of an MLP on the flattened coordinates, and of the same MLP with random
rotations of the training clouds at every step, on a task of
:mod:`symscape.data.pointclouds`, and reports their test errors and
equivariance errors (:mod:`symscape.measure.equivariance`).

>>> MODELS
('equivariant', 'mlp', 'mlp_augmented')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from symscape.data.pointclouds import _count, point_cloud_task
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure.equivariance import (
    equivariance_errors,
    random_rotations,
    representation_matrix,
)

__all__ = ["MODELS", "LearningPoint", "learning_curves"]

MODELS = ("equivariant", "mlp", "mlp_augmented")


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
