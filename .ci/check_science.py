"""CI: properties the quick main job's summary.json must have, so that a broken science path
fails CI instead of writing a report with wrong numbers in it.

    python .ci/check_science.py symscape-results/summary.json

Checked (each holds at quick scale by construction or by a law with a wide margin):

* every section ran, and each of its rows that sets a value beside a paper's carries one
  of the three verdicts (agrees, differs, not testable at this scale);
* the equivariant networks are equivariant: rotation error below 1e-5 in float32;
* fully connected nets at initialisation have R_f in the papers' band around 1 [0.5, 2]
  (R_f = 1 for an untrained net, up to the inputs' smoothness);
* the perceptron control sits at Cover's capacity, P*/N within 10 % of 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from symscape.comparisons import VERDICTS
from symscape.experiments import registry


def _cases(section: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """A section's summaries: one per case (``datasets``) or the section itself."""
    cases = section.get("datasets")
    if isinstance(cases, Mapping) and cases:
        yield from cases.items()
    else:
        yield "", section


def check(summary: Mapping[str, Any], sections=None) -> list[str]:
    """The problems of ``summary`` (none: it passes); ``sections``: the registry's names to
    expect (default all)."""
    problems = []
    for failed in summary.get("failed") or []:
        problems.append(f"section {failed} failed")
    for section in registry.REGISTRY:
        if sections is not None and section.name not in sections:
            continue
        if section.name not in summary:
            problems.append(f"section {section.name} is missing from summary.json")
            continue
        part = section.describer()(summary[section.name])
        for row in part.comparisons:
            if row.reported not in ("", "—") and row.kind not in VERDICTS:
                problems.append(f"{section.name}: row {row.quantity!r} has no verdict")
    for row in summary.get("equivariance", {}).get("rows", []):
        if row.get("model") == "equivariant" and not row["rotation_error"] < 1e-5:
            problems.append(
                f"equivariance: {row['task']} rotation error {row['rotation_error']:.2e} >= 1e-5"
            )
    fc = 0
    for _, case in _cases(summary.get("stability", {})):
        for row in case.get("rows", []):
            if row["architecture"].startswith("fc"):
                fc += 1
                if not 0.5 <= row["R_init"] <= 2.0:
                    problems.append(
                        f"stability: {row['architecture']} R_f at init {row['R_init']:.3g} "
                        "outside [0.5, 2]"
                    )
    if fc == 0:
        problems.append("stability: no fully connected net measured")
    ratios = []
    for name, case in _cases(summary.get("jamming", {})):
        for point in (case.get("control") or {}).get("ratios", []):
            ratios.append(point["ratio"])
            if not abs(point["ratio"] / 2 - 1) <= 0.1:
                problems.append(
                    f"jamming {name}: perceptron P*/N = {point['ratio']:.3g} at N = "
                    f"{point['N']}, not within 10 % of 2"
                )
    if not ratios:
        problems.append("jamming: no perceptron control measured")
    return problems


def main(path: str) -> int:
    with open(path) as fh:
        summary = json.load(fh)
    problems = check(summary)
    for problem in problems:
        print(f"ci: science check: {problem}", file=sys.stderr)
    if not problems:
        print("ci: science checks passed (verdicts, equivariance, R_f at init, Cover's 2N)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
