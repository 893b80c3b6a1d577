"""The model, data and loss of the measuring commands (``symscape hessian``, ``landscape``).

A zoo classifier (``--arch NAME[:WIDTH]``, :mod:`symscape.nets.zoo`) at its
initialisation (``--seed``) or with the weights of state-dict files
(``--load PATH``, read by :func:`symscape.nets.zoo.load_model`, i.e.
``torch.load(..., weights_only=True)`` only), on the training set of a data
set chosen with the data-set flags every command shares. Labels decide the
output layer and the default loss:

* ``multiclass`` labels: ``k`` = the number of classes, cross-entropy;
* ``±1`` labels (``binary``, ``parity``, ``halves``): one output, the quadratic
  hinge ``½ max(0, 1 − y f)²`` of the jamming papers.

``--loss`` picks any loss of :mod:`symscape.train.losses` instead, with the
margin ``κ = 1`` (``κ = 0`` for ``cross_entropy``: the ordinary cross-entropy,
``log(1 + e^{−y f})`` for one output). The loss is the mean over the points.
Fully connected nets also take vector inputs (``--pca``, ``random``, ...):
they flatten their input anyway. Weights and data are float64 unless
``--dtype float32``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import torch

from symscape.cli._options import dataset_flags, dataset_options
from symscape.errors import DataFormatError, InvalidOptionError

__all__ = ["Problem", "count", "finite_or_none", "loss_function", "model_flags", "problem"]

_FLATTENING = ("fc", "fc-ntk")


def count(flag: str, minimum: int, default: int, help_text: str) -> Callable:
    """An integer flag ``>= minimum`` with its default shown."""
    kind = click.IntRange(min=minimum)
    return click.option(flag, type=kind, default=default, show_default=True, help=help_text)


def model_flags(load_help: str, multiple: bool, out: str) -> Callable[[Callable], Callable]:
    """``--arch``, ``--load``, ``--loss``, ``--dataset``, ``--device``, the data-set flags,
    ``--out`` (default ``out``) and ``--json``."""

    def decorate(command: Callable) -> Callable:
        command = dataset_flags(command)
        flags = [
            click.option(
                "--arch",
                default="fc",
                show_default=True,
                help="zoo architecture fc, fc-ntk, lenet, vgg or resnet18, optionally :WIDTH "
                "(fc:0.125)",
            ),
            click.option(
                "--load",
                "loads",
                multiple=multiple,
                default=() if multiple else None,
                type=click.Path(path_type=Path),
                metavar="PATH",
                help=load_help,
            ),
            click.option(
                "--loss",
                default=None,
                help="loss: cross_entropy, quadratic_hinge, hinge, soft_hinge or mse "
                "[default: cross_entropy for multiclass labels, quadratic_hinge for ±1 labels]",
            ),
            click.option(
                "--dataset",
                default="digits",
                show_default=True,
                help="data set (see 'symscape data list'); the training set is used",
            ),
            click.option("--device", default="cpu", show_default=True, help="cpu or cuda"),
            click.option(
                "--out",
                type=click.Path(file_okay=False, path_type=Path),
                default=Path(out),
                show_default=True,
                help="results folder",
            ),
            click.option("--json", "as_json", is_flag=True, help="print the record as JSON"),
        ]
        for flag in reversed(flags):
            command = flag(command)
        return command

    return decorate


@dataclasses.dataclass
class Problem:
    """What a measuring command measures: the models (one per weight file, or the
    initialisation), the loss ``loss_fn(outputs, y)`` and the training data ``(x, y)``."""

    models: list[torch.nn.Module]
    sources: list[str]
    loss_name: str
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    data: tuple[torch.Tensor, torch.Tensor]
    arch: str
    dataset: dict[str, Any]


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss_fn(outputs [P, k], y [P]) -> scalar``: the mean of
    :func:`symscape.train.losses.loss_per_point` (``κ = 0`` for cross-entropy, else 1).

    >>> import torch
    >>> out, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
    >>> value = loss_function("cross_entropy")(out, y)
    >>> bool(torch.isclose(value, torch.nn.functional.cross_entropy(out, y)))
    True
    >>> float(loss_function("quadratic_hinge")(torch.tensor([[0.5], [2.0]]), torch.ones(2)))
    0.0625
    """
    from symscape.train.losses import loss_per_point

    kappa = 0.0 if name == "cross_entropy" else 1.0

    def loss_fn(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_per_point(name, outputs.unsqueeze(0), y, kappa=kappa).mean()

    return loss_fn


def _loss_name(given: str | None, binary: bool) -> str:
    from symscape.train.losses import LOSSES
    from symscape.validation import choose

    if given is None:
        return "quadratic_hinge" if binary else "cross_entropy"
    return choose(given, LOSSES, "loss")


def _input_shape(name: str, shape: tuple[int, ...], dataset: str) -> tuple[int, int, int]:
    if len(shape) == 3:
        return shape
    if name in _FLATTENING:  # a vector [d]: the net flattens [B, d] to [B, d] all the same
        return (1, 1, math.prod(shape))
    raise InvalidOptionError(
        f"{name} needs images [C, H, W], and {dataset} gives inputs of shape {shape}",
        fix="use --arch fc, or image data without --pca/--flatten",
    )


def _check_finite(model: torch.nn.Module, source: str) -> None:
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise DataFormatError(
                f"{source} holds non-finite values (nan or inf) in {name!r}",
                fix="measure weights that are finite everywhere",
            )


def problem(
    arch: str,
    loads: list[Path],
    loss: str | None,
    dataset: str,
    device: str,
    kwargs: dict[str, Any],
) -> Problem:
    """The models, loss and data that the flags describe (pops the data-set flags)."""
    from symscape.data import load
    from symscape.data.options import parse_dtype
    from symscape.nets.zoo import build_classifier, load_model, parse_classifier

    options = dataset_options(kwargs)
    options.setdefault("dtype", "float64")
    seed = int(options.get("seed", 0))
    name, width = parse_classifier(arch)
    ds = load(dataset, device=device, **options)
    dtype = parse_dtype(options["dtype"])
    shape = _input_shape(name, ds.input_shape, dataset)
    k = 1 if ds.binary else ds.num_classes
    where = dict(width=width, dtype=dtype, device=device)
    if loads:
        models = [load_model(path, name, shape, k, **where) for path in loads]
        sources = [str(path) for path in loads]
    else:
        models = [build_classifier(name, shape, k, seed=seed, **where).eval()]
        sources = [f"initialisation (seed {seed})"]
    for model, source in zip(models, sources, strict=True):
        _check_finite(model, source)
    loss_name = _loss_name(loss, ds.binary)
    described = dict(name=dataset, P=ds.P, labels=ds.labels, input_shape=list(ds.input_shape))
    return Problem(
        models=models,
        sources=sources,
        loss_name=loss_name,
        loss_fn=loss_function(loss_name),
        data=(ds.x_train, ds.y_train),
        arch=arch,
        dataset={**described, "options": dict(ds.options)},
    )


def finite_or_none(values) -> Any:
    """Floats (nested lists) with every non-finite value as ``None`` (JSON's null)."""
    if isinstance(values, list | tuple):
        return [finite_or_none(v) for v in values]
    value = float(values)
    return value if math.isfinite(value) else None
