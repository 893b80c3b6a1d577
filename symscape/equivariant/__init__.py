"""E(3)-equivariant point-cloud networks on e3nn, and fast paths for their tensor products.

:mod:`~symscape.equivariant.network`: :class:`EquivariantNetwork`, message
passing on a radius graph with tensor-product convolutions and gated
non-linearities, and :class:`EquivariantEnsemble`, E of them built from seeds.
:mod:`~symscape.equivariant.fast`: the same tensor products through
``torch.compile`` or NVIDIA cuEquivariance, checked against eager e3nn.
:mod:`~symscape.equivariant.tasks`: an alias of :mod:`symscape.data.pointclouds`
(point-cloud tasks with an exact symmetry) and :mod:`symscape.train.learning_curves`
(learning curves of equivariant against plain models).

e3nn is one of symscape's dependencies (``pip install symscape`` installs
it): equivariant networks are one of the thesis's five results. This package
still imports without it and loads e3nn on first use, so that an
environment where e3nn is missing or broken gets one line saying how to
install it instead of an import error at start-up.

>>> import symscape.equivariant as eq
>>> eq.E3NN_INSTALL
'pip install "e3nn>=0.6,<0.7"'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from symscape.errors import InvalidOptionError, MissingDependencyError

__all__ = [
    "BACKENDS",
    "E3NN_INSTALL",
    "EquivariantEnsemble",
    "EquivariantNetwork",
    "MissingDependencyError",
    "PathCheck",
    "accelerate",
    "as_irreps",
    "check_tensor_product",
    "compile_available",
    "cuequivariance_available",
    "fast_tensor_product",
    "hidden_irreps",
    "radius_graph",
    "require_e3nn",
]

E3NN_INSTALL = 'pip install "e3nn>=0.6,<0.7"'  # symscape's own requirement (pyproject.toml)


def require_e3nn() -> ModuleType:
    """``e3nn``, imported; :class:`MissingDependencyError` saying how to install it if absent."""
    try:
        return importlib.import_module("e3nn")
    except ImportError as err:
        raise MissingDependencyError(
            f"symscape's equivariant networks need e3nn, which does not import ({err})",
            fix=f"it is a dependency of symscape: reinstall symscape, or {E3NN_INSTALL}",
        ) from None


def as_irreps(value, name: str = "irreps"):
    """``value`` (a string such as ``"16x0e + 8x1o"``, or an e3nn ``Irreps``) as e3nn ``Irreps``.

    Raises :class:`~symscape.errors.InvalidOptionError` naming ``name`` and the
    value when e3nn cannot read it.
    """
    o3 = importlib.import_module(f"{require_e3nn().__name__}.o3")
    if isinstance(value, o3.Irreps):
        return value
    if not isinstance(value, str | o3.Irrep):
        raise InvalidOptionError(
            f"{name}={value!r} is not an irreps string",
            fix="pass a string such as '16x0e + 8x1o' or an e3nn Irreps",
        )
    try:
        return o3.Irreps(value)
    except (ValueError, AssertionError):
        raise InvalidOptionError(
            f"{name}={value!r} is not valid irreps",
            fix="write multiplicity x degree parity, e.g. '16x0e + 8x1o + 4x2e' (parity e or o)",
        ) from None


_LAZY = {
    "EquivariantEnsemble": "network",
    "EquivariantNetwork": "network",
    "hidden_irreps": "network",
    "radius_graph": "network",
    "BACKENDS": "fast",
    "PathCheck": "fast",
    "accelerate": "fast",
    "check_tensor_product": "fast",
    "compile_available": "fast",
    "cuequivariance_available": "fast",
    "fast_tensor_product": "fast",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
