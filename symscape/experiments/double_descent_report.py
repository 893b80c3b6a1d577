"""The double-descent section in the report.

The cusp at N*, the ensemble average, early stopping, and the exponents of
the fluctuation and of the error gap: in h against the theory (−1/2, −1),
in N against the exponent that applies at the measured d ln N / d ln h (the
papers' −1/4 and −1/2 where N ∝ h²). Every row beside a reported value
carries a verdict (agrees, differs, not testable at this scale).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
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
    judged,
    number,
    record_config,
    with_interval,
)
from symscape.experiments import registry
from symscape.experiments.double_descent_analysis import (
    IN_H,
    N_SQUARED_TOL,
    REPORTED,
    lowest_n_star,
)
from symscape.experiments.jamming.search import UNDECIDED_FLAG

__all__ = ["describe", "markdown_section"]


DESCENT_CAPTIONS = {
    "error": "Test error against N/N*: single networks at the end of training (with the cusp "
    "at N*), the ensemble-averaged predictor f̄ (no cusp) and oracle early stopping.",
    "fluctuations": "Against the width h: the fluctuation ‖f_N − f̄_N‖ (it peaks at the "
    "transition) and the excess error ε_N − ε̄_N that the ensemble average removes, with their "
    "power laws fitted well beyond N* and the theory's slopes (−1/2, −1), and twice the gap's "
    "statistical floor √(Var_x d(x)/n), d(x) the members' mean error on test point x minus the "
    "ensemble's (paired on the same test points; below it the gap's exponent is not testable).",
}


def _floor_of_rise(points: Sequence[Mapping[str, Any]]) -> float:
    """Two statistical floors of a difference between two widths' mean errors: 2√2 × floor."""
    return 2 * math.sqrt(2) * max(p.get("error_floor") or 0.0 for p in points)


def _largest_rise(points: Sequence[Mapping[str, Any]], key: str) -> float:
    values = [p[key] for p in points]
    return max([0.0, *(b - a for a, b in itertools.pairwise(values))])


def _next_to(Ns: Sequence[float], N_star: float) -> set[float]:
    """The widths either side of N*: the last one below it and the first at or above."""
    below = [n for n in Ns if n < N_star]
    above = [n for n in Ns if n >= N_star]
    return {max(below, default=None), min(above, default=None)} - {None}


def _cusp_verdict(
    points: Sequence[Mapping[str, Any]],
    peak: float,
    N_star: float,
    lowest: float | None = None,
    highest: float | None = None,
) -> Verdict:
    """Is the end-of-training error's peak at a width next to N*?

    N* counts undecided runs as not fitted (the authors' rule). The data allow any N*
    from ``lowest`` (the undecided runs counted as fitted; a summary without it:
    :func:`lowest_n_star` of the flow's runs) to ``highest`` (the top of
    the bisection's bracket; default N*). A peak away from N* *differs* only when it is
    also away from every N* in that range, and when the runs at the peak, next to N* and
    in between reached their end point; otherwise how the undecided runs end decides the
    verdict: not testable.
    """
    Ns = [p["N"] for p in points]
    if peak in _next_to(Ns, N_star):
        return Verdict(AGREES, f"at a width next to N* (N/N* = {peak / N_star:.2f})")
    where = f"N/N* = {peak / N_star:.2f}"
    if "undecided" not in points[0]:
        return Verdict(DIFFERS, f"away from N* ({where}); undecided runs not recorded")
    if lowest is None:
        # fitted + undecided ≥ fitted, and the widest width is fitted: a crossing exists
        lowest = lowest_n_star(Ns, [p["fitted"] for p in points], [p["undecided"] for p in points])
    highest = N_star if highest is None else max(highest, N_star)
    # every N* in [lowest, highest] is next to the widths from the last one below `lowest`
    # to the first one at or above `highest`
    if min(_next_to(Ns, lowest)) <= peak <= max(_next_to(Ns, highest)):
        allowed = "any lower N*" if lowest <= 0 else f"N* as low as {lowest:.0f}"
        return Verdict(
            NOT_TESTABLE,
            f"away from N* ({where}), but the runs that decide where N* lies (undecided at "
            f"their budget, or the bisection's bracket) allow {allowed}, next to the peak",
        )
    # the peak, the widths next to N* and those in between: their errors must be end points
    near = _next_to(Ns, N_star)
    span = (min(peak, *near), max(peak, *near))
    crawling = [
        p for p in points if span[0] <= p["N"] <= span[1] and p["undecided"] > UNDECIDED_FLAG
    ]
    if crawling:
        return Verdict(
            NOT_TESTABLE,
            f"away from N* ({where}), but runs between the peak and N* had not reached their "
            f"end point (undecided at N = {', '.join(str(p['N']) for p in crawling)}): their "
            "errors may still move the peak",
        )
    return Verdict(DIFFERS, f"away from N* ({where}) and from every N* the undecided runs allow")


