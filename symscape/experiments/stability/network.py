"""One network of the stability zoo: its data, its scales, and its training and measurement.

The unit of work of :mod:`symscape.experiments.stability`, one sweep run each
(the ``stability-network`` experiment of
:mod:`~symscape.experiments.stability.zoo`): :func:`_one_network` builds an
architecture of the zoo with a seed, measures it at initialisation, trains it
(or loads a checkpoint) and measures it again. ``config`` is a
:class:`~symscape.experiments.stability.config.StabilityConfig` (read by
attribute: this module does not import it).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import torch

from symscape.data import load
from symscape.data.options import parse_dtype
from symscape.diffeo import temperature_from_displacement, temperature_range, typical_displacement
from symscape.errors import InvalidOptionError
from symscape.experiments.stability.analysis import FAMILIES
from symscape.measure.sensitivity import sensitivities
from symscape.nets.batchnorm import batch_norm_layers, batch_statistics, estimate_running_statistics
from symscape.nets.zoo import build_classifier, load_model, n_parameters, parse_classifier
from symscape.train.classifier import classification_error, train_classifier


@dataclasses.dataclass(frozen=True)
class _Data:
    """Normalised train/test tensors, the raw first test image, and the statistics used."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_image: torch.Tensor
    num_classes: int
    mean: list[float]
    std: list[float]
    options: dict[str, Any]


def _load_data(config) -> _Data:
    ds = load(
        config.dataset,
        **config.data,
        labels="multiclass",
        dtype=config.dtype,
        device=config.device,
    )
    if ds.n_test < config.n_points:
        raise InvalidOptionError(
            f"n_points={config.n_points} is more than the {ds.n_test} test points of "
            f"{config.dataset}",
            fix=f"use n_points <= {ds.n_test} or a larger n_test",
        )
    if ds.P < 2:
        raise InvalidOptionError(f"P={ds.P} training points", fix="use P >= 2")
    mean = ds.x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = ds.x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return _Data(
        x_train=(ds.x_train - mean) / std,
        y_train=ds.y_train,
        x_test=(ds.x_test - mean) / std,
        y_test=ds.y_test,
        raw_image=ds.x_test[0].cpu(),
        num_classes=ds.num_classes,
        mean=mean.flatten().tolist(),
        std=std.flatten().tolist(),
        options=dict(ds.options),
    )


def _scales(config, size: tuple[int, int]) -> tuple[list[float], list[float]]:
    """The temperatures and typical displacements δ (papers' convention) of the config."""
    temperature_range(size, config.c)  # validates c against the image size
    if config.deltas is not None:
        temps = [temperature_from_displacement(d, config.c, size) for d in config.deltas]
    else:
        temps = list(config.temperatures)
    return temps, [typical_displacement(T, config.c, size) for T in temps]


def _reference(deltas: Sequence[float]) -> int:
    """Index of the displacement closest to 1 pixel (the papers' evaluation point)."""
    return min(range(len(deltas)), key=lambda i: (abs(math.log(deltas[i])), i))


def _measure(model, x, config, temps, reference: int, seed: int, batch_size: int = 256) -> dict:
    """Output sensitivities at every T (with bootstrap); stages' at the reference T (without).

    The model is measured in ``eval()`` mode, ``x`` in batches of ``batch_size``: the clean,
    the deformed and the noisy images never share a batch."""
    model.eval()
    common = dict(
        c=config.c,
        cutoff=config.cutoff,
        estimator=config.estimator,
        seed=seed,
        batch_size=batch_size,
    )
    output = sensitivities(model, x, temperatures=temps, n_bootstrap=config.n_bootstrap, **common)
    stages = sensitivities(
        model,
        x,
        temperatures=[temps[reference]],
        layers=list(model.stages),
        n_bootstrap=0,
        **common,
    )
    return {
        "output": [s.as_dict() for s in output],
        "layers": [s.as_dict() for s in stages],
    }


def _measure_at_init(model, x, x_train, config, temps, reference: int, seed: int) -> dict:
    """:func:`_measure` of a freshly initialised ``model``, whose batch-norm running statistics
    are still μ = 0, σ² = 1 (every batch norm the identity: not the network that trains).

    ``init_batch_norm="batch"`` (the authors' code): each batch norm uses the statistics of
    the batch it sees, all ``x`` in one batch, so that clean, deformed and noisy images are
    normalised each among their own kind. ``"running"``: a copy of the model with running
    statistics estimated on the training images ``x_train``, one fixed function."""
    if not batch_norm_layers(model):
        return _measure(model, x, config, temps, reference, seed)
    if config.init_batch_norm == "running":
        calibrated = estimate_running_statistics(copy.deepcopy(model), x_train)
        return _measure(calibrated, x, config, temps, reference, seed)
    with batch_statistics(model.eval()):
        return _measure(model, x, config, temps, reference, seed, batch_size=len(x))


def _optimizer(name: str, config) -> dict[str, Any]:
    """The authors' training of architecture ``name``: the fully connected nets with
    ``fc_optimizer`` (Adam, no weight decay, a constant learning rate), the CNNs with
    ``optimizer`` (SGD, a cosine schedule)."""
    if name in FAMILIES["fully connected"]:
        return dict(
            optimizer=config.fc_optimizer,
            lr=config.fc_lr,
            weight_decay=config.fc_weight_decay,
            schedule=config.fc_schedule,
        )
    return dict(
        optimizer=config.optimizer,
        lr=config.lr,
        weight_decay=config.weight_decay,
        schedule=config.schedule,
    )


def _one_network(spec: str, seed: int, data: _Data, config, temps, reference):
    name, width = parse_classifier(spec)
    shape, k = tuple(data.x_train.shape[1:]), data.num_classes
    dtype = parse_dtype(config.dtype)
    x_eval = data.x_test[: config.n_points]
    started = time.perf_counter()
    model = build_classifier(
        name, shape, k, width=width, seed=seed, dtype=dtype, device=config.device
    )
    init = {"test_error": classification_error(model, data.x_test, data.y_test)}
    init.update(_measure_at_init(model, x_eval, data.x_train, config, temps, reference, seed))
    if spec in config.checkpoints:
        path = config.checkpoints[spec]
        model = load_model(path, name, shape, k, width=width, dtype=dtype, device=config.device)
        trained = {"source": str(path), "status": "loaded"}
        trained["test_error"] = classification_error(model, data.x_test, data.y_test)
    else:
        trained = {"source": "trained"}
        trained.update(
            train_classifier(
                model,
                data.x_train,
                data.y_train,
                data.x_test,
                data.y_test,
                epochs=config.epochs,
                batch_size=config.batch_size,
                momentum=config.momentum,
                crop_padding=config.crop_padding if config.crop else 0,
                flip=config.flip,
                diffeo_delta=config.diffeo_delta if config.diffeo_augment else None,
                c=config.c,
                cutoff=config.cutoff,
                seed=seed,
                **_optimizer(name, config),
            )
        )
    trained.update(_measure(model, x_eval, config, temps, reference, seed))
    entry = {
        "architecture": spec,
        "name": name,
        "width": width,
        "seed": seed,
        "n_parameters": n_parameters(model),
        "stages": list(model.stages),
        "init": init,
        "trained": trained,
    }
    return entry, time.perf_counter() - started
