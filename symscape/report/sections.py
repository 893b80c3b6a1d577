"""What the report says about each section: its question, its comparisons, its figures.

Each section of ``symscape reproduce`` leaves a summary (the JSON its
``*_section`` function returned) and files (figures, records) in the sweep
store. :func:`describe` turns one of them into a :class:`Part` with the
section's own ``describe`` (``experiments/*_report.py``, ``experiments/datasets.py``,
``experiments/engine.py``; found through :mod:`symscape.experiments.registry`): the thesis's
question, a table of symscape's measured quantities next to the papers'
reported values (``SCIENCE.md``) with their difference or ratio, the figures
with a caption each, and the configs that produced them. Nothing is
computed again here: every number comes from the stored summary or record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    Comparison,
    Figure,
    Part,
    ReadFile,
    against,
    fitted,
    number,
    ratio,
    with_interval,
)
from symscape.experiments import registry

__all__ = ["DESCRIBERS", "HEADINGS", "Comparison", "Figure", "Part", "describe", "failed_part"]
__all__ += ["against", "fitted", "number", "ratio", "with_interval"]  # moved to comparisons

# the title and question of each section's part (also shown when the section failed)
HEADINGS: dict[str, tuple[str, str]] = {s.name: (s.title, s.question) for s in registry.REGISTRY}


class _Describers(Mapping):
    """Section name → its experiment's ``describe(summary, read)`` (imported when asked)."""

    def __getitem__(self, name: str):
        if name not in registry.names():
            raise KeyError(name)
        return registry.get(name).describer()

    def __iter__(self):
        return iter(registry.names())

    def __len__(self) -> int:
        return len(registry.REGISTRY)


DESCRIBERS: Mapping[str, Any] = _Describers()


def failed_part(name: str, reason: str, traceback: str | None = None) -> Part:
    """The report's part for a section that failed: its question, why, and where the full
    traceback is (a path relative to the results folder)."""
    return Part(name, *HEADINGS[name], failure=reason, traceback=traceback)


def describe(name: str, summary: Any, read: ReadFile) -> Part:
    """The report's part for section ``name`` from its stored ``summary``."""
    if name not in DESCRIBERS:
        raise KeyError(f"no report section for {name!r}; known: {', '.join(DESCRIBERS)}")
    return DESCRIBERS[name](summary, read)