def _early_stopping(points: Sequence[Mapping[str, Any]]) -> Comparison:
    """Early stopping removes the cusp: its largest rise from one width to the next is
    within the floor, where the end of training has one beyond it."""
    early, end = _largest_rise(points, "early_stopping_error"), _largest_rise(points, "test_error")
    floor = _floor_of_rise(points)
    if end <= floor:
        verdict = Verdict(
            NOT_TESTABLE,
            f"no cusp beyond the statistical floor at the end of training "
            f"(largest rise {end:.3f} ≤ {floor:.3f})",
        )
    elif early <= floor:
        verdict = Verdict(AGREES, f"early stopping's largest rise is within the floor {floor:.3f}")
    else:
        verdict = Verdict(DIFFERS, f"a rise of {early:.3f} remains (floor {floor:.3f})")
    return judged(
        "largest rise of the test error from one width to the next: early stopping "
        "(end of training)",
        f"{early:.3f} ({end:.3f})",
        "none with early stopping (it removes the cusp)",
        verdict,
    )


def _exponent_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    """The fitted exponents: in h against the theory, in N against the exponent that
    applies at the measured d ln N / d ln h."""
    fits = summary["fits"]
    m = summary.get("dlnN_dlnh")
    none = (
        "no N* to fit beyond"
        if summary["N_star"] is None
        else f"fewer than two widths with N ≥ {summary.get('fit_from', 4):g} N* where every "
        "seed fitted"
    )
    rows = []
    for key, what in (("fluctuation", "‖f_N − f̄_N‖"), ("error_gap", "ε_N − ε̄_N")):
        fit = fits.get(key + "_h")
        untestable = none if fit is None else fit.get("untestable")
        rows.append(
            fitted(
                f"exponent of {what} against h",
                fit,
                IN_H[key],
                null=0.0,
                untestable=untestable,
            )
        )
        fit = fits.get(key)
        if m is None or fit is None:
            label = f"exponent of {what} against N"
            reported = REPORTED[key]
        elif abs(m - 2) <= N_SQUARED_TOL:
            label = f"exponent of {what} against N (d ln N/d ln h = {m:.2f} ≈ 2: N ∝ h²)"
            reported = REPORTED[key]
        else:
            label = (
                f"exponent of {what} against N (d ln N/d ln h = {m:.2f}, not 2: the theory "
                f"gives {IN_H[key]:g} ÷ {m:.2f}; the papers' {REPORTED[key]:g} holds where N ∝ h²)"
            ).replace("-", "−")
            reported = fit["reported"]
        rows.append(
            fitted(label, fit, reported, null=0.0, untestable=none if fit is None else untestable)
        )
        trend = summary.get("fit_starts" if key == "fluctuation" else "gap_fit_starts")
        if trend and len(trend) > 1:  # one range is the protocol's row above
            rows.append(_trend_row(trend, what, {-0.5: "−1/2", -1.0: "−1"}[IN_H[key]]))
    return rows


