"""A small zoo of standard image classifiers, and loading a user's trained weights.

Unlike the ensemble-batched networks of :mod:`symscape.nets`, these are
ordinary ``torch.nn.Module`` s: one network, ``[B, C, H, W] → [B, k]``
logits, trained with SGD and measured with
:func:`symscape.measure.sensitivities`. Five architectures, by name:

* ``fc``: fully connected, three hidden layers of ``512·width`` ReLU units;
* ``fc-ntk``: the same in the authors' parametrisation (weights N(0, 1), scaled
  by 1/√fan_in in the forward pass; the readout by 1/fan_in);
* ``lenet``: LeNet-5 (two 5×5 convolutions with max pooling, then two
  dense layers of ``120·width`` and ``84·width`` units);
* ``vgg``: a small VGG-style net, four stages of 3×3 convolutions with batch
  norm (``64, 128, 256, 512`` channels times ``width``; one, one, two and two
  convolutions), each stage ending in 2×2 max pooling, then global average
  pooling;
* ``resnet18``: the CIFAR-style ResNet-18 (a 3×3 stem, four stages of two
  basic blocks with batch norm, ``64·width`` to ``512·width`` channels,
  global average pooling); ``width=0.25`` makes it cheap on a CPU.

Every network names the outputs of its successive stages in ``stages``
(names from ``named_modules()``, the last one being ``classifier``), so the
sensitivities can be measured layer by layer. An architecture is also
written as a spec string ``"name"`` or ``"name:width"`` (:func:`parse_classifier`).

>>> import torch
>>> from symscape.nets.zoo import build_classifier
>>> net = build_classifier("lenet", input_shape=(1, 28, 28), k=10, seed=0)
>>> net(torch.zeros(5, 1, 28, 28)).shape, net.stages
(torch.Size([5, 10]), ('block1', 'block2', 'block3', 'block4', 'classifier'))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from symscape.errors import DataFormatError, DataNotFoundError, InvalidOptionError
from symscape.validation import choose

__all__ = [
    "CLASSIFIERS",
    "Classifier",
    "build_classifier",
    "load_model",
    "n_parameters",
    "parse_classifier",
    "spelled_classifier",
]

CLASSIFIERS = ("fc", "fc-ntk", "lenet", "vgg", "resnet18")


def _channels(base: int, width: float) -> int:
    return max(1, round(base * width))


class Classifier(nn.Module):
    """Base class of the zoo: the architecture's name, width, input shape, ``k`` and stages."""

    architecture: str = ""
    min_size: int = 1
    stages: tuple[str, ...] = ()  # modules whose outputs are the successive representations

    def __init__(self, input_shape: tuple[int, int, int], k: int, width: float):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.k = k
        self.width = width

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, k={self.k}, width={self.width:g}"


class FullyConnectedClassifier(Classifier):
    """Flatten, three hidden ReLU layers of ``512·width`` units, a linear classifier."""

    architecture = "fc"
    stages = ("layer1", "layer2", "layer3", "classifier")

    linear = staticmethod(lambda fan_in, fan_out, readout=False: nn.Linear(fan_in, fan_out))

    def __init__(self, input_shape, k, width=1.0):
        super().__init__(input_shape, k, width)
        hidden = _channels(512, width)
        self.flatten = nn.Flatten()
        self.layer1 = nn.Sequential(self.linear(math.prod(input_shape), hidden), nn.ReLU())
        self.layer2 = nn.Sequential(self.linear(hidden, hidden), nn.ReLU())
        self.layer3 = nn.Sequential(self.linear(hidden, hidden), nn.ReLU())
        self.classifier = self.linear(hidden, k, readout=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.layer3(self.layer2(self.layer1(self.flatten(x)))))


class _NTKLinear(nn.Module):
    """``x W / √fan_in + b`` with ``W, b ~ N(0, 1)`` (hidden), or ``x W / fan_in`` (readout)."""

    def __init__(self, fan_in: int, fan_out: int, readout: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_in, fan_out))
        self.bias = None if readout else nn.Parameter(torch.randn(fan_out))
        self.scale = 1 / fan_in if readout else fan_in**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight * self.scale
        return out if self.bias is None else out + self.bias


class NTKFullyConnectedClassifier(FullyConnectedClassifier):
    """The authors' fully connected net (``DenseNetL4`` of diffeo-sota, models/simplenets.py):
    three hidden ReLU layers of ``512·width`` units (their 64 at width 1/8), weights and biases
    drawn from N(0, 1) and the layers scaled by 1/√fan_in in the forward pass, a readout
    scaled by 1/fan_in without bias. The same function class as ``fc``; only the
    parametrisation differs, which sets the learning rate Adam needs (theirs: 0.1)."""

    architecture = "fc-ntk"
    linear = _NTKLinear


