"""The α-centred model of the feature-vs-lazy papers, and its two conventions.

``F(w, x) = α (f(w, x) − f(w₀, x))`` with the loss ``(1/(α² P)) Σ_μ ℓ(y_μ F(w, x_μ))``
(the article's convention, used throughout symscape). Large α: lazy regime
(F stays close to its linearisation at w₀); small α: feature regime.

Another published code puts the output scale at α/h and the loss prefactor
at 1/α with h the width; the two describe the same dynamics when
``α_code = √h · α_article`` (SCIENCE.md §3). Convert with
:func:`alpha_to_code_convention` and :func:`alpha_from_code_convention`.

>>> from symscape.nets.centered import alpha_from_code_convention, alpha_to_code_convention
>>> alpha_to_code_convention(0.5, h=100)
5.0
>>> alpha_from_code_convention(5.0, h=100)
0.5
"""

from __future__ import annotations

import math

__all__ = ["alpha_from_code_convention", "alpha_to_code_convention"]


def alpha_to_code_convention(alpha: float, h: float) -> float:
    """α of the article → α of the α/h-output code convention: ``√h · α``."""
    return math.sqrt(h) * alpha


def alpha_from_code_convention(alpha_code: float, h: float) -> float:
    """α of the α/h-output code convention → α of the article: ``α_code / √h``."""
    return alpha_code / math.sqrt(h)
