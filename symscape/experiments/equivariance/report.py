"""The equivariant-networks section in the report.

Learning-curve exponents and equivariance errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
    AGREES,
    DIFFERS,
    NOT_TESTABLE,
    Comparison,
    Part,
    ReadFile,
    Verdict,
    captioned,
    judged,
    number,
    with_interval,
)
from symscape.experiments import registry

__all__ = ["describe", "markdown_section", "rounding_verdict"]

ROUNDING_BOUND = 1e-5  # float32: an error of rounding, tens of ulps of an O(1) output


def rounding_verdict(error: float | None, bound: float = ROUNDING_BOUND) -> Verdict:
    """An equivariance error at the level of float32 rounding (reported ≈ 1e-6) agrees: it is
    an exact symmetry up to rounding; an error above ``bound`` is a broken symmetry.

    >>> rounding_verdict(3e-7).kind, rounding_verdict(0.02).kind
    ('agrees', 'differs')
    """
    if error is None:
        return Verdict(NOT_TESTABLE, "not measured")
    if error <= bound:
        return Verdict(AGREES, f"below {bound:g}, the float32 rounding level")
    return Verdict(DIFFERS, f"{error:.2g} is above {bound:g}: the symmetry is broken")


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
                judged(
                    f"equivariance error under rotations, {where}",
                    number(row["rotation_error"], 2),
                    "≈ 1e−6 (float32)",
                    rounding_verdict(row["rotation_error"]),
                )
            )
        else:
            error = row["rotation_error"]
            part.comparisons.append(
                judged(
                    f"equivariance error under rotations, {where}",
                    number(error, 2),
                    "not equivariant",
                    Verdict(NOT_TESTABLE, "not measured")
                    if error is None
                    else Verdict(AGREES, f"above {ROUNDING_BOUND:g}: not a symmetry of the model")
                    if error > ROUNDING_BOUND
                    else Verdict(DIFFERS, f"{error:.2g}: equivariant up to rounding"),
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
