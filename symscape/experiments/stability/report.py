"""The relative-stability section in the report.

R_f at initialisation and after training, the law ε = a R_f^b.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    Comparison,
    Part,
    ReadFile,
    against,
    captioned,
    number,
    ratio,
    record_config,
)
from symscape.experiments import registry

__all__ = ["describe"]


STABILITY_CAPTIONS = {
    "error_vs_stability": "Test error against the relative stability R_f (left, with the fit "
    "and the reported ε ≈ 0.2 √R_f) and against D_f alone (right), one point per "
    "architecture.",
    "sensitivity_curves": "D_f, G_f and R_f against the typical displacement δ, at "
    "initialisation and after training.",
    "layers": "R_f layer by layer, at initialisation and after training, per architecture.",
    "gallery": "Examples: images, their random diffeomorphisms and the noise of the same norm.",
}


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "stability",
        *registry.get("stability").heading,
    )
    for row in summary["rows"]:
        part.comparisons.append(
            Comparison(
                f"R_f at initialisation, {row['architecture']}",
                number(row["R_init"]),
                "≈ 1",
                ratio(row["R_init"], 1.0),
            )
        )
    for row in summary["rows"]:
        change = row["R_trained"] / row["R_init"] if row["R_init"] else None
        cnn = not row["architecture"].startswith("fc")
        part.comparisons.append(
            Comparison(
                f"R_f after training / at initialisation, {row['architecture']}",
                number(change),
                "≪ 1 for state-of-the-art CNNs" if cnn else "not much below 1 for FC nets",
                "" if change is None else ("falls" if change < 1 else "rises"),
            )
        )
    fit, law = summary["fit"], summary["reported"]
    if fit.get("a") is not None:
        part.comparisons += [
            Comparison(
                f"exponent b of ε = a R_f^b ({fit['n_points']} architectures)",
                number(fit["b"]),
                number(law["b"]),
                against(fit["b"], law["b"]),
            ),
        ]
        # a is comparable with the reported one only at the reported exponent: refit a alone
        pairs = [(r["test_error"], r["R_trained"]) for r in summary["rows"]]
        pairs = [(e, R) for e, R in pairs if e and R and e > 0 and R > 0]
        if pairs:
            b = law["b"]
            a = math.exp(sum(math.log(e) - b * math.log(R) for e, R in pairs) / len(pairs))
            part.comparisons.append(
                Comparison(
                    f"prefactor a of ε = a R_f^{number(b)} (exponent fixed at the reported one; "
                    f"{summary['dataset']}, not CIFAR10)",
                    number(a),
                    f"{number(law['a'])} (CIFAR10)",
                    ratio(a, law["a"]),
                )
            )
    else:
        part.comparisons.append(Comparison("ε = a R_f^b", f"no fit ({fit.get('reason', '')})"))
    corr = summary.get("correlation_with_log_error") or {}
    if corr:
        part.comparisons.append(
            Comparison(
                "correlation of ln ε with ln R_f / with ln D_f",
                f"{number(corr.get('log_R'), 2)} / {number(corr.get('log_D'), 2)}",
                "strong / poor",
            )
        )
    part.tables.append(
        (
            f"Per architecture ({summary['dataset']}, δ = {number(summary['reference_delta'])} px)",
            ["architecture", "parameters", "test error", "R_f init", "R_f trained", "D_f", "G_f"],
            [
                [
                    r["architecture"],
                    str(r["n_parameters"]),
                    number(r["test_error"]),
                    number(r["R_init"]),
                    number(r["R_trained"]),
                    number(r["D_trained"]),
                    number(r["G_trained"]),
                ]
                for r in summary["rows"]
            ],
        )
    )
    part.figures = captioned(summary.get("figures", []), STABILITY_CAPTIONS)
    part.configs.append(("stability", record_config(read, summary.get("record"))))
    return part
