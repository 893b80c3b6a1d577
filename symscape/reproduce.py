"""``symscape reproduce``: regenerate the thesis's results into one folder.

Sections so far: every data set summarised (shapes, labels, class balance, a
preview figure), and one small ensemble trained by the engine with its
observables along training. The experiments add their sections as they land.

``quick`` uses the synthetic and embedded data sets (and the on-disk ones
when ``$SYMSCAPE_DATA`` holds them); ``paper`` needs MNIST, Fashion-MNIST and
CIFAR-10 on disk and checks that they are all present before doing anything.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from symscape._version import __version__
from symscape.data import get_dataset_spec
from symscape.data.options import parse_device
from symscape.errors import (
    DataFormatError,
    DataNotFoundError,
    InvalidOptionError,
    RunsFailedError,
    SymscapeError,
    one_line,
)
from symscape.experiments import registry
from symscape.experiments._sweeps import section_store
from symscape.experiments.engine import ENGINE_CONFIGS, engine_section
from symscape.report import write_report
from symscape.sweep.executors import ExecutorChoice
from symscape.validation import spelling

__all__ = ["ENGINE_CONFIGS", "SCALES", "SECTIONS", "check_sections", "engine_section", "reproduce"]

SCALES = registry.SCALES  # the protocols every section has, in order of size


def _environment() -> dict[str, Any]:
    return {
        "symscape": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }


def _check_files_present(root: str | None, sections: tuple[str, ...], scale: str) -> None:
    """Every on-disk data set that protocol ``scale`` of ``sections`` trains on must be
    there (the quick and medium protocols use embedded data only); list the missing ones
    at once."""
    needed = sorted({name for s in sections for name in registry.get(s).datasets(scale)})
    missing = []
    for name in needed:
        spec = get_dataset_spec(name)
        if spec.kind != "files":
            continue
        try:
            spec.make(spec.resolve({"root": root}))
        except DataNotFoundError as err:
            missing.append(f"{spec.name} ({err.problem})")
    if missing:
        raise DataNotFoundError(
            f"--scale {scale} (sections {', '.join(sections)}) needs data sets that are not on "
            f"disk: {'; '.join(missing)}",
            fix="put them under $SYMSCAPE_DATA (see 'symscape data list'), choose other "
            "sections with --only, or use --scale quick",
        )


SECTIONS = registry.names()  # in the order they run (symscape.experiments.registry)


def check_sections(names) -> tuple[str, ...]:
    """``names`` as :data:`SECTIONS` writes them (``double-descent`` is ``double_descent``),
    each checked to be one of them (all the unknown ones named)."""
    known = {spelling(name): name for name in SECTIONS}
    unknown = [name for name in names if spelling(name) not in known]
    if unknown:
        raise InvalidOptionError(
            f"unknown section(s) {', '.join(unknown)}", fix=f"choose among {', '.join(SECTIONS)}"
        )
    return tuple(known[spelling(name)] for name in names)


# the files of ``out`` that belong to the whole run, not to one section
_OWN_FILES = ("summary.json", "summary.md", "report.html")


def reproduce(
    scale: str = "quick",
    out: str | Path = "symscape-results",
    root: str | None = None,
    only: tuple[str, ...] | None = None,
    executor: str | ExecutorChoice | None = None,
    db: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    device: str = "cpu",
    recompute: bool = False,
) -> dict[str, Any]:
    """Run the main job at ``scale`` and write its results under ``out``; returns the summary.

    ``only`` restricts the run to some of the sections: ``data``, ``engine``,
    ``jamming``, ``landscape``, ``double_descent``, ``feature_lazy``, ``stability``,
    ``equivariance``.

    Every run goes through the sweep store ``db`` (default ``out/symscape.db``)
    on ``executor`` (a name or an :class:`~symscape.sweep.executors.ExecutorChoice`
    with options; default: each section's own, ``pool`` or ``inprocess``),
    and every finished section is stored there with the files it wrote. A
    rerun with the same scale, symscape version, device and data folder takes
    the finished sections from the store (``recompute`` computes them again)
    and resumes the others where they stopped (a section's finished runs are
    not trained again either way). ``out`` receives ``summary.json``,
    ``summary.md``, ``report.html`` (:mod:`symscape.report`) and ``figures/``.
    ``log`` receives one line per section (the overall progress). ``device``
    (``cpu``, ``cuda``, ``cuda:1``) is where the networks train (the
    equivariance section stays on the CPU).

    A section that fails does not stop the others: its one-line reason and
    where its full traceback was saved (``out/failures/NAME.txt``) go to
    ``summary["failed"]``, to the log and to the report, which is written
    with every section that finished. Nothing finished is lost: a rerun
    takes the finished sections and runs from the store and runs the failed
    ones again (a failed run is not a result).
    """
    from symscape.sweep import Store

    if scale not in SCALES:
        raise InvalidOptionError(
            f"scale={scale!r} is not a scale", fix=f"use one of {', '.join(SCALES)}"
        )
    only = tuple(name for name in SECTIONS if name in check_sections(only or SECTIONS))
    if isinstance(executor, str):
        executor = ExecutorChoice(executor)  # an unknown name fails here
    parse_device(device)
    _check_files_present(root, only, scale)
    out = Path(out)
    db = section_store(out, db)
    figures = _folder(out / "figures", "--out")
    _folder(db.parent, "--db")
    with Store(db) as store:  # a foreign or unwritable --db fails here, before any training
        for name, entry in store.sections().items():
            for path in entry["files"] if name in only and not recompute else ():
                _inside(out, path, db)  # files it would write back: inside --out
    log = log or (lambda line: None)
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "scale": scale,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": _environment(),
        "sections": list(only),
        "store": str(db),
    }
    failed_before = _failed_runs(db)
    failed: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(only, 1):
        section_started = time.perf_counter()
        try:
            summary[name], resumed = _section(
                name, scale, out, figures, root, db, executor, device, recompute
            )
        except Exception as err:  # one section's failure costs that section only
            wall = time.perf_counter() - section_started
            failed[name] = _failure(name, err, out, scale, wall)
            said = _said(out, failed[name])
            log(f"reproduce [{i}/{len(only)}] {name}: FAILED after {wall:.1f} s: {said}")
            continue
        _forget_failure(out, name)
        how = "taken from the store" if resumed else "done"
        log(
            f"reproduce [{i}/{len(only)}] {name}: {how} "
            f"in {time.perf_counter() - section_started:.1f} s"
        )
    retried = _retried(db, failed_before)
    if retried:
        log(
            f"reproduce: retried {sum(retried.values())} run(s) that had failed before: "
            + ", ".join(f"{count} {status}" for status, count in retried.items() if count)
        )
    summary["failed"] = failed
    summary["wall_time_s"] = round(time.perf_counter() - started, 2)
    summary["report"] = "report.html"
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    # the page first: a section the report cannot render is shown as failed there, not fatal
    write_report(db, out / "report.html", sections=only, failures=failed, broken="show")
    (out / "summary.md").write_text(_markdown(summary))
    return summary


def _said(out: Path, failure: dict[str, Any]) -> str:
    """A failure's reason and where its traceback is, for one line of the log."""
    where = failure["traceback"]
    return failure["reason"] + (f" (traceback: {out / where})" if where else "")


_FAILURES = "failures"  # the folder of ``out`` where a failed section's traceback is saved


def _inside(out: Path, path: str, db: Path) -> Path:
    """Where the stored file ``path`` goes: inside ``out``, or the store is refused."""
    target = (out / path).resolve()
    if not target.is_relative_to(out.resolve()):
        raise DataFormatError(
            f"the store {db} names a file {path!r} outside the results folder",
            fix="use a store written by 'symscape reproduce', or --recompute",
        )
    return target


def _forget_failure(out: Path, name: str) -> None:
    """Remove the traceback a former failure of section ``name`` left (and an empty folder)."""
    (out / _FAILURES / f"{name}.txt").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not there, or other sections' tracebacks are
        (out / _FAILURES).rmdir()


def _failed_runs(db: Path) -> dict[str, float]:
    """The failed runs of the store ``db``: key -> when they finished (failing)."""
    from symscape.sweep import Store

    with Store(db) as store:
        return {row["key"]: row["finished"] for row in store.rows("failed")}


def _retried(db: Path, failed_before: dict[str, float]) -> dict[str, int]:
    """How the runs of ``failed_before`` that ran again ended, by status (``done``,
    ``diverged``, ``failed``; runs not run again are not counted)."""
    from symscape.sweep import Store

    if not failed_before:
        return {}
    failed_now = _failed_runs(db)
    again = [key for key, when in failed_before.items() if failed_now.get(key) != when]
    if not again:
        return {}
    with Store(db) as store:
        return dict(collections.Counter(store.statuses(again).values()))


def _folder(path: Path, flag: str) -> Path:
    """``path``, created if needed; a folder that cannot be made is one line naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataNotFoundError(
            f"cannot create the folder {path}: {err.strerror or err}",
            fix=f"give a {flag} in a folder you can write to",
        ) from None
    return path


def _failure(name: str, err: Exception, out: Path, scale: str, wall: float) -> dict[str, Any]:
    """What the summary and the report say of a section that raised ``err``: its one-line
    reason, and the file (relative to ``out``) where its full traceback is saved."""
    text = "".join(traceback.format_exception(err))
    if isinstance(err, RunsFailedError):  # the runs' reason; the rerun advice is the report's
        reason = err.problem
        for key, run_traceback in err.failures:  # the runs' tracebacks say more than the driver's
            text += f"\n--- run {key} ---\n{run_traceback}"
    elif isinstance(err, SymscapeError):
        reason = str(err)
    else:
        reason = one_line(f"{type(err).__name__}: {err}")
    path: str | None = f"{_FAILURES}/{name}.txt"
    try:
        (out / _FAILURES).mkdir(exist_ok=True)
        (out / path).write_text(f"symscape reproduce: section {name} failed\n\n{text}")
    except OSError:  # no traceback file: the reason still reaches the log and the report
        path = None
    return {
        "reason": reason,
        "traceback": path,
        "scale": scale,
        "finished": time.time(),
        "wall_time_s": round(wall, 2),
    }


def fingerprint(scale: str, root: str | None, device: str) -> dict[str, Any]:
    """What a stored section must match to be taken from the store instead of recomputed:
    the scale, symscape's version, the device and the data folder in use."""
    folder = root or os.environ.get("SYMSCAPE_DATA")
    return {
        "scale": scale,
        "version": __version__,
        "device": str(torch.device(device)),
        "data": str(Path(folder).expanduser().resolve()) if folder else None,
    }


def _section(
    name: str,
    scale: str,
    out: Path,
    figures: Path,
    root: str | None,
    db: Path,
    executor: ExecutorChoice | None,
    device: str,
    recompute: bool,
) -> tuple[dict[str, Any], bool]:
    """One section's summary: from the store when it finished there before with the same
    :func:`fingerprint` (unless ``recompute``), else computed (and then stored with the
    files it wrote). Returns it and whether it came from the store."""
    from symscape.sweep import Store

    wanted = fingerprint(scale, root, device)
    with Store(db) as store:
        stored = store.sections().get(name)
        if stored and not recompute and stored["fingerprint"] == wanted:
            for path in stored["files"]:
                target = _inside(out, path, db)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(store.section_file(name, path))
            return stored["summary"], True
    before = _files(out, db)
    started = time.perf_counter()
    section = registry.get(name).load().section
    result = section(scale, figures, out, root=root, store=db, executor=executor, device=device)
    after = _files(out, db)
    written = {
        path: (out / path).read_bytes()
        for path, stamp in after.items()
        if before.get(path) != stamp
    }
    result = json.loads(json.dumps(result))  # as the store gives it back: the same report
    with Store(db) as store:
        wall = time.perf_counter() - started
        store.put_section(name, scale, result, written, wall, _environment(), wanted)
    return result, False


def _files(out: Path, db: Path) -> dict[str, tuple[int, int]]:
    """The files under ``out`` with their modification time and size, minus the stores (and
    their SLURM folders) and the whole run's own files."""
    from symscape.sweep.driver import sweep_folder

    db = db.resolve()
    skip = {db, *(Path(str(db) + end) for end in ("-wal", "-shm", "-journal"))}
    jobs = sweep_folder(db)  # submitit's logs and outboxes
    found = {}
    for path in out.rglob("*"):
        resolved = path.resolve()
        if not path.is_file() or resolved in skip or path.suffix == ".db":
            continue
        if resolved.is_relative_to(jobs):
            continue
        relative = path.relative_to(out).as_posix()
        if relative in _OWN_FILES or relative.startswith(f"{_FAILURES}/"):
            continue
        stat = path.stat()
        found[relative] = (stat.st_mtime_ns, stat.st_size)
    return found


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# symscape reproduce --scale {summary['scale']}",
        "",
        f"symscape {summary['environment']['symscape']}, torch {summary['environment']['torch']}, "
        f"{summary['date']}, {summary['wall_time_s']} s.",
    ]
    for name, failure in summary.get("failed", {}).items():
        where = failure["traceback"]
        lines += ["", f"**Section {name} failed:** {failure['reason']}."]
        if where:
            lines[-1] += f" Traceback: [{where}]({where})."
    for name in SECTIONS:
        if name not in summary:
            continue
        try:
            lines += _section_markdown(name, summary)
        except Exception as err:  # one section's Markdown never costs the others
            lines += [
                "",
                f"**Section {name}** could not be written here ({err!r}): see report.html.",
            ]
    return "\n".join(lines) + "\n"


def _section_markdown(name: str, summary: dict[str, Any]) -> list[str]:
    """The Markdown lines of section ``name`` of ``summary``: its report part
    (:func:`symscape.report.markdown.markdown`), figures linked."""
    from symscape.report.markdown import markdown

    part = registry.get(name).describer()(summary[name])
    return ["", markdown(part).rstrip("\n")]
