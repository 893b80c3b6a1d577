"""Named protocols: each experiment's ``PROTOCOLS`` maps a protocol name to its cases.

A protocol (``quick``, ``paper``, and room for more) is a mapping from a
case name (usually the data set: ``random``, ``digits``, ``mnist``) to one
experiment config. ``symscape reproduce --scale quick`` runs every case of
every experiment's ``quick`` protocol; a command's ``--protocol quick.digits``
takes one case as the starting config. Protocol configs never name a data
folder: :func:`with_root` adds one to the configs whose data set is read from
disk, the way ``--root`` or ``$SYMSCAPE_DATA`` gives it.

>>> from symscape.experiments.jamming import PROTOCOLS
>>> sorted(PROTOCOLS), sorted(PROTOCOLS["quick"])
(['medium', 'paper', 'quick'], ['mnist', 'random'])
>>> protocol_cases(PROTOCOLS, "huge", "jamming")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symscape.errors.InvalidOptionError: jamming has no protocol 'huge'; use one of quick, medium, paper
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from symscape.errors import InvalidOptionError

__all__ = ["protocol_cases", "with_root"]

Protocols = Mapping[str, Mapping[str, Any]]


def protocol_cases(
    protocols: Protocols, name: str, experiment: str, root: str | None = None
) -> dict[str, Any]:
    """The cases of protocol ``name`` (case name → config), each with data folder ``root``."""
    if name not in protocols:
        raise InvalidOptionError(
            f"{experiment} has no protocol {name!r}", fix=f"use one of {', '.join(protocols)}"
        )
    return {case: with_root(config, root) for case, config in protocols[name].items()}


def with_root(config: Any, root: str | None) -> Any:
    """``config`` with ``data["root"] = root`` when its data set is read from disk (else as is)."""
    if root is None or not hasattr(config, "data"):
        return config
    from symscape.data import get_dataset_spec

    if get_dataset_spec(config.dataset).kind != "files":
        return config
    return dataclasses.replace(config, data={**config.data, "root": root})
