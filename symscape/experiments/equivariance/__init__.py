r"""What symmetry buys: learning curves of an equivariant network and of MLP baselines.

On a synthetic point-cloud task with an exact E(3) symmetry
(:func:`symscape.data.pointclouds.point_cloud_task`: a Morse energy, ``0e``,
or a coordination dipole, ``1o``), :func:`run` trains, for each training-set
size P and each seed, the models of
:func:`symscape.train.learning_curves.learning_curves`:

* ``equivariant``: the E(3)-equivariant message-passing network;
* ``mlp``: an MLP on the flattened coordinates;
* ``mlp_augmented``: the same MLP with a random rotation of every training
  cloud at every step.

It reports, per model and P, the test error (test MSE over the variance of
the test targets; 1 = predicting the mean) over seeds (arithmetic mean,
standard deviation, geometric mean, min, max) and the relative equivariance
error under random rotations (float32), and per model the learning-curve
exponent ``β`` of ``ε ∝ P^β``: the least-squares slope of ``ln ε`` against
``ln P`` over every (P, seed) pair (:func:`fit_exponent`), with a 95 %
percentile-bootstrap interval obtained by resampling the seeds with
replacement (a seeded generator: the same record every time). With two or
three seeds the interval is crude; the ``paper`` protocol uses five.

Protocols (:data:`PROTOCOLS`, :func:`quick_config`, :func:`paper_config`, used by
:func:`equivariance_section`, i.e. ``symscape reproduce``):

* ``quick``: the energy task, clouds of 5 points, P = 16, 32, 64, 128, three seeds,
  200 full-batch Adam steps (lr 0.01, cosine), 128 test clouds; the network
  with 2 layers, multiplicity 8, l_max 2. About 30 s on 2 cores (29 s measured).
* ``medium``: the energy and the dipole tasks, P = 16, ..., 256, four seeds,
  400 steps; the quick network. Minutes on 2 cores.
* ``paper``: the energy and the dipole tasks, P = 16, 32, ..., 1024, five
  seeds, 2,000 steps, 512 test clouds; the network with 3 layers,
  multiplicity 16, l_max 2. Hours on a CPU.

>>> fit = fit_exponent([10, 100, 1000], [[2.0], [0.2], [0.02]])
>>> round(fit["slope"], 12)
-1.0

The package, one concept a module: :mod:`.config` (the config and its
protocols), :mod:`.point` (one learning-curve point as a sweep run),
:mod:`.curves` (:func:`run`), :mod:`.analysis` (the curves and their
exponents), :mod:`.figures`, :mod:`.results` (files, summary, the
``reproduce`` section) and :mod:`.report` (:func:`describe`).
"""

from __future__ import annotations

from symscape.analysis import fit_exponent
from symscape.experiments._output import save_figure
from symscape.experiments.equivariance.config import (
    PROTOCOLS,
    EquivarianceConfig,
    paper_config,
    quick_config,
)
from symscape.experiments.equivariance.curves import run
from symscape.experiments.equivariance.figures import figures, learning_curve_figure
from symscape.experiments.equivariance.point import (
    POINT_EXPERIMENT,
    LearningPointConfig,
    point_experiment,
    sweep_spec,
)
from symscape.experiments.equivariance.report import describe, markdown_section
from symscape.experiments.equivariance.results import (
    equivariance_section,
    save_results,
    section,
)

Config = EquivarianceConfig
"""The experiment's config type (the shape every experiment declares)."""

__all__ = [
    "POINT_EXPERIMENT",
    "PROTOCOLS",
    "Config",
    "EquivarianceConfig",
    "LearningPointConfig",
    "describe",
    "equivariance_section",
    "figures",
    "fit_exponent",
    "learning_curve_figure",
    "markdown_section",
    "paper_config",
    "point_experiment",
    "quick_config",
    "run",
    "save_figure",
    "save_results",
    "section",
    "sweep_spec",
]
