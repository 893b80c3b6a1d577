"""Fractional widths: let the number of weights N vary almost continuously.

A network of ``L`` hidden layers and real width ``h`` gives layer ``i``
(0-based) the integer width ``int(h + 1 − (i + 1)/L)`` (SCIENCE.md §1): for
an integer ``h`` every layer has ``h`` units; as ``h`` grows by 1/L one
more layer gains a unit.

>>> from symscape.nets.widths import layer_widths
>>> layer_widths(10, 3), layer_widths(10.5, 2), layer_widths(10.34, 3)
([10, 10, 10], [11, 10], [11, 10, 10])
"""

from __future__ import annotations

import math

__all__ = ["layer_widths"]


def layer_widths(h: float, depth: int) -> list[int]:
    """Integer widths of the ``depth`` hidden layers of a network of real width ``h``."""
    return [math.floor(h + 1 - (i + 1) / depth + 1e-9) for i in range(depth)]
