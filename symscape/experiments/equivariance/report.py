"""The equivariant-networks section in the report.

Learning-curve exponents and equivariance errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    Comparison,
    Part,
    ReadFile,
    captioned,
    number,
    ratio,
    with_interval,
)
from symscape.experiments import registry

__all__ = ["describe", "markdown_section"]


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "equivariance",
        *registry.get("equivariance").heading,
    )
    for row in summary["rows"]:
        where = f"{row['model']}, {row['task']}"
        low, high = (row.get("exponent_ci") or [None, None])[:2]
        part.comparisons.append(
            Comparison(
                f"learning-curve exponent β (ε ∝ P^β), {where}",
                with_interval(row.get("exponent"), low, high),
            )
        )
        if row["model"] == "equivariant":
            part.comparisons.append(
                Comparison(
                    f"equivariance error under rotations, {where}",
                    number(row["rotation_error"], 2),
                    "≈ 1e−6 (float32)",
                    ratio(row["rotation_error"], 1e-6),
                )
            )
        else:
            part.comparisons.append(
                Comparison(
                    f"equivariance error under rotations, {where}",
                    number(row["rotation_error"], 2),
                    "not equivariant",
                )
            )
    part.figures = captioned(
        summary.get("figures", []),
        {
            task: f"The {task} task ({kind}): test error against P for the equivariant "
            "network, an MLP on the coordinates and an MLP trained with random rotations, with "
            "their fitted power laws ε ∝ P^β."
            for task, kind in (("energy", "an invariant scalar"), ("dipole", "a vector"))
        },
    )
    for config in summary.get("configs", []):
        part.configs.append((f"equivariance ({config.get('task', '')})", config))
    return part


def markdown_section(summary: Mapping[str, Any], read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: the Markdown rendering of :func:`describe`
    (:func:`symscape.comparisons.markdown`)."""
    from symscape.comparisons import markdown

    return markdown(describe(summary, read))
