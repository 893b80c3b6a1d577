"""Power-law fits with bootstrap intervals: now in :mod:`symscape.analysis` (this name is an alias).

>>> from symscape.analysis import fit_exponent as shared
>>> fit_exponent is shared
True
"""

from __future__ import annotations

from symscape.analysis.fits import fit_exponent

__all__ = ["fit_exponent"]
