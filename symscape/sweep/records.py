"""A finished run as data that travels and is stored without pickles.

A record (what a run function returns) is a nested dict of JSON values and
numpy arrays. :func:`flatten` splits it into *scalars* (a JSON object; nested
dicts kept) and *arrays* (a flat dict, nested names joined with ``/``), which
are stored as ``.npz`` bytes. An :class:`Outcome` is one run's result as the
driver receives it, from any executor: key, status, scalars, array bytes,
timings, host and, for a failure, the traceback.

SLURM jobs hand outcomes over as files: :func:`write_outcome_file` writes a
zip archive under a temporary name and renames it, so that a reader never
sees half a file.

>>> import numpy as np
>>> scalars, arrays = flatten({"loss": 0.5, "final": {"n": 3, "w": np.ones(2)}})
>>> scalars, sorted(arrays)
({'loss': 0.5, 'final': {'n': 3}}, ['final/w'])
>>> load_npz(dump_npz(arrays))["final/w"]
array([1., 1.])
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import socket
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symscape.errors import DataFormatError

__all__ = [
    "Outcome",
    "dump_npz",
    "flatten",
    "load_npz",
    "read_outcome_file",
    "write_outcome_file",
]

STATUSES = ("pending", "running", "done", "diverged", "failed")
OUTCOME_SUFFIX = ".outcome"


def _json_value(value: Any, where: str) -> Any:
    """A JSON-able copy of ``value``: numpy scalars become Python numbers, NaN stays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v, where) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"record entry {where!r} of type {type(value).__name__} is not JSON or array")


def flatten(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split a record into JSON scalars (nested) and arrays (flat, ``a/b`` names)."""
    scalars: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}

    def walk(node: Mapping[str, Any], into: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, np.generic):  # a numpy scalar is a scalar, not an array
                into[str(key)] = value.item()
            elif isinstance(value, np.ndarray) or hasattr(value, "__array_interface__"):
                arrays[name] = np.asarray(value)
            elif hasattr(value, "detach"):  # a torch tensor
                arrays[name] = value.detach().cpu().numpy()
            elif isinstance(value, Mapping):
                sub: dict[str, Any] = {}
                walk(value, sub, f"{name}/")
                if sub:
                    into[str(key)] = sub
            else:
                into[str(key)] = _json_value(value, name)

    walk(record, scalars, "")
    return scalars, arrays


def dump_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``.npz`` bytes of ``arrays`` (no pickled objects: object arrays are refused)."""
    for name, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects; store numbers only")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_npz(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`dump_npz` bytes (``allow_pickle=False``)."""
    if not data:
        return {}
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def dumps_json(value: Any) -> str:
    """Strict-enough JSON: NaN and infinities as in Python's json (``NaN``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


@dataclasses.dataclass
class Outcome:
    """One run's result as the driver stores it."""

    key: str
    status: str  # done | diverged | failed
    scalars: dict[str, Any] = dataclasses.field(default_factory=dict)
    arrays: bytes = b""
    error: str | None = None
    started: float = math.nan
    finished: float = math.nan
    host: str = dataclasses.field(default_factory=socket.gethostname)
    pid: int = dataclasses.field(default_factory=os.getpid)
    packed: int = 1  # how many runs shared the computation

    @property
    def duration(self) -> float:
        return self.finished - self.started

    def header(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields.pop("arrays")
        return fields


def write_outcome_file(outcome: Outcome, folder: str | os.PathLike) -> Path:
    """Write ``outcome`` into ``folder`` as ``<key>.outcome``, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{outcome.key}{OUTCOME_SUFFIX}"
    temporary = folder / f".{outcome.key}.{uuid.uuid4().hex}.tmp"
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("outcome.json", dumps_json(outcome.header()))
        archive.writestr("arrays.npz", outcome.arrays)
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def read_outcome_file(path: str | os.PathLike) -> Outcome:
    """The :class:`Outcome` in a file of :func:`write_outcome_file`, checked field by field."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read("outcome.json").decode())
            arrays = archive.read("arrays.npz")
        outcome = Outcome(arrays=arrays, **header)
        problem = _check_outcome(outcome, path.name.removesuffix(OUTCOME_SUFFIX))
    except Exception as err:  # anything unreadable: a zip, JSON, UTF-8 or field error
        problem = f"{type(err).__name__}: {err}"
    if problem:
        raise DataFormatError(
            f"{path} is not a symscape outcome file ({problem})",
            fix="delete it; the run it belonged to will run again",
        )
    return outcome


def _check_outcome(outcome: Outcome, key: str) -> str | None:
    if outcome.key != key:
        return f"it holds run {outcome.key!r}, not {key!r}"
    if outcome.status not in ("done", "diverged", "failed"):
        return f"status {outcome.status!r}"
    for name in ("started", "finished"):
        if not isinstance(getattr(outcome, name), int | float):
            return f"{name} is not a number"
    if not isinstance(outcome.scalars, dict) or not isinstance(outcome.packed, int):
        return "scalars or packed of the wrong type"
    if outcome.error is not None and not isinstance(outcome.error, str):
        return "error is not text"
    return None
