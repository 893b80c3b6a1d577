"""``symscape reproduce``: regenerate the thesis's results into one folder.

For now it summarises every data set (shapes, labels, class balance, a
preview figure); the experiments add their sections as they land.

``quick`` uses the synthetic and embedded data sets (and the on-disk ones
when ``$SYMSCAPE_DATA`` holds them); ``paper`` needs MNIST, Fashion-MNIST and
CIFAR-10 on disk and checks that they are all present before doing anything.
"""

from __future__ import annotations

import datetime
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from symscape._version import __version__
from symscape.data import get_dataset_spec, list_datasets, load
from symscape.data.preview import save_preview
from symscape.errors import DataNotFoundError, InvalidOptionError, SymscapeError
from symscape.progress import track

__all__ = ["SCALES", "reproduce"]

SCALES = ("quick", "paper")


def _environment() -> dict[str, Any]:
    return {
        "symscape": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }


def _check_files_present(root: str | None) -> None:
    """At paper scale: every on-disk data set must be there; list the missing ones at once."""
    missing = []
    for spec in list_datasets():
        if spec.kind != "files":
            continue
        try:
            spec.make(spec.resolve({"root": root}))
        except DataNotFoundError as err:
            missing.append(f"{spec.name} ({err.problem})")
    if missing:
        raise DataNotFoundError(
            f"--scale paper needs data sets that are not on disk: {'; '.join(missing)}",
            fix="put them under $SYMSCAPE_DATA (see 'symscape data list') or use --scale quick",
        )


def reproduce(
    scale: str = "quick", out: str | Path = "symscape-results", root: str | None = None
) -> dict[str, Any]:
    """Run the main job at ``scale`` and write its results under ``out``; returns the summary."""
    if scale not in SCALES:
        raise InvalidOptionError(
            f"scale={scale!r} is not a scale", fix=f"use one of {', '.join(SCALES)}"
        )
    if scale == "paper":
        _check_files_present(root)
    out = Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    entries = []
    specs = list_datasets()
    for spec in track(specs, "data sets", total=len(specs)):
        entries.append(_summarise(spec.name, root, figures, out))
    summary = {
        "scale": scale,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": _environment(),
        "data": entries,
        "wall_time_s": round(time.perf_counter() - started, 2),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(_markdown(summary))
    return summary


def _summarise(name: str, root: str | None, figures: Path, out: Path) -> dict[str, Any]:
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


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# symscape reproduce --scale {summary['scale']}",
        "",
        f"symscape {summary['environment']['symscape']}, torch {summary['environment']['torch']}, "
        f"{summary['date']}, {summary['wall_time_s']} s.",
        "",
        "## Data sets",
        "",
        "| data set | kind | status | input shape | P | n_test | labels | train balance "
        "| preview |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary["data"]:
        if e["status"] != "ok":
            lines.append(
                f"| {e['name']} | {e['kind']} | {e['status']}: {e['reason']} | | | | | | |"
            )
            continue
        balance = ", ".join(f"{k}: {v}" for k, v in e["class_counts_train"].items())
        shape = "×".join(map(str, e["input_shape"]))
        lines.append(
            f"| {e['name']} | {e['kind']} | ok | {shape} | {e['P']} | {e['n_test']} | "
            f"{e['labels']} | {balance} | [png]({e['preview']}) |"
        )
    return "\n".join(lines) + "\n"
