"""The old path of :mod:`symscape.experiments.stability.network` (one network of the zoo)."""

from symscape.experiments.stability.network import (  # noqa: F401  (private names, old path)
    _Data,
    _load_data,
    _measure,
    _one_network,
    _reference,
    _scales,
)
