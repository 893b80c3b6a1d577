"""The registry of ``symscape reproduce``'s sections: one ordered list, read by everyone.

Each :class:`Section` names the module that computes it (an experiment or an
appendix of the main job), the heading and the question the report and
``summary.md`` show, and whether it is an appendix (the report puts those
last). ``symscape reproduce`` runs :data:`REGISTRY` in order, the report
renders it, the command line offers its names to ``--only``: none of them
knows a section by name.

Every section module exposes the same hooks, which the framework calls:

* ``section(scale, figures, out, *, root, store, executor, device) -> summary``:
  run protocol ``scale``, write its records and figures, return its summary
  (JSON values);
* ``markdown_section(summary) -> str``: kept for one release, the Markdown of
  ``describe`` (``summary.md`` is written from ``describe`` directly);
* ``figures(record) -> {stem: Figure}`` (the experiments): pure, object-oriented
  matplotlib; the section writes them once (``_output.save_figures``);
* ``describe(summary, read) -> Part``: the comparisons, tables, figures and
  configs that the report, ``summary.md`` and the terminal render
  (:mod:`symscape.comparisons`).

The registry itself imports no experiment: :meth:`Section.load` does, when
the section runs.

>>> names()[:5]
('data', 'engine', 'jamming', 'landscape', 'double_descent')
>>> get("double_descent").module
'symscape.experiments.double_descent'
>>> report_order()[-3:]
('data', 'engine', 'landscape')
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

from symscape.errors import InvalidOptionError

__all__ = ["REGISTRY", "SCALES", "Section", "get", "names", "report_order"]

SCALES = ("quick", "medium", "paper")
"""The scales of ``symscape reproduce``, in order of size: the protocols every section has
(``quick``: the README's main job, ≤ 15 min on 2 cores; ``medium``: every law that needs no
GPU, ≤ 2 h on 2 cores; ``paper``: the papers' protocols, for a GPU or a cluster)."""


@dataclasses.dataclass(frozen=True)
class Section:
    """One section of the main job: its name, its module and what the report shows of it.

    ``report`` is the module that holds its ``describe`` (default:
    ``module``; an experiment package keeps it in its ``report`` submodule,
    double descent in the sibling ``double_descent_report``).
    """

    name: str
    module: str
    title: str
    question: str
    appendix: bool = False
    report: str = ""

    @property
    def heading(self) -> tuple[str, str]:
        """``(title, question)`` as the report shows them."""
        return self.title, self.question

    def load(self) -> ModuleType:
        """The section's module (imported on first use)."""
        return importlib.import_module(self.module)

    def datasets(self, protocol: str) -> tuple[str, ...]:
        """The data sets that protocol ``protocol`` of this section trains on (sorted):
        the ``dataset`` of each case of the module's ``PROTOCOLS[protocol]``; none for a
        section without protocols (the data-set summary reads whatever is there)."""
        cases = getattr(self.load(), "PROTOCOLS", {}).get(protocol, {})
        return tuple(sorted({c.dataset for c in cases.values() if hasattr(c, "dataset")}))

    def describer(self):
        """The section's ``describe(summary, read) -> Part``."""
        return importlib.import_module(self.report or self.module).describe


REGISTRY: tuple[Section, ...] = (
    Section(
        "data",
        "symscape.experiments.datasets",
        "Appendix A. Data sets",
        "What does each data set symscape can load look like, and which are on this machine?",
        appendix=True,
    ),
    Section(
        "engine",
        "symscape.experiments.engine",
        "Appendix B. The training engine",
        "Does one batched computation train an ensemble of networks to zero training error?",
        appendix=True,
    ),
    Section(
        "jamming",
        "symscape.experiments.jamming",
        "1. The jamming transition",
        "Where does training stop fitting all the data as the number of parameters N "
        "shrinks? Hinge-loss training reaches N_Δ = 0 only above a critical N*(P); below, it "
        "stops in a jammed minimum with a finite fraction of unsatisfied constraints.",
        report="symscape.experiments.jamming.report",
    ),
    Section(
        "landscape",
        "symscape.experiments.jamming_landscape",
        "Appendix C. The landscape around jamming",
        "What does the loss landscape look like at the minima the jamming section found? At "
        "a jammed minimum the Hessian's Gauss–Newton part H₀ has rank N_Δ − 1; at a fitted "
        "one the Hessian vanishes; and is there a barrier on the straight line between two "
        "members of one ensemble below and above N*?",
        appendix=True,
        report="symscape.experiments.jamming_landscape_report",
    ),
    Section(
        "double_descent",
        "symscape.experiments.double_descent",
        "2. Double descent and the N^−1/2 law",
        "Why does the test error fall as N grows past N*? It peaks at the jamming transition, "
        "where the output norm diverges; beyond it, the fluctuations of the network around its "
        "ensemble average decay like N^−1/4, so the excess test error decays like N^−1/2.",
        report="symscape.experiments.double_descent_report",
    ),
    Section(
        "feature_lazy",
        "symscape.experiments.feature_lazy",
        "3. Feature and lazy training",
        "When does a network learn features, and when does it stay a kernel machine? The "
        "output scale α sets it: the neural tangent kernel moves for α below a crossover "
        "α* ~ 1/√h and stays frozen above it (the lazy regime).",
        report="symscape.experiments.feature_lazy.report",
    ),
    Section(
        "stability",
        "symscape.experiments.stability",
        "4. Relative stability toward diffeomorphisms",
        "Do networks that generalise well become stable to small smooth deformations of "
        "their input, relative to noise of the same norm? R_f = D_f/G_f is ≈ 1 at "
        "initialisation and falls with training for good architectures; the test error "
        "follows √R_f.",
        report="symscape.experiments.stability.report",
    ),
    Section(
        "equivariance",
        "symscape.experiments.equivariance",
        "5. Equivariant networks",
        "Does building the symmetry into the network (E(3)-equivariant layers, on e3nn's "
        "conventions) make it exactly equivariant and learn from fewer examples than a "
        "network that has to learn the symmetry?",
        report="symscape.experiments.equivariance.report",
    ),
)


def names() -> tuple[str, ...]:
    """The section names, in the order ``symscape reproduce`` runs them."""
    return tuple(section.name for section in REGISTRY)


def report_order() -> tuple[str, ...]:
    """The section names in the report's order: the thesis's results, then the appendices."""
    return tuple(s.name for s in REGISTRY if not s.appendix) + tuple(
        s.name for s in REGISTRY if s.appendix
    )


def get(name: str) -> Section:
    """The section called ``name`` (an unknown name is one line listing the known ones)."""
    for section in REGISTRY:
        if section.name == name:
            return section
    raise InvalidOptionError(f"unknown section {name!r}", fix=f"choose among {', '.join(names())}")
