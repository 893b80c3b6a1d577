"""The jamming transition: N*(P) by bisection, the (P, N) phase diagram, and the minimum at N*.

SCIENCE.md §1. At fixed P, networks of width h are trained to their end
point with the jamming minimiser (``dynamics="lbfgs"``), E seeds as one
ensemble; a seed has *fitted* when N_Δ = 0. A bisection in log h locates
the width where half of the seeds fit; N* is the geometric mean of the
final bracket's N. Every ensemble goes through the sweep store (the
``runner`` of :func:`run`), so an interrupted search resumes without
retraining. At the transition, one jammed seed is loaded back from the store
and its gaps and Hessian measured.

The package, one concept per module:

* :mod:`~symscape.experiments.jamming.config`: :class:`JammingConfig` and ``PROTOCOLS``;
* :mod:`~symscape.experiments.jamming.search`: the bisection at one P (:func:`find_transition`);
* :mod:`~symscape.experiments.jamming.minimum`: the jammed minimum (:func:`at_transition`);
* :mod:`~symscape.experiments.jamming.analysis`: the line N*(P) and the gap exponents;
* :mod:`~symscape.experiments.jamming.figures`: :func:`figures` (pure);
* :mod:`~symscape.experiments.jamming.results`: the record's files and summary;
* :mod:`~symscape.experiments.jamming.experiment`: :func:`run` and the section;
* :mod:`~symscape.experiments.jamming.report`: :func:`describe` and its Markdown.

>>> config = JammingConfig(P_values=(16,), seeds=(0, 1), width_max=8.0, bisections=2)
>>> config.train_config(16, 4.0).dynamics
'lbfgs'
"""

from __future__ import annotations

from symscape.experiments.jamming.analysis import (
    GAP_FRACTIONS,
    REPORTED_GAPS,
    fit_line,
    gap_exponents,
)
from symscape.experiments.jamming.config import (
    PROTOCOLS,
    JammingConfig,
    paper_configs,
    quick_configs,
)
from symscape.experiments.jamming.experiment import jamming_section, run
from symscape.experiments.jamming.figures import figures
from symscape.experiments.jamming.minimum import at_transition
from symscape.experiments.jamming.report import describe, markdown_section
from symscape.experiments.jamming.results import save_results
from symscape.experiments.jamming.search import find_transition
from symscape.measure.hessian import hessian_at_minimum, hessian_extremes

Config = JammingConfig
"""The experiment's config type (the shape every experiment declares)."""

__all__ = [
    "GAP_FRACTIONS",
    "PROTOCOLS",
    "REPORTED_GAPS",
    "Config",
    "JammingConfig",
    "at_transition",
    "describe",
    "figures",
    "find_transition",
    "fit_line",
    "gap_exponents",
    "hessian_at_minimum",
    "hessian_extremes",
    "jamming_section",
    "markdown_section",
    "paper_configs",
    "quick_configs",
    "run",
    "save_results",
    "section",
]

section = jamming_section  # the registry's hook (symscape.experiments.registry)
