"""The report's HTML: one page, its styles inline, its figures as ``data:`` URIs."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from symscape.comparisons import verdict_counts
from symscape.report.sections import Part

__all__ = ["render"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { margin-top: 2.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.9em; color: #444; }
.small figure { display: inline-block; width: 48%; vertical-align: top; margin-right: 1%; }
.question { font-style: italic; } .meta { color: #555; font-size: 0.9em; }
.missing { color: #a00; }
.failure { border: 2px solid #b00; background: #fff2f2; padding: 0.6em 1em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "", markup: bool = False
) -> str:
    """A table of ``rows``; their cells escaped unless ``markup`` (cells already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if markup else escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds")


def _part(part: Part, entry: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    cls = ' class="small"' if part.small_figures else ""
    html = [f'<section id="{escape(part.key)}"{cls}><h2>{escape(part.title)}</h2>']
    html.append(f'<p class="question">{escape(part.question)}</p>')
    wall = entry.get("wall_s")
    state = "failed" if part.failure is not None else "finished"
    html.append(
        f'<p class="meta">scale {escape(entry["scale"])} · symscape {escape(entry["version"])}'
        f" · {state} {_when(entry['finished'])}"
        + (f" · wall time {wall:.1f} s" if wall is not None else "")
        + "</p>"
    )
    if part.failure is not None:
        where = (
            f" The full traceback is in <code>{escape(part.traceback)}</code> in the results "
            "folder."
            if part.traceback
            else ""
        )
        html.append(
            f'<div class="failure"><p><strong>This section failed:</strong> '
            f"{escape(part.failure)}.{where}</p><p>Run the same <code>symscape reproduce</code> "
            "command again once the cause is fixed: it retries this section and its failed runs, "
            "and keeps every run and section that finished.</p></div>"
        )
    if part.comparisons:
        html.append("<h3>Measured and reported</h3>")
        html.append(
            _table(
                ["quantity", "symscape", "reported", "verdict"],
                [[c.quantity, c.measured, c.reported, c.comparison] for c in part.comparisons],
                "comparisons",
            )
        )
    for title, header, rows in part.tables:
        html.append(f"<h3>{escape(title)}</h3>")
        html.append(_table(header, rows))
    for note in part.notes:
        html.append(f"<p>{escape(note)}</p>")
    for figure in part.figures:
        data = images.get(figure.path)
        if data is None:
            html.append(f'<p class="missing">figure {escape(figure.path)} is not in the store</p>')
            continue
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        html.append(
            f'<figure><img src="{uri}" alt="{escape(figure.caption)}">'
            f"<figcaption>{escape(figure.caption)} <code>{escape(figure.path)}</code>"
            "</figcaption></figure>"
        )
    configs = [(label, config) for label, config in part.configs if config is not None]
    if configs:
        html.append("<details><summary>Configs</summary>")
        for label, config in configs:
            text = json.dumps(config, indent=1, ensure_ascii=False)
            html.append(f"<p>{escape(label)}</p><pre>{escape(text)}</pre>")
        html.append("</details>")
    html.append("</section>")
    return "\n".join(html)


def render(parts: Sequence[tuple[Part, Mapping[str, Any], Mapping[str, bytes]]]) -> str:
    """The page for ``parts``: each a :class:`Part`, its store entry (``scale``, ``version``,
    ``finished``, ``wall_s``, ``environment``) and its figures' PNG bytes by path."""
    environments = [entry["environment"] for _, entry, _ in parts if entry.get("environment")]
    env = environments[-1] if environments else {}
    scales = sorted({entry["scale"] for _, entry, _ in parts})
    total = sum(entry.get("wall_s") or 0 for _, entry, _ in parts)
    rows = []
    for part, entry, _ in parts:
        wall = entry.get("wall_s")
        rows.append(
            [
                f'<a href="#{escape(part.key)}">{escape(part.title)}</a>',
                "finished" if part.failure is None else "<strong>failed</strong>",
                escape(entry["scale"]),
                "—" if wall is None else f"{wall:.1f}",
                str(len(part.figures)),
                str(len(part.comparisons)),
                escape(verdict_counts(part.comparisons)) or "—",
            ]
        )
    versions = ", ".join(f"{k} {v}" for k, v in env.items() if k != "threads")
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>symscape reproduce — {escape(' and '.join(scales))} scale</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Loss landscape and symmetries of neural networks: symscape's reproduction</h1>",
        f'<p class="meta">{escape(" and ".join(scales))} scale · {escape(versions)}'
        f" · {total:.0f} s of computation in all</p>",
        "<p>Each part below asks one question of the thesis (M. Geiger, EPFL), shows symscape's "
        "figures, and sets its measured quantities beside the values the papers report "
        "(SCIENCE.md). symscape reproduce also writes every figure to the figures/ folder of "
        "its results (the experiments' figures as PNG and PDF).</p>",
        _table(
            ["part", "status", "scale", "wall time (s)", "figures", "comparisons", "verdicts"],
            rows,
            "contents",
            True,
        ),
    ]
    body = [_part(part, entry, images) for part, entry, images in parts]
    return "\n".join(head + body + ["</body></html>"]) + "\n"
