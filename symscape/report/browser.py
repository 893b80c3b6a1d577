"""Look at a report as a person would: headless Chromium loads it, we read what it saw.

:func:`check_page` opens an HTML file in headless Chromium (Debian's
``chromium`` package; ``$SYMSCAPE_CHROMIUM`` names another binary) with a
probe script appended, and returns what the page held once loaded: every
image with its natural and displayed size, the tables, the resources the
page fetched and every attribute or stylesheet that refers to anything but
the page itself (``data:`` URIs and ``#anchors``). Optionally it also takes
a screenshot. Used by the tests and by CI on the main job's report::

    python -m symscape.report.browser symscape-results/report.html --screenshot shot.png
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html import unescape
from pathlib import Path
from typing import Any

from symscape.errors import DataNotFoundError, SymscapeError

__all__ = ["check_page", "find_chromium", "problems"]

# headless, no sandbox (CI runs as root), and none of the background traffic a
# browser starts on its own: the page is the only thing that could reach out
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

_PROBE = """<script>
window.addEventListener("load", () => {
  const local = (v) => !v || v.startsWith("data:") || v.startsWith("#");
  const external = [];
  for (const el of document.querySelectorAll("*")) {
    for (const name of ["src", "href", "srcset", "action", "poster", "data", "background"]) {
      const v = el.getAttribute(name);
      if (v !== null && !local(v.trim())) external.push(el.tagName + "[" + name + "]=" + v);
    }
    const style = el.getAttribute("style") || "";
    if (/url\\(/i.test(style)) external.push(el.tagName + "[style]=" + style);
  }
  for (const sheet of document.querySelectorAll("style, link")) {
    const text = sheet.textContent || "";
    if (sheet.tagName === "LINK" || /url\\(|@import/i.test(text)) {
      external.push(sheet.tagName + ": " + (sheet.getAttribute("href") || text.slice(0, 80)));
    }
  }
  const images = [...document.images].map((img) => {
    const box = img.getBoundingClientRect();
    return {alt: img.alt, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
            shown: [Math.round(box.width), Math.round(box.height)]};
  });
  const tables = [...document.querySelectorAll("table")].map((t) => ({
    cls: t.className, rows: t.querySelectorAll("tbody tr").length}));
  const resources = performance.getEntriesByType("resource").map((e) => e.name);
  const sections = [...document.querySelectorAll("section")].map((s) => s.id);
  const missing = [...document.querySelectorAll(".missing")].map((m) => m.textContent);
  const failed = [...document.querySelectorAll("section .failure")].map(
    (f) => f.closest("section").id);
  const report = {images, tables, resources, external, sections, missing, failed,
                  scripts: document.scripts.length - 1, title: document.title};
  document.body.setAttribute("data-symscape-check", JSON.stringify(report));
});
</script>"""


def find_chromium() -> str | None:
    """The Chromium binary: ``$SYMSCAPE_CHROMIUM``, else ``chromium`` (or its other names)."""
    named = os.environ.get("SYMSCAPE_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(chromium: str, args: list[str], profile: str, timeout: float) -> str:
    command = [chromium, *_FLAGS, f"--user-data-dir={profile}", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SymscapeError(f"Chromium did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise SymscapeError(f"Chromium failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def check_page(
    path: str | os.PathLike,
    screenshot: str | os.PathLike | None = None,
    width: int = 1200,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """What headless Chromium saw of the page at ``path`` (see the module's docstring).

    Returns a dict: ``images`` (``alt``, ``complete``, ``natural`` and ``shown``
    sizes), ``tables`` (``cls`` and body ``rows``), ``resources`` (what the
    page fetched), ``external`` (references to anything outside the page),
    ``sections`` (their ids), ``missing`` (the texts of elements of class
    ``missing``: figures the report could not embed), ``scripts`` (the page's
    own) and ``title``;
    plus ``text_urls``, the ``http(s)://`` addresses in the page's source.
    With ``screenshot``, a PNG of the page's top ``width × 4 width`` pixels.
    """
    chromium = find_chromium()
    if chromium is None:
        raise DataNotFoundError(
            "no Chromium found to render the page",
            fix="install Debian's chromium package, or set $SYMSCAPE_CHROMIUM to a binary",
        )
    page = Path(path)
    html = page.read_text(encoding="utf-8")
    if "</body>" not in html:
        raise SymscapeError(f"{page} is not an HTML page with a body")
    with tempfile.TemporaryDirectory(prefix="symscape-browser-") as folder:
        probe = Path(folder) / "page.html"
        at = html.rindex("</body>")
        probe.write_text(html[:at] + _PROBE + html[at:], encoding="utf-8")
        dom = _run(
            chromium,
            ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            str(Path(folder) / "profile"),
            timeout,
        )
        found = re.search(r'data-symscape-check="([^"]*)"', dom)
        if found is None:
            raise SymscapeError("the page's probe did not run: Chromium never finished loading it")
        report = json.loads(unescape(found.group(1)))
        if screenshot is not None:
            target = Path(screenshot).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            _run(
                chromium,
                [
                    f"--window-size={width},{4 * width}",
                    f"--screenshot={target}",
                    page.resolve().as_uri(),
                ],
                str(Path(folder) / "profile-shot"),
                timeout,
            )
    report["text_urls"] = sorted(set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'<>]*", html)))
    return report


def problems(report: dict[str, Any]) -> list[str]:
    """What a reader would find wrong in the page :func:`check_page` saw (empty if nothing)."""
    out = []
    for image in report["images"]:
        if not image["complete"] or min(image["natural"]) <= 0:
            out.append(f"figure not loaded: {image['alt'][:60]!r}")
        elif min(image["shown"]) <= 0:
            out.append(f"figure shown with zero size: {image['alt'][:60]!r}")
    for text in report.get("missing", []):
        out.append(f"the page says a figure is missing: {text[:80]!r}")
    for section in report.get("failed", []):
        out.append(f"the page shows section {section!r} as failed")
    if not report["tables"]:
        out.append("no table on the page")
    if report["resources"]:
        out.append(
            f"the page fetched {len(report['resources'])} resource(s): {report['resources'][:3]}"
        )
    if report["external"]:
        out.append(f"references outside the page: {report['external'][:3]}")
    if report["text_urls"]:
        out.append(f"network addresses in the page: {report['text_urls'][:3]}")
    if report["scripts"]:
        out.append(f"the page has {report['scripts']} script(s) of its own")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument(
        "--expect",
        default="",
        help="comma-separated section ids the page must have (e.g. jamming,stability)",
    )
    args = parser.parse_args(argv)
    try:
        report = check_page(args.page, args.screenshot)
    except SymscapeError as err:
        print(f"browser check: error: {err}", file=sys.stderr)
        return 2
    found = problems(report)
    expected = [name for name in args.expect.split(",") if name]
    missing = [name for name in expected if name not in report["sections"]]
    if missing:
        found.append(f"sections missing: {', '.join(missing)}")
    images = report["images"]
    print(
        f"browser check of {args.page}: {len(report['sections'])} sections, "
        f"{sum(i['complete'] and min(i['natural']) > 0 for i in images)} of {len(images)} "
        "figures loaded, "
        f"{len(report['tables'])} tables, {len(report['resources'])} fetched resources"
    )
    for problem in found:
        print(f"  problem: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
