"""Power-law fits with bootstrap intervals: now in :mod:`symscape.analysis` (this name is an alias).

>>> from symscape.experiments._fits import fit_exponent
>>> fit_exponent is __import__("symscape.analysis").analysis.fit_exponent
True
"""

from __future__ import annotations

from symscape.analysis.fits import fit_exponent

__all__ = ["fit_exponent"]
