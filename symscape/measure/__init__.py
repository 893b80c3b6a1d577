"""Observables measured on trained (or initial) models.

:mod:`~symscape.measure.sensitivity`: D_f, G_f and R_f, the sensitivity to
diffeomorphisms, to noise, and their ratio.
"""

from symscape.measure.sensitivity import Sensitivity, geometric_mean, sensitivities

__all__ = ["Sensitivity", "geometric_mean", "sensitivities"]
