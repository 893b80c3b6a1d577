r"""The classifier training loop: SGD or Adam on cross-entropy with image augmentations.

:func:`train_classifier` trains one ``torch.nn.Module`` in place, as the
authors' code (diffeo-sota) trains: SGD with momentum, or Adam, with weight
decay on the weights but not on the 1-D parameters (biases, batch-norm
scales and shifts; :func:`parameter_groups`), a cosine or constant learning
rate (:func:`cosine_lr`), each batch
augmented by random crops, horizontal flips and random diffeomorphisms
(:class:`~symscape.diffeo.RandomDiffeo`); :func:`classification_error` is the
fraction of points a model misclassifies. The order of batches and every
augmentation follow from the seed: on a CPU, the same model, data and seed
give the same numbers.

>>> import torch
>>> x = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).reshape(2, 1, 3, 3)
>>> moved = _random_crop(x, 1, torch.Generator().manual_seed(0))
>>> moved.shape == x.shape
True
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(9, 2))
>>> 0 <= classification_error(model, x, torch.tensor([0, 1])) <= 1
True
>>> [g["weight_decay"] for g in parameter_groups(model, 5e-4)]  # the weight, then the bias
[0.0005, 0.0]
>>> [cosine_lr(0.1, step, 4) for step in range(5)]  # doctest: +ELLIPSIS
[0.1, 0.085..., 0.05..., 0.014..., 0.0]
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from symscape.diffeo import RandomDiffeo
from symscape.errors import InvalidOptionError
from symscape.validation import check_integer, choose

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "classification_error",
    "cosine_lr",
    "parameter_groups",
    "train_classifier",
]

SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("sgd", "adam")


def _positive(value, name: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidOptionError(
            f"{name}={value!r} must be a number {bound}", fix=f"use {name} {bound}"
        )
    return float(value)


def _random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to ``padding`` pixels, zeros (the mean) coming in."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4).permute(0, 2, 3, 1)
    dy, dx = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(x.device)
    rows = dy[:, None, None] + torch.arange(h, device=x.device)[None, :, None]
    cols = dx[:, None, None] + torch.arange(w, device=x.device)[None, None, :]
    index = torch.arange(b, device=x.device)[:, None, None]
    return padded[index, rows, cols].permute(0, 3, 1, 2).contiguous()


def _random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The optimizer's two groups: the weights (``ndim ≥ 2``) with ``weight_decay``, and the
    1-D parameters (biases, normalisation scales and shifts) without, as the authors' code.
    A group with no parameter is left out."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def cosine_lr(lr: float, step: int, total: int) -> float:
    """The cosine schedule ``lr (1 + cos(π step / total)) / 2``: ``lr`` at step 0, ``lr/2``
    halfway, 0 at ``total``."""
    return lr * 0.5 * (1 + math.cos(math.pi * step / total))


def classification_error(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size=500
) -> float:
    """Fraction of ``x`` that ``model`` (put in ``eval()`` mode) does not classify as ``y``."""
    model.eval()
    wrong = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out = model(x[start : start + batch_size])
            wrong += int((out.argmax(1) != y[start : start + batch_size]).sum())
    return wrong / max(len(x), 1)


def train_classifier(
    model: torch.nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    schedule: str = "cosine",
    optimizer: str = "sgd",
    crop_padding: int = 0,
    flip: bool = False,
    diffeo_delta: float | None = None,
    c: float = 3.0,
    cutoff: str = "authors",
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``model`` in place on cross-entropy; returns its test error and history.

    ``optimizer="sgd"`` (with ``momentum``) or ``"adam"`` (``momentum`` unused);
    ``weight_decay`` acts on the weights only, not on the 1-D parameters
    (:func:`parameter_groups`). The learning rate follows a cosine from ``lr``
    to 0 over all steps (``schedule="cosine"``, :func:`cosine_lr`) or stays
    at ``lr``. Each batch is augmented, in this order, by random crops
    (``crop_padding > 0``), horizontal flips (``flip``) and a random
    diffeomorphism of typical displacement ``diffeo_delta`` pixels
    (:class:`~symscape.diffeo.RandomDiffeo`, cut-off ``c`` and ``cutoff``). The order of the
    batches and the augmentations follow from ``seed``: the same model,
    data and seed give the same numbers on a CPU. Training stops early, with
    status ``"diverged"``, if the loss is not finite. The model is left in
    ``eval()`` mode.
    """
    epochs = check_integer(epochs, "epochs", 0)
    batch_size = check_integer(batch_size, "batch_size", 2)
    seed = check_integer(seed, "seed", 0)
    crop_padding = check_integer(crop_padding, "crop_padding", 0)
    lr = _positive(lr, "lr")
    weight_decay = _positive(weight_decay, "weight_decay", allow_zero=True)
    if not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
        raise InvalidOptionError(f"momentum={momentum!r} must be in [0, 1)", fix="use e.g. 0.9")
    if schedule not in SCHEDULES:
        raise InvalidOptionError(
            f"schedule={schedule!r} is not known", fix=f"use one of {', '.join(SCHEDULES)}"
        )
    optimizer = choose(optimizer, OPTIMIZERS, "optimizer")
    generator = torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    )
    diffeo = None
    if diffeo_delta is not None:
        diffeo = RandomDiffeo(delta=diffeo_delta, c=c, cutoff=cutoff, generator=generator)
    groups = parameter_groups(model, weight_decay)
    if optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=lr)
    else:
        optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum)
    n = len(x_train)
    steps_per_epoch = sum(1 for s in range(0, n, batch_size) if min(batch_size, n - s) >= 2)
    total = max(epochs * steps_per_epoch, 1)
    step, status = 0, "ok"
    losses, errors = [], []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator).to(x_train.device)
        loss_sum, wrong, seen = 0.0, 0, 0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            if len(index) < 2:  # batch norm needs two points
                continue
            xb, yb = x_train[index], y_train[index]
            if crop_padding > 0:
                xb = _random_crop(xb, crop_padding, generator)
            if flip:
                xb = _random_flip(xb, generator)
            if diffeo is not None:
                xb = diffeo(xb)
            if schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(lr, step, total)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if not torch.isfinite(loss):
                status = "diverged"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.detach().item() * len(index)
            wrong += int((out.argmax(1) != yb).sum())
            seen += len(index)
        if status != "ok":
            break
        losses.append(loss_sum / max(seen, 1))
        errors.append(wrong / max(seen, 1))
    return {
        "test_error": classification_error(model, x_test, y_test),
        "train_loss": losses,
        "train_error": errors,
        "steps": step,
        "status": status,
    }
