"""The Hessian of any model's loss over a data set, read through exact products.

:mod:`~symscape.measure.curvature.products`: Hessian-vector products (batches
weighted by their size), the SciPy operator, the dense Hessian, per-tensor
blocks. :mod:`~symscape.measure.curvature.lanczos`: Lanczos with full
reorthogonalisation and its Gauss quadrature.
:mod:`~symscape.measure.curvature.spectrum`: extreme eigenvalues, the trace
(Hutchinson), the spectral density (stochastic Lanczos quadrature).
:mod:`~symscape.measure.curvature.hinge`: H = H₀ + H_p for the hinge losses
of the jamming papers.
"""

from symscape.measure.curvature.hinge import HingeSplit, hinge_split
from symscape.measure.curvature.products import (
    dense_hessian,
    flatten,
    hessian_operator,
    hvp,
    layer_blocks,
    unflatten,
)
from symscape.measure.curvature.spectrum import (
    SpectralDensity,
    TraceEstimate,
    eigenvalues,
    spectral_density,
    trace,
)

__all__ = [
    "HingeSplit",
    "SpectralDensity",
    "TraceEstimate",
    "dense_hessian",
    "eigenvalues",
    "flatten",
    "hessian_operator",
    "hinge_split",
    "hvp",
    "layer_blocks",
    "spectral_density",
    "trace",
    "unflatten",
]
