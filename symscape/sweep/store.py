"""The result store: one SQLite file in WAL mode, written by one driver at a time.

Tables
------
``runs``
    one row per run: ``key`` (primary), ``experiment``, ``sweep`` (the spec's
    name), ``config`` (canonical JSON), ``seed``, ``status``
    (``pending | running | done | diverged | failed``), ``packed`` (how many
    runs shared its computation), timings (``created``, ``started``,
    ``finished``, ``duration`` in seconds), ``host``, ``pid``, ``version``
    (symscape's), ``error`` (the traceback of a failure) and ``scalars`` (the
    record's JSON values).
``arrays``
    the record's arrays as ``.npz`` bytes, one row per run, read lazily.
``drivers``
    the driver that holds the store, with a heartbeat; a second driver is
    refused while it lives, and takes over (reclaiming ``running`` rows) once
    it is gone.
``sections`` and ``section_files``
    what ``symscape reproduce`` made of the runs: one row per finished
    section (its scale, symscape's version, when it finished and its summary
    as JSON) and the files it wrote (figures, records) as bytes, so that
    ``symscape report`` rebuilds the report from the store alone and an
    interrupted reproduce skips the sections it had finished. Created on the
    first write: a store of ``symscape sweep run`` has none.
``meta``
    ``format = symscape-sweep-store`` and the schema version: a foreign
    database is refused with a clear message, never modified.

Every finished run is committed at once (WAL, ``synchronous=NORMAL``: a
committed run survives the driver being killed). Readers (``sweep status``,
``results``) never block the driver.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.errors import DataFormatError, DataNotFoundError, SymscapeError
from symscape.sweep.records import STATUSES, Outcome, dumps_json, load_npz

__all__ = ["Store", "StoreBusyError"]

FORMAT = "symscape-sweep-store"
SCHEMA = 1
HEARTBEAT_S = 5.0
STALE_S = 30.0  # a driver on another host is gone when its heartbeat is this old

_SCHEMA_SQL = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    sweep TEXT,
    config TEXT NOT NULL,
    seed INTEGER,
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    packed INTEGER,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    duration REAL,
    host TEXT,
    pid INTEGER,
    version TEXT NOT NULL,
    error TEXT,
    scalars TEXT
);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_sweep ON runs (sweep);
CREATE TABLE arrays (key TEXT PRIMARY KEY REFERENCES runs (key), npz BLOB NOT NULL);
CREATE TABLE drivers (
    id TEXT PRIMARY KEY, host TEXT, pid INTEGER, started REAL, heartbeat REAL, command TEXT
);
"""


_SECTIONS_SQL = """
CREATE TABLE IF NOT EXISTS sections (
    name TEXT PRIMARY KEY, scale TEXT NOT NULL, version TEXT NOT NULL, finished REAL NOT NULL,
    wall_s REAL, environment TEXT, fingerprint TEXT, summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS section_files (
    section TEXT NOT NULL, path TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (section, path)
);
"""


