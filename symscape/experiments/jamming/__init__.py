"""The jamming transition: N*(P) by bisection, the (P, N) phase diagram, and the minimum at N*.

SCIENCE.md §1. Networks are trained to their end point with the jamming
minimiser (``dynamics="lbfgs"``), E seeds as one ensemble (one per data draw);
a run has *fitted* when N_Δ = 0, and an undecided run (its step budget spent)
counts as not fitted. Two searches locate the transition: at fixed P, a
bisection in log width (N*, quantised by the widths); at a fixed network, a
bisection in log P (the authors' scans: P*, no quantisation), also for the
perceptron control whose capacity is P* = 2N. Every ensemble goes through the
sweep store (the ``runner`` of :func:`run`), so an interrupted search resumes
without retraining. θ and γ come from the gaps pooled over the jammed minima
just past the transition; one jammed minimum is loaded back for its Hessian.

The package, one concept per module:

* :mod:`~symscape.experiments.jamming.config`: :class:`JammingConfig` and ``PROTOCOLS``;
* :mod:`~symscape.experiments.jamming.search`: the width bisection at one P
  (:func:`find_transition`);
* :mod:`~symscape.experiments.jamming.scan`: the P bisection at one network
  (:func:`find_capacity`; several networks in lockstep: :func:`find_capacities`, and
  those of several configs: :func:`~symscape.experiments.jamming.scan.scan_lockstep`);
* :mod:`~symscape.experiments.jamming.minimum`: the jammed minimum (:func:`at_transition`);
* :mod:`~symscape.experiments.jamming.analysis`: the lines N*(P), P*(N) and the gap exponents;
* :mod:`~symscape.experiments.jamming.figures`: :func:`figures` (pure);
* :mod:`~symscape.experiments.jamming.results`: the record's files and summary;
* :mod:`~symscape.experiments.jamming.experiment`: :func:`run`, several configs in one
  lockstep (:func:`~symscape.experiments.jamming.experiment.run_many`) and the section;
* :mod:`~symscape.experiments.jamming.report`: :func:`describe` and its Markdown.

>>> config = JammingConfig(P_values=(16,), seeds=(0, 1), width_max=8.0, bisections=2)
>>> config.train_config(16, 4.0).dynamics
'lbfgs'
"""

from __future__ import annotations

from symscape.experiments.jamming.analysis import (
    GAP_FRACTIONS,
    REPORTED_GAPS,
    capacity_line,
    crossing,
    fit_line,
    gap_exponents,
)
from symscape.experiments.jamming.config import (
    PROTOCOLS,
    JammingConfig,
    medium_configs,
    paper_configs,
    quick_configs,
)
from symscape.experiments.jamming.experiment import jamming_section, run
from symscape.experiments.jamming.figures import figures
from symscape.experiments.jamming.minimum import at_transition, pooled_gaps
from symscape.experiments.jamming.report import describe, markdown_section
from symscape.experiments.jamming.results import save_results
from symscape.experiments.jamming.scan import find_capacities, find_capacity
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
    "capacity_line",
    "crossing",
    "describe",
    "figures",
    "find_capacities",
    "find_capacity",
    "find_transition",
    "fit_line",
    "gap_exponents",
    "hessian_at_minimum",
    "hessian_extremes",
    "jamming_section",
    "markdown_section",
    "medium_configs",
    "paper_configs",
    "pooled_gaps",
    "quick_configs",
    "run",
    "save_results",
    "section",
]

section = jamming_section  # the registry's hook (symscape.experiments.registry)
