r"""The outcome of each (h, α) cell of the grid, and the jamming line the grid itself draws.

A seed is *fitted* when its flow stopped with every margin met (N_Δ = 0).
One that reached its budget (steps, time, wall clock, a plateau) with
N_Δ > 0 is *undecided*: it is counted as **not** fitted, as the authors count
it (SCIENCE.md §0), and the undecided fraction is reported beside the fitted
one. A diverged seed is not fitted either.

A cell is *fitted* when every one of its seeds fitted: α*(h) and the
output-variance slope use fitted cells only (near jamming, or where the
budget was too short, the observables are those of a network still
training). A cell is *jammed* when every seed ended with N_Δ > 0: the
jamming line at each α lies between the widest jammed cell and the next
width of the grid (the Perspective paper's phase diagram, located with the
same flow at every α).

>>> fractions(["fitted", "max_steps", "fitted", "diverged"])
{'fitted': 0.5, 'undecided': 0.25, 'diverged': 0.25}
>>> line = jamming_line([2.0, 4.0, 8.0], [1.0], np.array([[0.0], [0.5], [1.0]]))
>>> line[0]["h_jammed"], line[0]["h_above"], round(line[0]["h_star"], 3)
(2.0, 4.0, 2.828)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["UNDECIDED", "fractions", "jamming_line"]

UNDECIDED = ("max_steps", "max_time", "wall_time", "plateau")
"""The statuses of a seed that reached a budget with N_Δ > 0 (neither fitted nor diverged)."""


def fractions(outcomes: Sequence[str]) -> dict[str, float]:
    """The fitted, undecided and diverged fractions of one cell's seed outcomes."""
    n = len(outcomes)
    return {
        "fitted": sum(o == "fitted" for o in outcomes) / n,
        "undecided": sum(o in UNDECIDED for o in outcomes) / n,
        "diverged": sum(o == "diverged" for o in outcomes) / n,
    }


def jamming_line(
    widths: Sequence[float], alphas: Sequence[float], fitted: np.ndarray
) -> list[dict[str, Any]]:
    """At each α, the widest width where no seed fitted (``h_jammed``, ``None`` when every
    width has a fitted seed), the next width of the grid (``h_above``, ``None`` when the
    widest is jammed) and their geometric mean ``h_star`` (the line drawn).

    ``fitted[i, j]`` is the fitted fraction of width ``widths[i]`` at ``alphas[j]``.
    """
    fitted = np.asarray(fitted, float)
    line = []
    for j, alpha in enumerate(alphas):
        jammed = [i for i in range(len(widths)) if fitted[i, j] == 0]
        low = widths[max(jammed)] if jammed else None
        high = widths[max(jammed) + 1] if jammed and max(jammed) + 1 < len(widths) else None
        line.append(
            {
                "alpha": float(alpha),
                "h_jammed": low,
                "h_above": high,
                "h_star": math.sqrt(low * high) if low and high else None,
            }
        )
    return line