class StoreBusyError(SymscapeError, RuntimeError):
    """Another driver is running a sweep on this store."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


class Store:
    """A sweep store at ``path`` (created when ``create`` and absent)."""

    def __init__(self, path: str | os.PathLike, create: bool = True):
        self.path = Path(path)
        self.driver_id: str | None = None
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()
        try:
            exists = self.path.exists() and self.path.stat().st_size > 0
            if not exists and not create:
                raise DataNotFoundError(
                    f"no sweep store at {self.path}",
                    fix="give the --db of a 'symscape sweep run' or 'symscape reproduce'",
                )
            if exists:
                self._check_header()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = _connect(self.path)
        except OSError as err:
            if isinstance(err, SymscapeError):
                raise
            raise DataNotFoundError(
                f"cannot open or create the store {self.path}: {err.strerror or err}",
                fix="give a --db in a folder you can write to",
            ) from None
        try:
            if not exists:
                self._create()
            self._check_format()
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as err:
            raise self._foreign(f"SQLite cannot read it ({err})") from None

    # ------------------------------------------------------------ opening
    def _foreign(self, why: str) -> DataFormatError:
        return DataFormatError(
            f"{self.path} is not a symscape sweep store: {why}",
            fix="point --db at a new file, or at a store written by 'symscape sweep run'",
        )

    def _check_header(self) -> None:
        with open(self.path, "rb") as handle:
            magic = handle.read(16)
        if magic != b"SQLite format 3\x00":
            raise self._foreign("it is not an SQLite database (corrupt, or another kind of file)")

    def _check_format(self) -> None:
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            raise self._foreign("an SQLite database without symscape's tables")
        meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise self._foreign(f"its format is {meta.get('format')!r}")
        if int(meta.get("schema", -1)) > SCHEMA:
            raise DataFormatError(
                f"{self.path} was written by a newer symscape (schema {meta['schema']})",
                fix="upgrade symscape to read it",
            )

    def _create(self) -> None:
        with self.transaction():  # BEGIN IMMEDIATE: a driver creating it at the same moment waits
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return  # the other one was first
            for statement in _SCHEMA_SQL.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("schema", str(SCHEMA)), ("created", str(time.time()))],
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue, readers go on)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:  # Ctrl-C included: never leave a transaction open
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.release()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the driver lease
    def acquire(self, command: str = "") -> None:
        """Become the store's only driver, or raise :class:`StoreBusyError`."""
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        with self.transaction() as db:
            for row in db.execute("SELECT * FROM drivers").fetchall():
                if row["host"] == host:  # our own pid (a recycled one) is not another driver
                    alive = (
                        row["pid"] != pid
                        and _pid_alive(row["pid"])
                        and now - row["heartbeat"] < 2 * STALE_S
                    )
                else:
                    alive = now - row["heartbeat"] < STALE_S
                if alive:
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["started"]))
                    raise StoreBusyError(
                        f"{self.path} is in use by another sweep driver (pid {row['pid']} on "
                        f"{row['host']}, since {since})",
                        fix="wait for it to finish, or give another --db",
                    )
            db.execute("DELETE FROM drivers")
            self.driver_id = uuid.uuid4().hex
            db.execute(
                "INSERT INTO drivers VALUES (?, ?, ?, ?, ?, ?)",
                (self.driver_id, host, pid, now, now, command),
            )
        self._stop.clear()
        self._heartbeat = threading.Thread(
            target=self._beat, name="symscape-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def _beat(self) -> None:
        connection = _connect(self.path)
        try:
            while not self._stop.wait(HEARTBEAT_S):
                with contextlib.suppress(sqlite3.Error):
                    connection.execute(
                        "UPDATE drivers SET heartbeat = ? WHERE id = ?",
                        (time.time(), self.driver_id),
                    )
        finally:
            connection.close()

    def release(self) -> None:
        """Give the store up (running rows go back to pending)."""
        if self.driver_id is None:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        with self.transaction() as db:
            db.execute("UPDATE runs SET status = 'pending' WHERE status = 'running'")
            db.execute("DELETE FROM drivers WHERE id = ?", (self.driver_id,))
        self.driver_id = None

    def driver(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM drivers").fetchone()
        return dict(row) if row else None

    # ------------------------------------------------------------ writing
    def add_runs(self, runs: Sequence, sweep: str) -> None:
        """Insert the runs that are not in the store yet, as ``pending``."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO runs (key, experiment, sweep, config, seed, status, "
                "created, version) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                [
                    (r.key, r.experiment, sweep, dumps_json(r.config), r.seed, now, __version__)
                    for r in runs
                ],
            )

    def reclaim(self) -> int:
        """Rows left ``running`` by a driver that is gone go back to ``pending``."""
        with self.transaction() as db:
            return db.execute(
                "UPDATE runs SET status = 'pending' WHERE status = 'running'"
            ).rowcount

    def mark(self, keys: Iterable[str], status: str) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "UPDATE runs SET status = ?, started = ? WHERE key = ? AND status != 'done'",
                [(status, now, key) for key in keys],
            )

    def record(self, outcomes: Sequence[Outcome]) -> int:
        """Store finished runs in one transaction; a run already done is left as it is."""
        stored = 0
        with self.transaction() as db:
            for o in outcomes:
                cursor = db.execute(
                    "UPDATE runs SET status = ?, scalars = ?, error = ?, started = ?, "
                    "finished = ?, duration = ?, host = ?, pid = ?, packed = ? "
                    "WHERE key = ? AND status NOT IN ('done', 'diverged')",
                    (
                        o.status,
                        dumps_json(o.scalars),
                        o.error,
                        _real(o.started),
                        _real(o.finished),
                        _real(o.duration),
                        o.host,
                        o.pid,
                        o.packed,
                        o.key,
                    ),
                )
                if cursor.rowcount and o.status != "failed":
                    db.execute("INSERT OR REPLACE INTO arrays VALUES (?, ?)", (o.key, o.arrays))
                stored += cursor.rowcount
        return stored

    def put_section(
        self,
        name: str,
        scale: str,
        summary: Any,
        files: dict[str, bytes],
        wall_s: float | None = None,
        environment: dict[str, Any] | None = None,
        fingerprint: dict[str, Any] | None = None,
    ) -> None:
        """Store a finished section of ``symscape reproduce``: its summary (JSON), the files it
        wrote (by path relative to the results folder), its wall time, the versions, and the
        ``fingerprint`` a later run must match to reuse it."""
        with self.transaction() as db:
            for statement in _SECTIONS_SQL.split(";"):
                if statement.strip():
                    db.execute(statement)
            columns = {row[1] for row in db.execute("PRAGMA table_info(sections)")}
            for column in ("wall_s", "environment", "fingerprint"):  # an early layout lacked them
                if column not in columns:
                    db.execute(f"ALTER TABLE sections ADD COLUMN {column}")
            db.execute("DELETE FROM section_files WHERE section = ?", (name,))
            db.execute(
                "INSERT OR REPLACE INTO sections (name, scale, version, finished, wall_s, "
                "environment, fingerprint, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    scale,
                    __version__,
                    time.time(),
                    _real(wall_s),
                    json.dumps(environment or {}),
                    json.dumps(fingerprint or {}),
                    json.dumps(summary),  # keys in their order, unlike dumps_json
                ),
            )
            db.executemany(
                "INSERT INTO section_files VALUES (?, ?, ?)",
                [(name, path, sqlite3.Binary(data)) for path, data in sorted(files.items())],
            )

    # ------------------------------------------------------------ reading
    def sections(self) -> dict[str, dict[str, Any]]:
        """The stored sections of ``symscape reproduce``, by name: scale, version, finished,
        summary (decoded) and the paths of their files."""
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master")}
        if "sections" not in tables:
            return {}
        out = {}
        for row in self.db.execute("SELECT * FROM sections ORDER BY finished"):
            item = dict(row)
            item["summary"] = json.loads(item["summary"])
            for field in ("environment", "fingerprint"):  # absent from an early layout
                item[field] = json.loads(item.get(field) or "{}")
            item["files"] = [
                r[0]
                for r in self.db.execute(
                    "SELECT path FROM section_files WHERE section = ? ORDER BY path", (row["name"],)
                )
            ]
            out[row["name"]] = item
        return out

    def section_file(self, name: str, path: str) -> bytes:
        """The bytes of one file of a stored section (a missing one is a ``KeyError``)."""
        row = self.db.execute(
            "SELECT data FROM section_files WHERE section = ? AND path = ?", (name, path)
        ).fetchone()
        if row is None:
            raise KeyError(f"section {name!r} of {self.path} has no file {path!r}")
        return bytes(row[0])

    def statuses(self, keys: Sequence[str] | None = None) -> dict[str, str]:
        if keys is None:
            return dict(self.db.execute("SELECT key, status FROM runs").fetchall())
        out: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, status FROM runs WHERE key IN ({marks})"
            out.update(self.db.execute(query, chunk).fetchall())
        return out

    def counts(self, sweep: str | None = None) -> dict[str, int]:
        query = "SELECT status, count(*) FROM runs"
        rows = (
            self.db.execute(query + " WHERE sweep = ? GROUP BY status", (sweep,))
            if sweep
            else self.db.execute(query + " GROUP BY status")
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update(dict(rows.fetchall()))
        return counts

    def sweeps(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT DISTINCT sweep FROM runs ORDER BY 1")]

    def rows(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every run row (configs and scalars decoded), without arrays."""
        query = "SELECT * FROM runs" + (" WHERE status = ?" if status else "") + " ORDER BY rowid"
        rows = self.db.execute(query, (status,) if status else ()).fetchall()
        return [_decoded(row) for row in rows]

    def get(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``keys``, in that order (a key not in the store is an error)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM runs WHERE key IN ({marks})", chunk):
                found[row["key"]] = _decoded(row)
        missing = [key for key in keys if key not in found]
        if missing:
            raise KeyError(f"{len(missing)} run(s) not in {self.path}, e.g. {missing[0]}")
        return [found[key] for key in keys]

    def arrays(self, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT npz FROM arrays WHERE key = ?", (key,)).fetchone()
        return load_npz(row[0]) if row else {}

    def failures(self, limit: int = 5, keys: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """``(key, traceback)`` of up to ``limit`` failed runs, the first to fail first;
        ``keys``: among those runs only (one sweep's), not the whole store's."""
        rows = self.db.execute(
            "SELECT key, error FROM runs WHERE status = 'failed' ORDER BY finished"
        )
        wanted = None if keys is None else set(keys)
        found = [(row[0], row[1] or "") for row in rows if wanted is None or row[0] in wanted]
        return found[:limit]


def _decoded(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    item["config"] = json.loads(item["config"])
    item["scalars"] = json.loads(item["scalars"]) if item["scalars"] else {}
    return item


def _real(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
