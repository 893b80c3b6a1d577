"""symscape: a laboratory for the loss landscape and the symmetries of neural networks.

The thesis "Loss landscape and symmetries in neural networks" (M. Geiger,
EPFL) as one toolkit: jamming, double descent, feature vs lazy training,
stability to diffeomorphisms and equivariant networks.
"""

from symscape._version import __version__

__all__ = ["__version__"]
