"""What a result says next to the papers: the value types every experiment's ``describe`` returns.

An experiment's ``describe(summary, read)`` turns the summary its section
stored into a :class:`Part`: its question, :class:`Comparison` rows (a
quantity, symscape's measured value with its interval, the papers' reported
value, the verdict), tables, :class:`Figure` files with their captions and
the configs that produced them. The renderers (the HTML report, ``summary.md``,
the terminal) take parts and compute nothing. This module sits below the
experiments and imports none of them.

Every row that sets a measured value beside a paper's carries one of three
verdicts (SCIENCE.md §0): *agrees* (the reported value lies inside the
measured 95 % interval), *differs* (outside it, with the difference) or *not
testable at this scale* (with the reason: too few points, an interval that
cannot tell the law from no effect, a difference within the statistical floor).

>>> row = fitted("slope", {"slope": -0.48, "ci_low": -0.6, "ci_high": -0.4}, -0.5)
>>> row.measured, row.interval, row.reported
('−0.48 [−0.60, −0.40]', '[−0.60, −0.40]', '≈ −0.5')
>>> row.kind, row.verdict
('agrees', 'agrees: difference +0.02, inside the 95 % interval')
>>> judge(0.9, 0.5, 0.8, 1.0).kind
'differs'
>>> judge(0.1, 0.5, -0.4, 0.7, null=0.0).kind  # holds the law and no effect alike
'not testable at this scale'
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

__all__ = [
    "AGREES",
    "DIFFERS",
    "NOT_TESTABLE",
    "VERDICTS",
    "Comparison",
    "Figure",
    "Part",
    "ReadFile",
    "Verdict",
    "against",
    "captioned",
    "fitted",
    "judge",
    "judged",
    "markdown",
    "number",
    "ratio",
    "record_config",
    "verdict_counts",
    "with_interval",
]

ReadFile = Callable[[str], bytes]

AGREES = "agrees"
DIFFERS = "differs"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (AGREES, DIFFERS, NOT_TESTABLE)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a measured interval says about a reported value: ``kind`` (one of
    :data:`VERDICTS`) and ``reason`` (the difference, or why it cannot be tested)."""

    kind: str
    reason: str

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise ValueError(f"a verdict is one of {VERDICTS}, not {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


def _finite(*values: Any) -> bool:
    return all(v is not None and isinstance(v, int | float) and math.isfinite(v) for v in values)


def judge(
    value: Any,
    reported: float | tuple[float, float],
    low: Any,
    high: Any,
    *,
    null: float | None = None,
    floor: float | None = None,
    untestable: str | None = None,
    digits: int = 2,
) -> Verdict:
    """The verdict of a measured ``value`` with 95 % interval ``[low, high]`` on a
    ``reported`` value (a number, or a reported range ``(lo, hi)``).

    * ``untestable``: a reason known beforehand (too few points, ...): not testable.
    * no value or no interval: not testable.
    * ``null``: the value of "no effect" (a slope 0, a ratio 1). An interval that
      holds both the reported value and the null cannot tell them apart: not
      testable ("interval wider than the effect").
    * ``floor``: the statistical floor of a difference (e.g. the sampling standard
      deviation of a test error, √(ε(1−ε)/n)); a measured ``value`` within
      two floors of zero cannot be told from nothing: not testable.
    * otherwise *agrees* when the reported value (range) meets the interval,
      *differs* when it does not, with the difference.
    """
    if untestable:
        return Verdict(NOT_TESTABLE, untestable)
    if not _finite(value):
        return Verdict(NOT_TESTABLE, "not measured")
    if not _finite(low, high):
        return Verdict(NOT_TESTABLE, "no interval (too few points)")
    lo_rep, hi_rep = reported if isinstance(reported, tuple) else (reported, reported)
    fmt = f"{{:.{digits}g}}" if abs(value) >= 10 ** (-digits) or value == 0 else "{:.2e}"

    def show(x: float) -> str:
        return fmt.format(x).replace("-", "−")

    if floor is not None and abs(value) <= 2 * floor:
        return Verdict(
            NOT_TESTABLE,
            f"{show(value)} is within the statistical floor (2 × {show(floor)})",
        )
    if null is not None and low <= null <= high and low <= hi_rep and lo_rep <= high:
        return Verdict(
            NOT_TESTABLE,
            f"the interval [{show(low)}, {show(high)}] holds both the reported value "
            f"and {show(null)} (no effect)",
        )
    if low <= hi_rep and lo_rep <= high:
        if lo_rep == hi_rep:
            diff = f"difference {value - lo_rep:+.{digits}f}".replace("-", "−")
            return Verdict(AGREES, f"{diff}, inside the 95 % interval")
        return Verdict(AGREES, "the reported range meets the 95 % interval")
    nearest = lo_rep if value < lo_rep else hi_rep
    diff = f"difference {value - nearest:+.{digits}f}".replace("-", "−")
    return Verdict(DIFFERS, f"{diff}, outside the 95 % interval")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of a section's table: a quantity, symscape's value, the papers' value
    and, where a value is reported, the :class:`Verdict` (``kind`` and ``comparison``)."""

    quantity: str
    measured: str
    reported: str = "—"
    comparison: str = ""
    interval: str = ""  # the measured value's interval, ``[low, high]`` (also in ``measured``)
    kind: str = ""  # the verdict's kind (one of VERDICTS) when a value is reported

    @property
    def verdict(self) -> str:
        """How the measured value compares with the reported one (``comparison``)."""
        return self.comparison


def judged(
    quantity: str, measured: str, reported: str, verdict: Verdict, interval: str = ""
) -> Comparison:
    """A row whose comparison is ``verdict``."""
    return Comparison(quantity, measured, reported, str(verdict), interval, verdict.kind)


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


def fitted(
    quantity: str,
    fit: Mapping[str, Any] | None,
    reported: float | None,
    *,
    null: float | None = None,
    untestable: str | None = None,
) -> Comparison:
    """A fitted ``slope`` with its ``ci_low``/``ci_high`` beside a reported value,
    judged by :func:`judge` (``null``, ``untestable`` as there)."""
    rep = "—" if reported is None else f"≈ {number(reported, 2)}"
    if fit is None or fit.get("slope") is None:
        if reported is None:
            return Comparison(quantity, "no fit (too few points)", rep)
        why = untestable or (fit or {}).get("reason") or "no fit (too few points)"
        return judged(quantity, "no fit", rep, Verdict(NOT_TESTABLE, why))
    low, high = fit.get("ci_low"), fit.get("ci_high")
    measured = with_interval(fit["slope"], low, high)
    interval = measured.partition(" ")[2]
    if reported is None:
        return Comparison(quantity, measured, rep, "", interval)
    verdict = judge(fit["slope"], reported, low, high, null=null, untestable=untestable)
    return judged(quantity, measured, rep, verdict, interval)


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


def verdict_counts(rows: Sequence[Comparison]) -> str:
    """How many ``rows`` agree, differ or are not testable (``""`` when none is judged).

    >>> verdict_counts([judged("a", "1", "1", judge(1, 1, 0, 2)), Comparison("b", "2")])
    '1 agrees'
    """
    counts = [(kind, sum(row.kind == kind for row in rows)) for kind in VERDICTS]
    return " · ".join(f"{n} {kind}" for kind, n in counts if n)


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
    | quantity | symscape | reported | verdict |
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
        lines += ["", *_markdown_table(["quantity", "symscape", "reported", "verdict"], rows)]
        if counts := verdict_counts(part.comparisons):
            lines += ["", f"Verdicts: {counts}."]
    for title, header, rows in part.tables:
        lines += ["", f"**{title}**", "", *_markdown_table(header, rows)]
    for note in part.notes:
        lines += ["", note]
    if part.figures:
        lines += ["", *(f"- [{f.path}]({f.path}): {f.caption}" for f in part.figures)]
    return "\n".join(lines) + "\n"
