"""The old path of :mod:`symscape.experiments.stability.report` (the section's ``describe``)."""

from symscape.experiments.stability.report import STABILITY_CAPTIONS, describe

__all__ = ["STABILITY_CAPTIONS", "describe"]
