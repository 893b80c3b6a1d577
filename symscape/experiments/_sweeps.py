"""Running an experiment's sweep to completion through the store (shared by the experiments)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["complete", "section_store"]


def section_store(out: str | Path, store: str | Path | None = None) -> Path:
    """The sweep store of a ``symscape reproduce`` section: ``store``, else ``out/symscape.db``."""
    return Path(store) if store is not None else Path(out) / "symscape.db"


def complete(spec, store_path: str | Path, executor="inprocess", what: str = ""):
    """``Runner(store_path, executor).complete(spec, what)``
    (:meth:`symscape.sweep.runner.Runner.complete`)."""
    from symscape.sweep.runner import Runner

    return Runner(Path(store_path), executor).complete(spec, what)
