"""Observables measured on trained (or initial) models.

:mod:`~symscape.measure.sensitivity`: D_f, G_f and R_f, the sensitivity to
diffeomorphisms, to noise, and their ratio.
:mod:`~symscape.measure.ntk`: the neural tangent kernel of every member of an
ensemble (per-layer formula), its infinite-width limit and how far it moves.
:mod:`~symscape.measure.curvature`: the Hessian of any model's loss over a data
set — products, operator, extreme eigenvalues, trace, spectral density, H₀ + H_p.
:mod:`~symscape.measure.equivariance`: how exactly a model respects a
symmetry — rotations, inversion, translations and permutations of point
clouds (e3nn irreps), rotations, flips and shifts of images.
"""

from symscape.measure.equivariance import EquivarianceError, equivariance_errors, invariance_errors
from symscape.measure.ntk import kernel_change, kernel_regression, ntk, ntk_infinite
from symscape.measure.sensitivity import Sensitivity, geometric_mean, sensitivities

__all__ = [
    "EquivarianceError",
    "Sensitivity",
    "equivariance_errors",
    "geometric_mean",
    "invariance_errors",
    "kernel_change",
    "kernel_regression",
    "ntk",
    "ntk_infinite",
    "sensitivities",
]
