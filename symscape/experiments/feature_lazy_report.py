"""The old import path of :mod:`symscape.experiments.feature_lazy.report` (issue 16)."""

from symscape.experiments.feature_lazy.report import LAZY_CAPTIONS, describe

__all__ = ["LAZY_CAPTIONS", "describe"]