def _trend_row(trend, what: str = "‖f_N − f̄_N‖", law: str = "−1/2") -> Comparison:
    """An exponent in h as the fit range starts further past N* (no verdict: it shows
    whether the exponent settles, the verdict is the protocol's range above); an entry
    whose gap is within its statistical floor says so."""
    parts = [
        f"N ≥ {t['from']:g} N* (h ≥ {t['widths'][0]:g}, {len(t['widths'])} widths): "
        + with_interval(t["slope"], t["ci_low"], t["ci_high"], 2)
        + (" (within the statistical floor)" if t.get("untestable") else "")
        for t in trend
    ]
    return Comparison(
        f"exponent of {what} against h, by the start of the fit range",
        "; ".join(parts),
        "—",
        f"{law} is an asymptote (N ≫ N*): an exponent that settles as the range moves out is "
        "a finite-size correction near the peak",
    )


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "double_descent",
        *registry.get("double_descent").heading,
    )
    points = summary["points"]
    N_star = summary["N_star"]
    located = summary.get("N_star_located", "interpolated")
    star = "not reached" if N_star is None else f"{N_star:.0f}"
    if N_star is not None and located == "at most":
        star = f"≤ {N_star:.0f} (every width fitted)"
    search = summary.get("N_star_search")
    if located == "bisection":
        low, high = search["bracket"]
        lowest = summary.get("N_star_lowest")
        allow = ""
        if lowest is not None and lowest < low:
            allow = "; undecided runs allow " + (f"{lowest:.0f}" if lowest > 0 else "any lower")
        part.comparisons.append(
            Comparison(
                "N* (the jamming minimiser, a bisection in width at the same P; undecided "
                "runs count as not fitted)",
                f"{N_star:.0f} (between N = {low} and {high}{allow})",
            )
        )
        flow = summary.get("N_star_flow")
        part.comparisons.append(
            Comparison(
                "N* of the flow's own runs (near N* they approach a zero loss too slowly to "
                "decide within the budget)",
                "not reached" if flow is None else f"{flow:.0f}",
            )
        )
    else:
        if search is not None and search.get("outside"):
            bound = "≤" if located == "at most" else "≥"
            star = (
                f"{bound} {N_star:.0f} (the minimiser's bisection: N* {search['outside']}; "
                f"the flow's own runs cross 1/2 at "
                + (
                    "no width)"
                    if summary.get("N_star_flow") is None
                    else f"{summary['N_star_flow']:.0f})"
                )
            )
        part.comparisons.append(
            Comparison(
                "N* (the fitted fraction crosses 1/2; undecided runs count as not fitted)", star
            )
        )
    undecided = [p for p in points if p.get("undecided")]
    if points and "undecided" in points[0]:
        worst = max(points, key=lambda p: p.get("undecided") or 0)
        text = f"at {len(undecided)} of {len(points)} widths"
        if undecided:
            text += f"; at most {worst['undecided']:.2f} (h = {worst['width']:g})"
        part.comparisons.append(
            Comparison("undecided runs of the flow (budget reached with N_Δ > 0: not fitted)", text)
        )
    peak = max(points, key=lambda p: p["test_error"])
    later = [p["test_error"] for p in points if p["N"] > peak["N"]]
    rise = peak["test_error"] - min(later) if later else 0.0
    if N_star is None or located not in ("interpolated", "bisection"):
        cusp = Verdict(NOT_TESTABLE, "no N* located between two widths")
    elif rise <= _floor_of_rise(points):
        cusp = Verdict(
            NOT_TESTABLE,
            f"the peak stands {rise:.3f} above the wider nets' lowest error, within the "
            f"floor {_floor_of_rise(points):.3f}",
        )
    else:
        cusp = _cusp_verdict(
            points,
            peak["N"],
            N_star,
            summary.get("N_star_lowest"),
            summary.get("N_star_highest"),
        )
    part.comparisons.append(
        judged(
            "largest end-of-training test error (the cusp)",
            f"{peak['test_error']:.3f} at N = {peak['N']}",
            "at N ≈ N*",
            cusp,
        )
    )
    worse = [
        p
        for p in points
        if p["ensemble_test_error"] - p["test_error"] > 2 * p.get("error_floor", 0)
    ]
    part.comparisons.append(
        judged(
            "ensemble test error ≤ mean single-network test error (beyond the statistical floor)",
            f"at {len(points) - len(worse)} of {len(points)} widths",
            "at every width",
            Verdict(AGREES, "holds")
            if not worse
            else Verdict(DIFFERS, f"fails at N = {', '.join(str(p['N']) for p in worse)}"),
        )
    )
    if points and all(p.get("early_stopping_error") is not None for p in points):
        part.comparisons.append(_early_stopping(points))
    norm = max(points, key=lambda p: p.get("output_norm") or 0)
    if norm.get("output_norm") is not None:
        where = "" if N_star is None else f" (N/N* = {norm['N'] / N_star:.2f})"
        part.comparisons.append(
            judged(
                "largest output norm ‖f_N‖",
                f"{norm['output_norm']:.3g} at N = {norm['N']}{where}",
                "diverges at N* as (N − N*)^−α, α ≈ 1",
                Verdict(
                    NOT_TESTABLE,
                    "fitting α needs widths closely spaced just above N*, and runs that "
                    "converge there",
                ),
            )
        )
    if summary.get("fit_widths"):
        h = summary["fit_widths"]
        m = summary.get("dlnN_dlnh")
        part.comparisons.append(
            Comparison(
                f"widths fitted (N ≥ {summary.get('fit_from', 4):g} N*, every seed fitted)",
                f"h = {', '.join(f'{w:g}' for w in h)}"
                + ("" if m is None else f"; d ln N/d ln h = {m:.2f}"),
            )
        )
    part.comparisons.extend(_exponent_rows(summary))
    part.figures = captioned(summary.get("figures", []), DESCENT_CAPTIONS)
    part.configs.append(("double descent", record_config(read, summary.get("record"))))
    part.tables.append(
        (
            "Per width",
            [
                "h",
                "N",
                "fitted",
                "undecided",
                "test error",
                "ensemble",
                "floor",
                "early stopping",
                "‖f − f̄‖",
                "‖f‖",
            ],
            [
                [
                    number(p.get("width")),
                    str(p["N"]),
                    number(p["fitted"], 2),
                    number(p.get("undecided"), 2),
                    number(p["test_error"]),
                    number(p["ensemble_test_error"]),
                    number(p.get("error_floor"), 2),
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
