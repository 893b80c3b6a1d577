"""The Markdown rendering of a report :class:`~symscape.comparisons.Part` (``summary.md``).

The same part the HTML page shows: the heading, the question, the table of
measured and reported values, the section's own tables, its notes and links
to its figures (paths relative to the results folder). Nothing is computed.

>>> from symscape.comparisons import Comparison, Part
>>> part = Part("x", "1. A title", "A question?", [Comparison("slope", "−0.48", "≈ −0.5", "ok")])
>>> print(markdown(part))
## 1. A title
<BLANKLINE>
A question?
<BLANKLINE>
| quantity | symscape | reported | comparison |
|---|---|---|---|
| slope | −0.48 | ≈ −0.5 | ok |
<BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Sequence

from symscape.comparisons import Part

__all__ = ["markdown"]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def markdown(part: Part) -> str:
    """``part`` as a Markdown section (ends with a newline)."""
    lines = [f"## {part.title}", "", part.question]
    if part.failure is not None:
        where = f" Traceback: [{part.traceback}]({part.traceback})." if part.traceback else ""
        lines += ["", f"**This section failed:** {part.failure}.{where}"]
    if part.comparisons:
        rows = [[c.quantity, c.measured, c.reported, c.comparison] for c in part.comparisons]
        lines += ["", *_table(["quantity", "symscape", "reported", "comparison"], rows)]
    for title, header, rows in part.tables:
        lines += ["", f"**{title}**", "", *_table(header, rows)]
    for note in part.notes:
        lines += ["", note]
    if part.figures:
        lines += ["", *(f"- [{f.path}]({f.path}): {f.caption}" for f in part.figures)]
    return "\n".join(lines) + "\n"
