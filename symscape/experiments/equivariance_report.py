"""The old import path of the equivariance section's :func:`describe`
(:mod:`symscape.experiments.equivariance.report`), kept for one release."""

from __future__ import annotations

from symscape.experiments.equivariance.report import describe, markdown_section

__all__ = ["describe", "markdown_section"]
