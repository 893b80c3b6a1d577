r"""Feature vs lazy training: the α sweep, the crossover α*(h) and the phase diagram.

SCIENCE.md §3. The model is ``F(w, x) = α (f(w, x) − f(w₀, x))`` with ``f``
in the NTK parametrisation, trained by gradient flow (the adaptive-step
integrator of the papers) on ``(1/(α² P)) Σ_μ ℓ(y_μ F(x_μ))`` until every
margin is met or the step budget is spent. Over a grid of α (log-spaced,
several decades) × width h × seeds (the seeds of one (h, α) packed into one
ensemble), through the sweep store:

* test error of each network and of the ensemble-averaged predictor;
* the kernel change ``‖Θ_T − Θ₀‖_F / ‖Θ₀‖_F`` of the empirical NTK on the
  first ``kernel_points`` training points (:mod:`symscape.measure.ntk`),
  and the weight change ``‖w_T − w₀‖ / ‖w₀‖``;
* the variance of the trained output over seeds (averaged over test points);
* the lazy references, per width and seed: the frozen-kernel flow
  (``dynamics="kernel_flow"``, the α → ∞ limit of the same flow) and kernel
  regression with the NTK at initialisation (no ridge).

**Fitted cells.** A seed that reached its step budget with N_Δ > 0 is
undecided and counts as not fitted; every cell reports its fitted and
undecided fractions (:mod:`~.cells`). The jamming line at each α lies above
the widest width where no seed fitted (the same flow at every α).

**Crossover.** α*(h) is where the geometric mean over seeds of the kernel
change crosses ``kernel_threshold`` (default 1: the kernel has moved by as
much as its own norm), between two cells where every seed fitted; the
exponent of α* ~ h^b, the output-variance slopes (largest α, and the
frozen-kernel flow) and their 95 % intervals are in
:mod:`~symscape.experiments.feature_lazy.analysis`.

**Convention.** symscape's α is the article's (the scale of ``F`` above,
loss prefactor 1/α²), for which α* ~ h^−1/2 is reported. Another published
code puts the output scale at α/h and the loss prefactor at 1/α, so that
``α_code = √h · α``: the summary lists α* in both, and α_code* should be
about constant in h.

The package, one concept a module: :mod:`~.config` (the config and its
protocols), :mod:`~.grid` (:func:`run`: the trainings through a runner),
:mod:`~.cells` (the outcome of each cell, the jamming line),
:mod:`~.analysis` (α*(h), its exponent, the regimes), :mod:`~.plots`
(:func:`figures`), :mod:`~.section` (the ``symscape reproduce`` section) and
:mod:`~.report` (:func:`describe`, what every rendering shows).

>>> sorted(PROTOCOLS)
['medium', 'paper', 'quick']
"""

from symscape.experiments.feature_lazy.analysis import analyse, crossing
from symscape.experiments.feature_lazy.config import (
    PROTOCOLS,
    REPORTED,
    FeatureLazyConfig,
    feature_lazy_configs,
)
from symscape.experiments.feature_lazy.grid import run
from symscape.experiments.feature_lazy.plots import figures
from symscape.experiments.feature_lazy.report import describe
from symscape.experiments.feature_lazy.section import (
    feature_lazy_section,
    markdown_section,
    save_results,
    section,
)

Config = FeatureLazyConfig
"""The experiment's config type (the shape every experiment declares)."""

__all__ = [
    "PROTOCOLS",
    "REPORTED",
    "Config",
    "FeatureLazyConfig",
    "analyse",
    "crossing",
    "describe",
    "feature_lazy_configs",
    "feature_lazy_section",
    "figures",
    "markdown_section",
    "run",
    "save_results",
    "section",
]
