"""The jamming section in the report: :func:`describe`, and its Markdown.

N*(P), the fitted line, the jammed minimum's curvature and gap exponents.
The terminal (``symscape jamming``), ``summary.md`` and the HTML report all
render the one :class:`~symscape.comparisons.Part` that :func:`describe` returns.
"""

from __future__ import annotations

import dataclasses
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


JAMMING_CAPTIONS = {
    "ndelta": "Mean fraction of unsatisfied constraints ⟨N_Δ⟩/N at the end of training "
    "against N/P, one curve per P: zero above the transition, a finite fraction below it.",
    "phase_diagram": "The (P, N) phase diagram: every width tried by the bisection (blue: all "
    "seeds fitted, red: jammed), the located N*(P) with its bracket and the fitted line.",
    "transition": "At the jammed minimum closest to N*: histograms of the gaps |Δ| on both "
    "sides (unsatisfied Δ > 0, satisfied Δ < 0) on log axes (left) and the spectrum of the "
    "Hessian H and of H₀ (right; rank H₀ in the title).",
}


def _curvature_verdict(transition: Mapping[str, Any]) -> str:
    """Is a negative eigenvalue of H a saddle, or a flat direction below the minimiser's
    curvature tolerance (1e-7 of the largest eigenvalue, ``LBFGS.curvature_tol``)?"""
    if transition["negative_H"] == 0:
        return "equal"
    lowest = transition.get("lowest_H_relative")
    if lowest is None:
        return "negative curvature"
    text = f"λ_min/λ_max = {number(lowest, 2)}"
    if abs(lowest) < 1e-7:
        return f"{text}: flat to the minimiser's curvature tolerance (1e−7)"
    return f"{text}: a saddle"


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "jamming",
        *registry.get("jamming").heading,
    )
    parts = summary.get("datasets") or {"": summary}
    for name, one in parts.items():
        where = f" ({name})" if name else ""
        for P, N in sorted(one["N_star"].items(), key=lambda kv: float(kv[0])):
            if N is None:  # no bracket: every width fitted, or none did
                outside = (one.get("outside") or {}).get(str(P))
                measured = "not located" + (f" ({outside})" if outside else "")
            else:
                low, high = one["bracket"].get(str(P), one["bracket"].get(P, [None, None]))
                measured = f"{N:.1f} [{low}, {high}]"
            part.comparisons.append(Comparison(f"N* at P = {P}{where}", measured))
        line = one.get("line")
        if line:
            stderr = line.get("slope_stderr")
            part.comparisons.append(
                Comparison(
                    f"slope of ln N* against ln P{where}",
                    number(line["slope"]) + (f" ± {number(stderr, 2)}" if stderr else ""),
                )
            )
        t = one.get("transition")
        if t:
            at = f" (N = {t['N']}, P = {t['P']}, N_Δ = {t['n_delta']})"
            expected = min(t["N"], t["n_delta"])
            part.comparisons.append(
                Comparison(
                    f"rank of H₀ at the jammed minimum{at}{where}",
                    str(t["rank_H0"]),
                    f"min(N, N_Δ) = {expected} (exact)",
                    "equal"
                    if t["rank_H0"] == expected
                    else f"differs by {t['rank_H0'] - expected}"
                    + (
                        f" (smallest eigenvalue of H₀ over its largest: "
                        f"{number(t['smallest_H0_relative'], 2)}: nearly flat directions)"
                        if t.get("smallest_H0_relative") is not None
                        else ""
                    ),
                )
            )
            part.comparisons.append(
                Comparison(
                    f"negative eigenvalues of H at that minimum{where}",
                    str(t["negative_H"]),
                    "0 at a minimum",
                    _curvature_verdict(t),
                )
            )
            gaps = t.get("gap_exponents") or {}
            reported = gaps.get("reported", {})
            for key, symbol in (("theta", "θ"), ("gamma", "γ")):
                fit = gaps.get(key)
                if not fit:
                    continue
                drift = ", ".join(number(v, 2) for v in fit.get("drift", {}).values())
                row = fitted(
                    f"gap exponent {symbol} ({fit['n']} gaps from {gaps['minima']} minima; "
                    f"drift over the smallest 10/25/50 %: {drift})",
                    {**fit, "slope": fit["value"]},
                    reported.get(key),
                )
                part.comparisons.append(
                    dataclasses.replace(row, reported=row.reported + " (uncertain)")
                )
        part.figures += captioned(one.get("figures", []), JAMMING_CAPTIONS)
        part.configs.append((f"jamming{where}", record_config(read, one.get("record"))))
    part.notes.append(
        "The gap exponents need thousands of gaps from several jammed minima (the paper "
        "scale); at quick scale the drift of the estimate with the fitted fraction shows how "
        "little the few gaps of one minimum pin them down."
    )
    return part


def markdown_section(summary: Mapping[str, Any], read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: :func:`describe`'s part rendered by
    :func:`symscape.comparisons.markdown` (the one Markdown renderer)."""
    from symscape.comparisons import markdown

    return markdown(describe(summary, read))
