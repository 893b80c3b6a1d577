"""The double-descent section in the report.

The cusp at N*, the ensemble average, the N^−1/4 and N^−1/2 fits.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    Comparison,
    Part,
    ReadFile,
    captioned,
    fitted,
    number,
    record_config,
)
from symscape.experiments import registry

__all__ = ["describe", "markdown_section"]


DESCENT_CAPTIONS = {
    "error": "Test error against N/N*: single networks at the end of training (with the cusp "
    "at N*), the ensemble-averaged predictor f̄ (no cusp) and oracle early stopping.",
    "fluctuations": "Against N: the fluctuation ‖f_N − f̄_N‖ (it peaks at the transition) and "
    "the excess error ε_N − ε̄_N that the ensemble average removes, with their power laws "
    "fitted beyond N* and the reported slopes.",
}


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "double_descent",
        *registry.get("double_descent").heading,
    )
    points = summary["points"]
    N_star = summary["N_star"]
    part.comparisons.append(
        Comparison(
            "N* (first width where at least half of the seeds fitted)",
            "not reached" if N_star is None else str(N_star),
        )
    )
    below = [p["N"] for p in points if N_star is not None and p["N"] < N_star]

    def where(n: int) -> str:
        """Where the net of ``n`` weights sits relative to the transition."""
        if N_star is None:
            return "no N* to compare with"
        if n == N_star:
            return "at N*"
        if below and n == max(below):
            return "at the last width below N*"
        return f"away from N* (N/N* = {n / N_star:.2f})"

    peak = max(points, key=lambda p: p["test_error"])
    part.comparisons.append(
        Comparison(
            "largest end-of-training test error (the cusp)",
            f"{peak['test_error']:.3f} at N = {peak['N']}",
            "at N ≈ N*",
            where(peak["N"]),
        )
    )
    worse = [p["N"] for p in points if p["ensemble_test_error"] > p["test_error"]]
    part.comparisons.append(
        Comparison(
            "ensemble test error ≤ mean single-network test error",
            f"at {len(points) - len(worse)} of {len(points)} widths",
            "at every width",
            "holds" if not worse else f"fails at N = {', '.join(map(str, worse))}",
        )
    )
    if points and all(p.get("early_stopping_error") is not None for p in points):

        def largest_rise(key: str) -> float:
            values = [p[key] for p in points]
            return max([0.0, *(b - a for a, b in itertools.pairwise(values))])

        early, end = largest_rise("early_stopping_error"), largest_rise("test_error")
        part.comparisons.append(
            Comparison(
                "largest rise of the test error from one width to the next: early stopping "
                "(end of training)",
                f"{early:.3f} ({end:.3f})",
                "none with early stopping (it removes the cusp)",
                "cusp removed" if early <= 0.25 * end else "a rise remains",
            )
        )
    norm = max(points, key=lambda p: p.get("output_norm") or 0)
    if norm.get("output_norm") is not None:
        part.comparisons.append(
            Comparison(
                "largest output norm ‖f_N‖",
                f"{norm['output_norm']:.3g} at N = {norm['N']}",
                "diverges at N* (α ≈ 1)",
                where(norm["N"]),
            )
        )
    labels = {
        "fluctuation": "exponent of ‖f_N − f̄_N‖ against N",
        "error_gap": "exponent of ε_N − ε̄_N against N",
    }
    for key, fit in summary["fits"].items():
        part.comparisons.append(fitted(labels.get(key, key), fit, summary["reported"].get(key)))
    part.figures = captioned(summary.get("figures", []), DESCENT_CAPTIONS)
    part.configs.append(("double descent", record_config(read, summary.get("record"))))
    part.tables.append(
        (
            "Per width",
            ["N", "fitted", "test error", "ensemble", "early stopping", "‖f − f̄‖", "‖f‖"],
            [
                [
                    str(p["N"]),
                    number(p["fitted"], 2),
                    number(p["test_error"]),
                    number(p["ensemble_test_error"]),
                    number(p.get("early_stopping_error")),
                    number(p["fluctuation"]),
                    number(p.get("output_norm")),
                ]
                for p in points
            ],
        )
    )
    return part


def markdown_section(summary: Mapping[str, Any], read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: the Markdown rendering of :func:`describe`
    (:func:`symscape.comparisons.markdown`)."""
    from symscape.comparisons import markdown

    return markdown(describe(summary, read))
