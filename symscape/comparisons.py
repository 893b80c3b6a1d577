"""What a result says next to the papers: the value types every experiment's ``describe`` returns.

An experiment's ``describe(summary, read)`` turns the summary its section
stored into a :class:`Part`: its question, :class:`Comparison` rows (a
quantity, symscape's measured value with its interval, the papers' reported
value, the verdict), tables, :class:`Figure` files with their captions and
the configs that produced them. The renderers (the HTML report, ``summary.md``,
the terminal) take parts and compute nothing. This module sits below the
experiments and imports none of them.

>>> row = fitted("slope", {"slope": -0.48, "ci_low": -0.6, "ci_high": -0.4}, -0.5)
>>> row.measured, row.interval, row.reported
('−0.48 [−0.60, −0.40]', '[−0.60, −0.40]', '≈ −0.5')
>>> row.verdict
'difference +0.02; reported value inside the 95 % interval'
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

__all__ = [
    "Comparison",
    "Figure",
    "Part",
    "ReadFile",
    "against",
    "captioned",
    "fitted",
    "markdown",
    "number",
    "ratio",
    "record_config",
    "with_interval",
]

ReadFile = Callable[[str], bytes]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of a section's table: a quantity, symscape's value, the papers' value."""

    quantity: str
    measured: str
    reported: str = "—"
    comparison: str = ""
    interval: str = ""  # the measured value's interval, ``[low, high]`` (also in ``measured``)

    @property
    def verdict(self) -> str:
        """How the measured value compares with the reported one (``comparison``)."""
        return self.comparison


@dataclasses.dataclass(frozen=True)
class Figure:
    """A PNG written by the section (a path relative to the results folder) and its caption."""

    path: str
    caption: str


@dataclasses.dataclass
class Part:
    """One section of the report."""

    key: str
    title: str
    question: str
    comparisons: list[Comparison] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    configs: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = dataclasses.field(default_factory=list)
    small_figures: bool = False  # previews: drawn side by side
    failure: str | None = None  # the section failed: why, on one line
    traceback: str | None = None  # ... and where its full traceback was saved


# --------------------------------------------------------------------------- formatting
def number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; ``—`` for a missing or non-finite one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}".replace("-", "−")


def with_interval(value: Any, low: Any, high: Any, digits: int = 2) -> str:
    """``value [low, high]`` with ``digits`` decimals (the interval left out when missing)."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    if low is not None and high is not None:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text.replace("-", "−")


def against(value: Any, reported: float, low: Any = None, high: Any = None) -> str:
    """The difference from a reported value, and whether the interval holds it."""
    if value is None:
        return "not measured"
    text = f"difference {value - reported:+.2f}".replace("-", "−")
    if low is not None and high is not None:
        inside = low <= reported <= high
        text += "; reported value inside the 95 % interval" if inside else "; outside the interval"
    return text


def fitted(quantity: str, fit: Mapping[str, Any] | None, reported: float | None) -> Comparison:
    """A fitted ``slope`` with its ``ci_low``/``ci_high`` beside a reported value."""
    if fit is None or fit.get("slope") is None:
        return Comparison(quantity, "no fit (too few points)", number(reported, 2))
    low, high = fit.get("ci_low"), fit.get("ci_high")
    measured = with_interval(fit["slope"], low, high)
    return Comparison(
        quantity,
        measured,
        "—" if reported is None else f"≈ {number(reported, 2)}",
        "" if reported is None else against(fit["slope"], reported, low, high),
        measured.partition(" ")[2],
    )


def ratio(value: Any, reported: float) -> str:
    if value is None or not reported:
        return "not measured"
    return f"ratio {value / reported:.3g}"


def captioned(paths: Sequence[str], captions: Mapping[str, str]) -> list[Figure]:
    """The PNGs among ``paths``, captioned by the longest matching stem suffix in ``captions``."""
    out = []
    for path in paths:
        if not path.endswith(".png"):
            continue
        stem = PurePosixPath(path).stem
        match = max((k for k in captions if stem.endswith(k)), key=len, default=None)
        out.append(Figure(path, captions[match] if match is not None else stem.replace("_", " ")))
    return out


def record_config(read: ReadFile | None, path: str | None) -> Any:
    """The ``config`` of a record file the section wrote (``None`` if it has none)."""
    if not path or read is None:
        return None
    try:
        return json.loads(read(path)).get("config")
    except (KeyError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- Markdown
def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def markdown(part: Part) -> str:
    """``part`` as a Markdown section (ends with a newline): the heading, the question,
    the table of measured and reported values, the part's own tables, its notes and
    links to its figures (paths relative to the results folder). Nothing is computed.

    >>> part = Part("x", "1. A title", "Why?", [Comparison("slope", "−0.48", "≈ −0.5", "ok")])
    >>> print(markdown(part))
    ## 1. A title
    <BLANKLINE>
    Why?
    <BLANKLINE>
    | quantity | symscape | reported | comparison |
    |---|---|---|---|
    | slope | −0.48 | ≈ −0.5 | ok |
    <BLANKLINE>
    """
    lines = [f"## {part.title}", "", part.question]
    if part.failure is not None:
        where = f" Traceback: [{part.traceback}]({part.traceback})." if part.traceback else ""
        lines += ["", f"**This section failed:** {part.failure}.{where}"]
    if part.comparisons:
        rows = [[c.quantity, c.measured, c.reported, c.comparison] for c in part.comparisons]
        lines += ["", *_markdown_table(["quantity", "symscape", "reported", "comparison"], rows)]
    for title, header, rows in part.tables:
        lines += ["", f"**{title}**", "", *_markdown_table(header, rows)]
    for note in part.notes:
        lines += ["", note]
    if part.figures:
        lines += ["", *(f"- [{f.path}]({f.path}): {f.caption}" for f in part.figures)]
    return "\n".join(lines) + "\n"
