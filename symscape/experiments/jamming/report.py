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
    AGREES,
    DIFFERS,
    NOT_TESTABLE,
    Comparison,
    Part,
    ReadFile,
    Verdict,
    captioned,
    fitted,
    judge,
    judged,
    number,
    record_config,
    with_interval,
)
from symscape.experiments import registry
from symscape.experiments.jamming.analysis import REPORTED_GAPS

__all__ = ["describe", "markdown_section"]


JAMMING_CAPTIONS = {
    "ndelta": "Mean fraction of unsatisfied constraints ⟨N_Δ⟩/N at the end of training "
    "against N/P, one curve per P: zero above the transition, a finite fraction below it.",
    "phase_diagram": "The (P, N) phase diagram: every network tried (colour from red, no run "
    "fitted, to blue, every run fitted; squares: the P scans), N*(P) of the width bisection, "
    "P*(N) of the P scans with their brackets and fitted lines, the perceptron control "
    "(grey) and its exact capacity P = 2N (dotted).",
    "undecided": "The fitted fraction (o) and the undecided fraction (x) at every point "
    "tried, against N/P; undecided runs count as not fitted, a point above the dotted 1/4 "
    "is flagged.",
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


def _percent(values) -> str:
    return "/".join(f"{100 * v:.0f} %" for v in values) if values else "—"


# the anchors of SCIENCE.md §1: random data, the authors' ReLU nets (depth-independent)
RANDOM_RATIO = (2.8, 3.3)
PERCEPTRON_RATIO = 2.0


def _search_rows(one, where) -> list[Comparison]:
    """N*(P) of the width bisection, and its slope."""
    rows = []
    undecided = one.get("search_undecided", {})
    for P, N in sorted(one["N_star"].items(), key=lambda kv: float(kv[0])):
        if N is None:  # no bracket: every width fitted, or none did
            outside = (one.get("outside") or {}).get(str(P))
            measured = "not located" + (f" ({outside})" if outside else "")
        else:
            low, high = one["bracket"].get(str(P), one["bracket"].get(P, [None, None]))
            measured = f"{N:.1f} [{low}, {high}]"
            if str(P) in undecided:
                measured += f"; undecided at the bracket's ends {_percent(undecided[str(P)])}"
        rows.append(Comparison(f"N* at P = {P} (width bisection){where}", measured))
    line = one.get("line")
    if line:
        n = sum(v is not None for v in one["N_star"].values())
        stderr = line.get("slope_stderr")
        interval = {}
        if stderr:
            from scipy.stats import t as student

            half = float(student.ppf(0.975, n - 2)) * stderr
            interval = {"ci_low": line["slope"] - half, "ci_high": line["slope"] + half}
        rows.append(
            fitted(
                f"slope of ln N* against ln P (width bisection, {n} values of P){where}",
                {**line, **interval},
                1.0,
                null=0.0,
                untestable=f"too few points ({n} values of P)" if n < 3 else None,
            )
        )
    return rows


def _scan_rows(one, where, random) -> list[Comparison]:
    """P*(N) of the P scans, the slope of ln P* against ln N, P*/N beside the anchor."""
    rows = []
    capacity = one.get("capacity") or {}
    ratios = {r["N"]: r for r in capacity.get("ratios", [])}
    for scan in one.get("scans", []):
        at = f"P* at N = {scan['N']} (width {scan['width']:g}){where}"
        if scan["P_star"] is None:
            rows.append(Comparison(at, f"not located ({scan['outside']})"))
            continue
        r = ratios.get(scan["N"], {})
        rows.append(
            Comparison(
                at,
                f"{scan['P_star']:.1f} [{scan['bracket'][0]}, {scan['bracket'][1]}]; P*/N = "
                + with_interval(r.get("ratio"), r.get("ci_low"), r.get("ci_high"))
                + f"; undecided at the bracket's ends {_percent(scan['undecided'])}",
            )
        )
    if not capacity:
        return rows
    points = capacity["points"]
    rows.append(
        fitted(
            f"slope of ln P* against ln N ({points} networks; N* ∝ P reads slope 1){where}",
            capacity,
            1.0 if random else None,
            null=0.0,
            untestable=f"too few points ({points} networks)" if points < 3 else None,
        )
    )
    if random and capacity.get("ratios"):
        r = capacity["ratios"][-1]
        authors = one.get("authors_architecture")
        rows.append(
            judged(
                f"P*/N at the largest network (N = {r['N']}){where}",
                with_interval(r["ratio"], r["ci_low"], r["ci_high"]),
                "2.8–3.3 (N*/P ≈ 0.30–0.36; authors' ReLU nets, N ≈ 8000)",
                judge(
                    r["ratio"],
                    RANDOM_RATIO,
                    r["ci_low"],
                    r["ci_high"],
                    untestable=None
                    if authors
                    else "the anchor is for the authors' nets (ReLU, orthogonal init, "
                    "standard parametrisation, biases, d = h); this network differs",
                ),
                with_interval(r["ratio"], r["ci_low"], r["ci_high"]).partition(" ")[2],
            )
        )
    return rows


def _control_rows(one, where) -> list[Comparison]:
    """The perceptron control: P*/N against Cover's 2."""
    rows = []
    control = one.get("control") or {}
    for r in control.get("ratios", []):
        measured = with_interval(r["ratio"], r["ci_low"], r["ci_high"])
        rows.append(
            judged(
                f"P*/N of the perceptron (N = d = {r['N']}, P* = {r['P_star']:.1f}){where}",
                measured,
                "2 (exact, Cover 1965)",
                judge(r["ratio"], PERCEPTRON_RATIO, r["ci_low"], r["ci_high"]),
                measured.partition(" ")[2],
            )
        )
    for scan in one.get("controls", []):
        if scan["P_star"] is None:
            rows.append(Comparison(f"P* of the perceptron, d = {scan['d']}{where}", "not located"))
    return rows


def _gap_rows(gaps, where) -> list[Comparison]:
    """θ and γ from the pooled gaps, or why they cannot be told at this scale."""
    if not gaps:
        return []
    rows = []
    pooled = (
        f"{gaps['minima']} jammed minima just past the transition, median N_Δ/N "
        f"{number(gaps.get('n_delta_over_N'), 2)}; {gaps['unsatisfied']} unsatisfied and "
        f"{gaps['satisfied']} satisfied gaps"
    )
    for key, symbol in (("theta", "θ"), ("gamma", "γ")):
        reported = f"≈ {REPORTED_GAPS[key]} (uncertain)"
        fit = gaps.get(key)
        if gaps.get("untestable") or not fit:
            why = gaps.get("untestable") or "not measured"
            rows.append(
                judged(
                    f"gap exponent {symbol} ({pooled}){where}",
                    "—",
                    reported,
                    Verdict(NOT_TESTABLE, why),
                )
            )
            continue
        drift = ", ".join(number(v, 2) for v in fit.get("drift", {}).values())
        row = fitted(
            f"gap exponent {symbol} ({pooled}; drift over the smallest 10/25/50 %: {drift}){where}",
            {**fit, "slope": fit["value"]},
            REPORTED_GAPS[key],
        )
        rows.append(dataclasses.replace(row, reported=reported))
    return rows


def _minimum_rows(t, where) -> list[Comparison]:
    """rank H₀ and the sign of H's spectrum at one jammed minimum.

    H₀ = (1/P) Σ ∇Δ_μ ∇Δ_μᵀ over the N_Δ unsatisfied constraints has rank min(N, N_Δ) for
    generic gradients; but at a stationary point P ∇L = Σ Δ_μ ∇Δ_μ = 0 with every Δ_μ > 0
    is one linear relation among them, so where N_Δ ≤ N the rank is N_Δ − 1.
    """
    at = f" (N = {t['N']}, P = {t['P']}, N_Δ = {t['n_delta']})"
    hypostatic = t["n_delta"] <= t["N"]
    expected = t["n_delta"] - 1 if hypostatic else t["N"]
    rule = "N_Δ − 1 (N_Δ ≤ N: ∇L = 0 ties the gradients)" if hypostatic else "N (N_Δ > N)"
    rank = t["rank_H0"]
    verdict = Verdict(AGREES, "equal (an exact identity)")
    if rank != expected:
        flat = t.get("smallest_H0_relative")
        verdict = Verdict(
            DIFFERS,
            f"differs by {rank - expected}".replace("-", "−")
            + (
                f" (smallest eigenvalue of H₀ over its largest: {number(flat, 2)}: "
                "nearly flat directions)"
                if flat is not None
                else ""
            ),
        )
    curvature = _curvature_verdict(t)
    kind = (
        DIFFERS if curvature.endswith("a saddle") or curvature == "negative curvature" else AGREES
    )
    return [
        judged(
            f"rank of H₀ at a jammed minimum{at}{where}",
            str(rank),
            f"{rule} = {expected} (exact at a minimum)",
            verdict,
        ),
        judged(
            f"negative eigenvalues of H at that minimum{where}",
            str(t["negative_H"]),
            "0 at a minimum",
            Verdict(kind, curvature),
        ),
    ]


def _undecided_row(u, where) -> list[Comparison]:
    if not u:
        return []
    flagged = u["flagged"]
    text = (
        f"{u['undecided']} of {u['runs']} runs; near the transitions {u['near_undecided']} of "
        f"{u['near_runs']}; points with more than 1/4 undecided: {len(flagged)}"
    )
    if flagged:
        shown = ", ".join(f"({f['N']}, {f['P']})" for f in flagged[:6])
        text += f" at (N, P) = {shown}" + (", …" if len(flagged) > 6 else "")
    return [Comparison(f"undecided runs (counted as not fitted){where}", text)]


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
        random = (one.get("dataset") or name or "random") == "random"
        part.comparisons += _search_rows(one, where)
        part.comparisons += _scan_rows(one, where, random)
        part.comparisons += _control_rows(one, where)
        part.comparisons += _undecided_row(one.get("undecided"), where)
        t = one.get("transition")
        if t and "rank_H0" in t:  # large N: only the extreme eigenvalues were computed
            part.comparisons += _minimum_rows(t, where)
        gaps = one.get("gaps")
        if gaps is None and t and t.get("gap_exponents"):  # an older summary
            old = t["gap_exponents"]
            minima = old.get("minima", 1)
            gaps = {
                **old,
                "minima": minima,
                "unsatisfied": old["theta"]["n"],
                "satisfied": old["gamma"]["n"],
                "n_delta_over_N": None,
                "untestable": old.get("untestable")
                or (f"{minima} jammed minimum (8 needed)" if minima < 8 else None),
            }
        part.comparisons += _gap_rows(gaps, where)
        part.figures += captioned(one.get("figures", []), JAMMING_CAPTIONS)
        part.configs.append((f"jamming{where}", record_config(read, one.get("record"))))
    part.notes.append(
        "Undecided runs (the step budget ran out with N_Δ > 0) count as not fitted, as the "
        "authors count them. θ and γ are fitted only from gaps pooled over many jammed minima "
        "just past the transition; below the protocol's minimum counts the rows say so."
    )
    return part


def markdown_section(summary: Mapping[str, Any], read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: :func:`describe`'s part rendered by
    :func:`symscape.comparisons.markdown` (the one Markdown renderer)."""
    from symscape.comparisons import markdown

    return markdown(describe(summary, read))
