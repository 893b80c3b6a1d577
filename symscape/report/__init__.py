"""The main job's report: one self-contained HTML file a person reads in a browser.

:func:`write_report` reads the sections that ``symscape reproduce`` stored in
a sweep store (their summaries and the files they wrote) and writes one HTML
page: a part per thesis result, each with its question, a table of
symscape's measured quantities next to the papers' reported values, its
figures (embedded as ``data:`` URIs), the configs that produced them, the
versions and the wall time. The page loads nothing: no script, no font, no
style sheet and no image comes from anywhere but the file itself.

It is a pure function of the store, so ``symscape report --db PATH --out
FILE`` rebuilds the page of any finished (or partly finished) reproduce
without training anything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symscape._version import __version__
from symscape.errors import DataFormatError, DataNotFoundError, InvalidOptionError
from symscape.experiments import registry
from symscape.report.html import render
from symscape.report.sections import Comparison, Figure, Part, describe, failed_part

__all__ = ["ORDER", "Comparison", "Figure", "Part", "describe", "render", "write_report"]

ORDER = registry.report_order()  # the thesis's results, then the appendices


def write_report(
    db: str | Path,
    out: str | Path,
    sections: Sequence[str] | None = None,
    failures: Mapping[str, Mapping[str, Any]] | None = None,
    broken: str = "raise",
) -> Path:
    """Write the HTML report of the sections stored in ``db`` to the file ``out``.

    ``sections`` restricts it to those names; by default every stored section.
    The five results of the thesis come first, the data sets and the training
    engine last, as appendices.
    ``failures`` names the sections that failed in this run, each with its
    ``reason`` (one line), ``traceback`` (where the full traceback was saved,
    relative to the report), ``scale`` and ``wall_time_s``: they are shown as
    failed, in their place, instead of anything the store holds for them.
    ``broken`` says what a stored section the report cannot describe (a
    summary of another shape) does: ``"raise"`` a one-line error naming it,
    or ``"show"`` it as failed with that reason and write the rest.
    A store without any finished section (and no failure to show) is an error
    that says how to get one.
    """
    from symscape.sweep import Store

    if broken not in ("raise", "show"):
        raise InvalidOptionError(f"broken={broken!r}", fix="use 'raise' or 'show'")
    failures = dict(failures or {})
    with Store(db, create=False) as store:
        stored = store.sections()
        wanted = [
            n
            for n in ORDER
            if (n in stored or n in failures) and (sections is None or n in sections)
        ]
        if not wanted:
            asked = f" among {', '.join(sections)}" if sections else ""
            raise DataNotFoundError(
                f"the store {db} holds no finished section of 'symscape reproduce'{asked}",
                fix="run 'symscape reproduce --db PATH' first (sections are stored as they finish)",
            )
        parts = []
        for name in wanted:
            if name in failures:
                parts.append(_failed(name, failures[name]))
                continue
            entry = stored[name]

            def read(path: str, name: str = name) -> bytes:
                return store.section_file(name, path)

            try:
                part = describe(name, entry["summary"], read)
            except Exception as err:
                error = DataFormatError(
                    f"the stored section {name!r} (symscape {entry['version']}) is not what this "
                    f"symscape {__version__} reports on ({type(err).__name__}: {err})",
                    fix="rerun it: 'symscape reproduce --only "
                    f"{name} --recompute --db {db}', or use the symscape that wrote it",
                )
                if broken != "show":
                    raise error from None
                failure = {
                    "reason": str(error),
                    "scale": entry["scale"],
                    "finished": entry["finished"],
                    "wall_time_s": entry.get("wall_s"),
                }
                parts.append(_failed(name, failure))
                continue
            parts.append((part, entry, _embedded(part, read)))
        html = render(parts)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as err:
        raise DataNotFoundError(
            f"cannot write the report to {out}: {err.strerror or err}",
            fix="give an --out in a folder you can write to",
        ) from None
    return out


def _failed(name: str, failure: Mapping[str, Any]) -> tuple[Part, dict[str, Any], dict]:
    """A failed section's part, with an entry for the page's contents (no figures)."""
    entry = {
        "scale": failure.get("scale", "—"),
        "version": __version__,
        "finished": failure.get("finished", time.time()),
        "wall_s": failure.get("wall_time_s"),
    }
    return failed_part(name, failure["reason"], failure.get("traceback")), entry, {}


def _embedded(part: Part, read) -> dict[str, bytes]:
    """The PNG bytes of every figure of ``part`` (a figure the store lacks is left out)."""
    images = {}
    for figure in part.figures:
        try:
            images[figure.path] = read(figure.path)
        except KeyError:
            continue
    return images
