"""Appendix A of the main job: every data set symscape can load, summarised.

For each registered data set: its kind, whether it is on this machine, the
shapes, labels and class balance of what loads, and a preview figure of its
first training inputs (``figures/data_NAME.png``). Nothing is trained.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symscape.comparisons import Figure, Part, ReadFile, markdown
from symscape.data import get_dataset_spec, list_datasets, load
from symscape.data.preview import save_preview
from symscape.errors import DataNotFoundError, SymscapeError
from symscape.experiments import registry
from symscape.progress import track

__all__ = ["describe", "markdown_section", "section", "summarise"]


def summarise(name: str, root: str | None, figures: Path, out: Path) -> dict[str, Any]:
    """One data set's entry: ``status`` ``ok`` with its summary and preview (a path relative
    to ``out``), or ``not found`` / ``error`` with the reason (a damaged file does not stop
    the others)."""
    spec = get_dataset_spec(name)
    options = {"root": root} if spec.kind == "files" else {}
    started = time.perf_counter()
    try:
        ds = load(name, **options)
    except DataNotFoundError as err:
        return {"name": name, "kind": spec.kind, "status": "not found", "reason": err.problem}
    except SymscapeError as err:  # a damaged file: say so, keep going
        return {"name": name, "kind": spec.kind, "status": "error", "reason": str(err)}
    entry = {"name": name, "kind": spec.kind, "status": "ok", **ds.summary()}
    entry["load_time_s"] = round(time.perf_counter() - started, 3)
    entry["preview"] = str(save_preview(ds, figures / f"data_{name}.png").relative_to(out))
    return entry


def section(
    scale: str,
    figures: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: Any = None,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Every registered data set summarised (the same at every scale; ``root`` is the data
    folder of the on-disk ones)."""
    del scale, store, executor, device
    specs = list_datasets()
    return [
        summarise(spec.name, root, figures, out)
        for spec in track(specs, "data sets", total=len(specs))
    ]


def markdown_section(summary, read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: :func:`describe`'s part rendered by
    :func:`symscape.comparisons.markdown` (the one Markdown renderer)."""
    return markdown(describe(summary, read))


def describe(summary: Sequence[Mapping[str, Any]], read: ReadFile | None = None) -> Part:
    """The report's part: a table of the data sets and their previews."""
    part = Part(
        "data",
        *registry.get("data").heading,
        small_figures=True,
    )
    rows = []
    for e in summary:
        if e["status"] != "ok":
            rows.append([e["name"], e["kind"], f"{e['status']}: {e['reason']}", "", "", ""])
            continue
        shape = "×".join(map(str, e["input_shape"]))
        rows.append([e["name"], e["kind"], "ok", shape, str(e["P"]), str(e["n_test"])])
        part.figures.append(Figure(e["preview"], f"{e['name']}: a preview of the training set."))
    part.tables.append(("Data sets", ["data set", "kind", "status", "input", "P", "n_test"], rows))
    return part
