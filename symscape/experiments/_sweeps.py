"""Where a ``symscape reproduce`` section keeps its runs (shared by the experiments)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["section_store"]


def section_store(out: str | Path, store: str | Path | None = None) -> Path:
    """The sweep store of a ``symscape reproduce`` section: ``store``, else ``out/symscape.db``."""
    return Path(store) if store is not None else Path(out) / "symscape.db"
