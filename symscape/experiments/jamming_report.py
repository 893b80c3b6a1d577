"""The old import path of the jamming section's report (now
:mod:`symscape.experiments.jamming.report`), kept for one release."""

from symscape.experiments.jamming.report import describe, markdown_section

__all__ = ["describe", "markdown_section"]
