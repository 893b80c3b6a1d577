"""Observables measured on trained (or initial) models.

:mod:`~symscape.measure.sensitivity`: D_f, G_f and R_f, the sensitivity to
diffeomorphisms, to noise, and their ratio.
:mod:`~symscape.measure.ntk`: the neural tangent kernel of every member of an
ensemble (per-layer formula), its infinite-width limit and how far it moves.
:mod:`~symscape.measure.module_ntk`: the NTK of any ``nn.Module`` or ``f(params, x)``.
:mod:`~symscape.measure.curvature`: the Hessian of any model's loss over a data
set — products, operator, extreme eigenvalues, trace, spectral density, H₀ + H_p.
:mod:`~symscape.measure.equivariance`: how exactly a model respects a
symmetry — rotations, inversion, translations and permutations of point
clouds (e3nn irreps), rotations, flips and shifts of images.
:mod:`~symscape.measure.landscape`: the loss landscape of any model — the
straight path between two weight vectors with its barrier, 1D/2D slices along
filter-normalised random directions (figures in ``landscape_figures``).
"""

from symscape.measure.curvature import (
    dense_hessian,
    eigenvalues,
    hessian_operator,
    hinge_split,
    hvp,
    spectral_density,
    trace,
)
from symscape.measure.equivariance import EquivarianceError, equivariance_errors, invariance_errors
from symscape.measure.landscape import (
    Interpolation,
    Slice1D,
    Slice2D,
    interpolate,
    random_direction,
    slice_1d,
    slice_2d,
)
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
__all__ += [
    "Interpolation",
    "Slice1D",
    "Slice2D",
    "dense_hessian",
    "eigenvalues",
    "hessian_operator",
    "hinge_split",
    "hvp",
    "interpolate",
    "random_direction",
    "slice_1d",
    "slice_2d",
    "spectral_density",
    "trace",
]
