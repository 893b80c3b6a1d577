"""The feature-vs-lazy section in the report.

Α*(h) and its exponent, the output variance, the better regime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    Comparison,
    Part,
    ReadFile,
    against,
    captioned,
    fitted,
    number,
    record_config,
)
from symscape.experiments import registry

__all__ = ["describe"]


LAZY_CAPTIONS = {
    "kernel_change": "Kernel change ‖Θ_T − Θ₀‖/‖Θ₀‖ against α (left, × marks α*) and against "
    "α√h (right), one curve per width: the curves collapse, α* ∝ 1/√h.",
    "test_error": "Test error against α per width (dashed: ensemble average; dotted: the "
    "frozen-kernel flow, the α → ∞ limit).",
    "crossover": "α*(h) with its fitted power law next to the reported h^−1/2, and the output "
    "variance over initialisations against h.",
    "phase_diagram": "The (h, α) phase diagram: test error as colour, the crossover α*(h) and, "
    "where it was located, the jamming line h* (under-parametrised side shaded); hatched "
    "cells: fewer than half of the seeds fitted within the step budget.",
}


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "feature_lazy",
        *registry.get("feature_lazy").heading,
    )
    for one in summary["protocols"]:
        where = f" ({one['dataset']}, {one['arch']}, P = {one['P']})"
        fit = one.get("alpha_star_fit")
        reported = one["reported"]["alpha_star_exponent"]
        row = fitted(f"exponent b of α* ~ h^b{where}", fit, reported)
        if fit is not None:
            row = dataclasses.replace(
                row, measured=row.measured + f" over {fit['n_widths']} widths"
            )
            if fit["n_widths"] < 3:
                row = dataclasses.replace(row, comparison="too few widths to test it")
        part.comparisons.append(row)
        codes = [c["alpha_star_code"] for c in one["crossover"] if c.get("alpha_star_code")]
        if codes:
            mean = sum(codes) / len(codes)
            spread = (max(codes) - min(codes)) / 2 / mean
            part.comparisons.append(
                Comparison(
                    f"α*·√h over the widths{where}",
                    f"{mean:.3g} ± {100 * spread:.0f} %",
                    "constant",
                )
            )
        variance = one.get("variance_fit")
        if variance and variance.get("slope") is not None:
            part.comparisons.append(
                Comparison(
                    f"slope of the output variance against h at α = "
                    f"{number(variance['alpha'])}{where}",
                    number(variance["slope"], 2),
                    "−1",
                    against(variance["slope"], -1.0),
                )
            )
        regime = one.get("regime")
        if regime:
            expected = "lazy (FC nets)" if one["arch"] == "fc" else "feature (CNNs)"
            part.comparisons.append(
                Comparison(
                    f"better regime at h = {number(regime['width'])}{where}",
                    f"{regime['better']} (feature {regime['feature_error']:.3f}, lazy "
                    f"{regime['lazy_error']:.3f})",
                    expected,
                    "agrees" if expected.startswith(regime["better"]) else "differs",
                )
            )
        jam = one.get("jamming")
        if jam and jam.get("N_star") is not None:
            part.comparisons.append(
                Comparison(
                    f"jamming line{where}", f"N* = {jam['N_star']:.0f}, h* = {jam['h_star']:.2f}"
                )
            )
        part.figures += captioned(one.get("figures", []), LAZY_CAPTIONS)
        part.configs.append((one["name"], record_config(read, one.get("record"))))
    part.notes.append(
        "α is in the article's convention; α·√h is the code convention of the other "
        "published implementation. On the stripe model the feature regime generalising "
        "better is the model's known preference, not a contradiction of the FC result on "
        "real data."
    )
    return part
