"""Read a sweep store back as a table: ``load(path) -> pandas.DataFrame``.

One row per run. Columns: ``key``, ``experiment``, ``sweep``, ``status``,
``seed``; every config field (a table field such as ``data`` becomes
``data.P``, ``data.d``, ...); every scalar of the record (nested names
joined with ``.``, e.g. ``final.test_error``; a name that a config field
or a run column already uses gets the prefix ``result.``); the run's ``duration``,
``packed``, ``host``, ``version`` and ``error``; and ``arrays``, a lazy
mapping that reads the run's arrays from the store only when indexed.

>>> import tempfile, pathlib
>>> from symscape.sweep import parse_spec, run_sweep
>>> db = pathlib.Path(tempfile.mkdtemp()) / "probe.db"
>>> spec = parse_spec('experiment = "probe"\\nseeds = [0, 1]\\n[grid]\\nvalue = [1.0, 2.0]')
>>> run_sweep(spec, db, executor="inprocess").ok
True
>>> frame = load(db)
>>> list(frame["value"]), list(frame["seed"]), list(frame["result"])
([1.0, 1.0, 2.0, 2.0], [0, 1, 0, 1], [1.0, 2.0, 2.0, 4.0])
>>> frame["arrays"][0]["draws"].shape
(4,)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from symscape.config import dotted
from symscape.errors import InvalidOptionError, MissingDependencyError
from symscape.sweep.records import load_npz
from symscape.sweep.store import Store

__all__ = ["LazyArrays", "filter_rows", "load", "parse_where"]

META = ("key", "experiment", "sweep", "status", "seed")
TAIL = ("duration", "packed", "host", "version", "error", "started", "finished")


class _Reader:
    """One read-only connection shared by the lazy arrays of a frame."""

    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None

    def arrays(self, key: str) -> dict[str, Any]:
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        row = self._db.execute("SELECT npz FROM arrays WHERE key = ?", (key,)).fetchone()
        return load_npz(row[0]) if row else {}


class LazyArrays(Mapping):
    """A run's arrays, read from the store at the first access."""

    def __init__(self, reader: _Reader, key: str):
        self._reader, self._key, self._data = reader, key, None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._reader.arrays(self._key)
        return self._data

    def __getitem__(self, name: str):
        data = self._load()
        if name not in data:
            raise KeyError(f"run {self._key[:8]} has no array {name!r}; it has {sorted(data)}")
        return data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        state = f"{len(self._data)} arrays" if self._data is not None else "not loaded"
        return f"<arrays of run {self._key[:8]}: {state}>"


def _pandas():
    try:
        import pandas
    except ImportError:
        raise MissingDependencyError(
            "reading results as a table needs pandas", fix="pip install pandas"
        ) from None
    return pandas


def load(path: str | Path, status: str | None = None, where: Mapping[str, Any] | None = None):
    """The runs of the store at ``path`` as a DataFrame (see the module docstring)."""
    pandas = _pandas()
    path = Path(path)
    with Store(path, create=False) as store:
        rows = store.rows(status=status)
    reader = _Reader(path)
    records = []
    config_columns: dict[str, None] = {}
    scalar_columns: dict[str, None] = {}
    for row in rows:
        config = dotted(row["config"])
        if config.get("seeds") == [row["seed"]]:
            config.pop("seeds")
        item = {name: row[name] for name in META}
        item.update(config)
        config_columns.update(dict.fromkeys(config))
        for name, value in dotted(row["scalars"]).items():
            column = f"result.{name}" if name in item or name in TAIL else name
            item[column] = value
            scalar_columns[column] = None
        item.update({name: row[name] for name in TAIL})
        item["arrays"] = LazyArrays(reader, row["key"])
        records.append(item)
    frame = pandas.DataFrame.from_records(records)
    if frame.empty:
        frame = pandas.DataFrame(columns=[*META, *TAIL, "arrays"])
    if where:
        frame = filter_rows(frame, where)
    frame.attrs["config_columns"] = list(config_columns)
    frame.attrs["scalar_columns"] = list(scalar_columns)
    return frame


def parse_where(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["width=8", "dynamics=adam"]`` → ``{"width": 8, "dynamics": "adam"}`` (JSON values)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InvalidOptionError(f"--where {item!r} is not FIELD=VALUE", fix="e.g. width=8")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[name.strip()] = value
    return out


def filter_rows(frame, where: Mapping[str, Any]):
    """Rows of ``frame`` whose columns equal the given values (numbers compared as floats)."""
    for name, value in where.items():
        if name not in frame.columns:
            known = ", ".join(c for c in frame.columns if c != "arrays")
            raise InvalidOptionError(f"no column {name!r} to filter on", fix=f"columns: {known}")
        column = frame[name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            numeric = _pandas().to_numeric(column, errors="coerce")
            mask = (numeric - value).abs() <= 1e-12 * max(abs(value), 1.0)
        else:
            mask = column.map(lambda cell, v=value: cell == v or str(cell) == str(v))
        frame = frame[mask.fillna(False).astype(bool)]
    attrs = dict(frame.attrs)
    frame = frame.reset_index(drop=True)
    frame.attrs.update(attrs)
    return frame
