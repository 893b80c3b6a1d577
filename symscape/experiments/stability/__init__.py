r"""Relative stability toward diffeomorphisms of trained classifiers, and their test error.

The experiment of Petrini, Favero, Geiger and Wyart (NeurIPS 2021), on the
zoo of :mod:`symscape.nets.zoo`: train each architecture with several seeds,
and measure, at initialisation and after training, on ``n_points`` test
images,

    D_f (sensitivity to diffeomorphisms),  G_f (to noise of the same norm),
    R_f = D_f / G_f,

at a list of typical displacements δ (or temperatures), on the output and,
at the reference δ (the one closest to 1 pixel), layer by layer. Seeds are
combined by geometric mean. Across architectures, the test error is fitted
by a power law ``ε = a R_f^b`` (:func:`fit_power_law`); the reported law,
ε ≈ 0.2 √R_f over 15 architectures on CIFAR10, is drawn beside the fit for
comparison, never used in place of a measurement.

Protocols (:func:`quick_config`, :func:`medium_config`, :func:`paper_config`),
all trained as the authors' code (diffeo-sota) trains: the CNNs with SGD
(batch 128, learning rate 0.1, momentum 0.9, weight decay 5e-4 on the weights
but not on biases and batch norm, a cosine schedule), the fully connected
nets in the authors' parametrisation (``fc-ntk``, their DenseNetL4) with Adam
at a constant learning rate 0.1 and no weight decay; deformations with the
authors' cut-off (modes √(i² + j²) < c + ½, 6 at c = 3; ``cutoff="paper"``
for the prose's √(i² + j²) ≤ c):

* ``quick``: MNIST-5k at its native 28×28 (4,000 training and 1,000 test
  digits, embedded), ``fc-ntk:0.125`` (three hidden layers of 64, the
  authors' width), ``lenet``, ``vgg:0.25`` and ``resnet18:0.125``, three seeds, 10
  epochs, random crops (padding 2), no flips (digits are not
  mirror-symmetric); δ from 0.5 to 2.5 pixels, c = 3, 500 test points,
  median estimator. A few minutes on 2 cores.
* ``medium``: the same data and training, six architectures (``fc-ntk:0.125``,
  ``fc-ntk:0.5``, ``lenet``, ``vgg:0.125``, ``vgg:0.25``, ``resnet18:0.125``),
  five seeds, 30 epochs: about 20 minutes of one core.
* ``paper``: CIFAR10 from ``$SYMSCAPE_DATA``, the settings of the paper's
  code: batch 128, 250 epochs, a cosine schedule (annealed to zero over the
  epochs here; the original anneals over 200 epochs), horizontal flips, no
  crops; δ from 0.5 to 3 pixels, c = 3, 500 test points, median estimator,
  three seeds. The reported study has 15 architectures, most of which
  (AlexNet, EfficientNet, ...) the zoo does not build: this protocol spans the
  zoo's four at several widths, 15 networks in all.

Inputs are normalised per channel with the training set's mean and standard
deviation; deformations and noise act on the normalised images (a
deformation commutes with that affine map, so only the noise's norm is
measured in normalised units). Trained models are measured in ``eval()`` mode
(batch norm with running statistics). At initialisation the running statistics
are still μ = 0, σ² = 1, which makes every batch norm the identity and the
network measured not the one that trains (ResNet-18 at width 1/8 on MNIST-5k
then has D_f ≈ 0.25, G_f ≈ 0.9–1.5, R_f ≈ 0.2–0.27). As the authors' code
does, batch norm at initialisation uses the statistics of the batch it sees,
with the clean, the deformed and the noisy test images in three separate
batches (``init_batch_norm="batch"``; ResNet-18 then has R_f ≈ 1.0–1.1, VGG
0.8–1.0). ``init_batch_norm="running"`` uses running statistics of the
training images instead, one fixed function for every input: there R_f ≈
0.5–0.6 for ResNet-18 and VGG, because the noisy batch is no longer
normalised by its own statistics, which absorb the shift of every channel's
mean and variance that the noise brings (part of G_f). Deformations, noise and bootstrap of a
network's measurement depend on its seed only, so the network at
initialisation and after training sees the same deformations.

>>> fit = fit_power_law([0.2 * r**0.5 for r in (1e-3, 1e-2, 1e-1)], [1e-3, 1e-2, 1e-1])
>>> round(fit["a"], 12), round(fit["b"], 12)
(0.2, 0.5)
"""

from __future__ import annotations

from symscape.experiments._output import save_figure
from symscape.experiments.stability.analysis import REPORTED_LAW, fit_power_law
from symscape.experiments.stability.config import (
    PROTOCOLS,
    StabilityConfig,
    medium_config,
    paper_config,
    quick_config,
)
from symscape.experiments.stability.figures import (
    error_vs_stability_figure,
    figures,
    gallery_figure,
    layers_figure,
    sensitivity_curves_figure,
)
from symscape.experiments.stability.outputs import (
    markdown_section,
    save_results,
    section,
    stability_section,
)
from symscape.experiments.stability.report import describe
from symscape.experiments.stability.run import run
from symscape.experiments.stability.zoo import (
    NETWORK_EXPERIMENT,
    NetworkConfig,
    network_configs,
    sweep_spec,
)
from symscape.train.classifier import (  # noqa: F401  (old paths)
    SCHEDULES,
    _positive,
    _random_crop,
    _random_flip,
    classification_error,
    train_classifier,
)

Config = StabilityConfig
"""The experiment's config type (the shape every experiment declares)."""

__all__ = [
    "NETWORK_EXPERIMENT",
    "PROTOCOLS",
    "REPORTED_LAW",
    "SCHEDULES",
    "Config",
    "NetworkConfig",
    "StabilityConfig",
    "classification_error",
    "describe",
    "error_vs_stability_figure",
    "figures",
    "fit_power_law",
    "gallery_figure",
    "layers_figure",
    "markdown_section",
    "medium_config",
    "network_configs",
    "paper_config",
    "quick_config",
    "run",
    "save_figure",
    "save_results",
    "section",
    "sensitivity_curves_figure",
    "stability_section",
    "sweep_spec",
    "train_classifier",
]