class LeNet(Classifier):
    """LeNet-5: conv 5×5 (padding 2), pool, conv 5×5, pool, two dense layers, classifier."""

    architecture = "lenet"
    min_size = 12
    stages = ("block1", "block2", "block3", "block4", "classifier")

    def __init__(self, input_shape, k, width=1.0):
        super().__init__(input_shape, k, width)
        channels, height, width_px = input_shape
        c1, c2 = _channels(6, width), _channels(16, width)
        h1, h2 = _channels(120, width), _channels(84, width)
        self.block1 = nn.Sequential(
            nn.Conv2d(channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.block2 = nn.Sequential(nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2))
        side_h, side_w = (height // 2 - 4) // 2, (width_px // 2 - 4) // 2
        self.block3 = nn.Sequential(nn.Flatten(), nn.Linear(c2 * side_h * side_w, h1), nn.ReLU())
        self.block4 = nn.Sequential(nn.Linear(h1, h2), nn.ReLU())
        self.classifier = nn.Linear(h2, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.block4(self.block3(self.block2(self.block1(x)))))


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class VGG(Classifier):
    """Four stages of 3×3 conv + batch norm + ReLU, each ending in max pooling; average pool."""

    architecture = "vgg"
    min_size = 16
    stages = ("stage1", "stage2", "stage3", "stage4", "pool", "classifier")
    plan = ((64, 1), (128, 1), (256, 2), (512, 2))  # (channels, convolutions) per stage

    def __init__(self, input_shape, k, width=1.0):
        super().__init__(input_shape, k, width)
        c_in = input_shape[0]
        for index, (base, convolutions) in enumerate(self.plan, start=1):
            c_out = _channels(base, width)
            layers = []
            for _ in range(convolutions):
                layers += _conv_bn_relu(c_in, c_out)
                c_in = c_out
            self.add_module(f"stage{index}", nn.Sequential(*layers, nn.MaxPool2d(2)))
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c_in, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stages[:4]:
            x = getattr(self, name)(x)
        return self.classifier(self.pool(x))


class BasicBlock(nn.Module):
    """Two 3×3 conv + batch norm, with an identity (or 1×1 conv + BN) shortcut; ReLU after."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(Classifier):
    """CIFAR-style ResNet-18: 3×3 stem, stages of two basic blocks, global average pooling."""

    architecture = "resnet18"
    min_size = 8
    stages = ("stem", "layer1", "layer2", "layer3", "layer4", "pool", "classifier")

    def __init__(self, input_shape, k, width=1.0):
        super().__init__(input_shape, k, width)
        c = _channels(64, width)
        self.stem = nn.Sequential(*_conv_bn_relu(input_shape[0], c))
        c_in = c
        for index, (base, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            c_out = _channels(base, width)
            blocks = nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1))
            self.add_module(f"layer{index}", blocks)
            c_in = c_out
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c_in, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.classifier(self.pool(x))


_CLASSES: dict[str, type[Classifier]] = {
    cls.architecture: cls
    for cls in (FullyConnectedClassifier, NTKFullyConnectedClassifier, LeNet, VGG, ResNet18)
}


# --------------------------------------------------------------------------- building


def _check_name(name) -> str:
    """The classifier ``name`` as the zoo writes it (``ResNet18`` is ``resnet18``)."""
    return choose(name, CLASSIFIERS, "classifier")


def _check_width(width) -> float:
    if (
        not isinstance(width, numbers.Real)
        or isinstance(width, bool)
        or not math.isfinite(width)
        or width <= 0
    ):
        raise InvalidOptionError(
            f"width={width!r} is not a positive width multiplier", fix="use e.g. width=1 or 0.25"
        )
    return float(width)


def parse_classifier(spec: str) -> tuple[str, float]:
    """``"vgg"`` → ``("vgg", 1.0)``; ``"resnet18:0.25"`` → ``("resnet18", 0.25)``."""
    if not isinstance(spec, str):
        raise InvalidOptionError(
            f"architecture {spec!r} is not a string", fix="write e.g. 'lenet' or 'resnet18:0.25'"
        )
    name, sep, width = spec.strip().partition(":")
    name = _check_name(name)
    if not sep:
        return name, 1.0
    try:
        value = float(width)
    except ValueError:
        raise InvalidOptionError(
            f"architecture {spec!r}: width {width!r} is not a number",
            fix="write name:width, e.g. resnet18:0.25",
        ) from None
    return name, _check_width(value)


def spelled_classifier(spec: str) -> str:
    """``spec`` checked, its name as the zoo writes it and the rest as typed (the spec is part
    of a run's key): ``"ResNet18:0.25"`` → ``"resnet18:0.25"``, ``"vgg:0.5"`` unchanged."""
    parse_classifier(spec)
    name, sep, width = spec.strip().partition(":")
    canonical = _check_name(name)
    return spec if canonical == name else canonical + sep + width


def _check_shape(input_shape, minimum: int, name: str) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else None
    if (
        shape is None
        or len(shape) != 3
        or any(not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1 for s in shape)
    ):
        raise InvalidOptionError(
            f"input_shape={input_shape!r} is not an image shape [C, H, W]",
            fix="give three positive integers, e.g. (1, 28, 28)",
        )
    if min(shape[1:]) < minimum:
        raise InvalidOptionError(
            f"{name} needs images of at least {minimum}×{minimum} pixels, got "
            f"{shape[1]}×{shape[2]}",
            fix="resample the images (data option image_size=28) or use fc",
        )
    return tuple(int(s) for s in shape)


def build_classifier(
    name: str,
    input_shape: tuple[int, int, int],
    k: int = 10,
    *,
    width: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Classifier:
    """The classifier ``name`` for images ``input_shape = (C, H, W)`` and ``k`` classes.

    ``width`` multiplies every layer's number of units or channels. The
    initial weights depend only on ``seed`` (PyTorch's default initialisation,
    drawn from a private generator: torch's global generator is untouched).
    """
    name = _check_name(name)
    cls = _CLASSES[name]
    shape = _check_shape(input_shape, cls.min_size, name)
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise InvalidOptionError(f"k={k!r} is not a number of classes", fix="use k >= 1")
    width = _check_width(width)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise InvalidOptionError(f"seed={seed!r} must be an integer >= 0", fix="use e.g. seed=0")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = cls(shape, int(k), width)
    return model.to(dtype=dtype, device=device)


def n_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- loading


def _shown(keys: list[str], limit: int = 5) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _state_dict_of(loaded, path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``loaded``: itself, or under ``state_dict``/``model_state_dict``."""
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if (
        not isinstance(loaded, Mapping)
        or not loaded
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items())
    ):
        what = "an empty mapping" if isinstance(loaded, Mapping) and not loaded else None
        if what is None and isinstance(loaded, Mapping):
            what = "a mapping whose values are not all tensors"
        raise DataFormatError(
            f"{path} holds {what or 'a ' + type(loaded).__name__}, not a state dict",
            fix="save the weights with torch.save(model.state_dict(), path)",
        )
    state = dict(loaded)
    if all(key.startswith("module.") for key in state):  # saved from DataParallel
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def _check_keys(state: dict, model: Classifier, path: Path) -> None:
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [
        f"{key} {tuple(state[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_shown(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_shown(unexpected)}")
    if wrong:
        problems.append(f"shapes that differ (file vs model) {_shown(wrong)}")
    if problems:
        raise DataFormatError(
            f"{path} does not fit {model.architecture} (width {model.width:g}, input "
            f"{model.input_shape}, k={model.k}): {'; '.join(problems)}",
            fix="build the architecture the file was saved from: same name, width, "
            "input shape and number of classes",
        )


def load_model(
    path: str | Path,
    name: str,
    input_shape: tuple[int, int, int],
    k: int = 10,
    *,
    width: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Classifier:
    """The classifier ``name`` with the weights of a state-dict file, in ``eval()`` mode.

    The file is read with ``torch.load(path, weights_only=True)`` only: it
    must hold a state dict (``torch.save(model.state_dict(), path)``; one
    nested under ``state_dict`` or ``model_state_dict``, or with the
    ``module.`` prefix of ``DataParallel``, is accepted too). A missing file,
    a file that is not a state dict, and keys or shapes that do not match the
    architecture each raise an error naming the problem.
    """
    path = Path(path)
    model = build_classifier(name, input_shape, k, width=width, dtype=dtype, device=device)
    if not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise DataNotFoundError(
            f"model file {path} {where}",
            fix="give the path of a file written by torch.save(model.state_dict(), path)",
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler fails in many ways on foreign bytes
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataFormatError(
            f"{path} cannot be read as a state dict with torch.load(weights_only=True): "
            f"{reason[:200]}",
            fix="save only the weights, torch.save(model.state_dict(), path); whole pickled "
            "models are refused because loading them can run arbitrary code",
        ) from None
    state = _state_dict_of(loaded, path)
    _check_keys(state, model, path)
    model.load_state_dict(state)
    return model.eval()
