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
    captioned,
    fitted,
    judge,
    judged,
    number,
    record_config,
    with_interval,
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
    "phase_diagram": "The (h, α) phase diagram: test error as colour, the crossover α*(h) "
    "(from fitted cells) beside a line α ∝ h^−1/2, and the jamming line at each α located with "
    "the same flow (left of it no seed fitted); hatched cells: not every seed fitted.",
}


MIN_WIDTHS, MIN_SPAN = 4, 8.0  # a power law in h is tested over ≥ 4 widths spanning ≥ 8×


def _untestable(fit: Mapping[str, Any] | None, what: str) -> str | None:
    """Why a fitted slope cannot test a law (``None`` when it can): fewer than
    :data:`MIN_WIDTHS` widths, or widths spanning less than :data:`MIN_SPAN`."""
    if fit is None or fit.get("slope") is None:
        return f"fewer than two widths with {what}"
    widths = fit.get("widths") or []
    n = fit.get("n_widths", len(widths))
    if n < MIN_WIDTHS:
        return f"{n} widths with {what}: a power law needs at least {MIN_WIDTHS}"
    if widths and widths[-1] / widths[0] < MIN_SPAN:
        return (
            f"the {n} widths with {what} span {widths[-1] / widths[0]:.3g}×, "
            f"less than the {MIN_SPAN:g}× a power law needs"
        )
    return None


def _over(fit: Mapping[str, Any] | None) -> str:
    widths = (fit or {}).get("widths")
    if not widths:
        return ""
    return f" over {len(widths)} widths (h = {number(widths[0])}–{number(widths[-1])})"


def _slope_row(quantity: str, fit, reported: float, what: str) -> Comparison:
    row = fitted(quantity, fit, reported, null=0.0, untestable=_untestable(fit, what))
    local = (fit or {}).get("local_slope")
    between = "" if local is None else f"; {number(local, 2)} between the two widest"
    return dataclasses.replace(row, measured=row.measured + _over(fit) + between)


def _trend_row(trend, quantity: str, law: str) -> Comparison:
    """A fitted exponent as the fit range starts at wider widths (no verdict: it shows
    whether the exponent settles; the verdict is the protocol's range above)."""
    parts = [
        f"h = {number(t['widths'][0])}–{number(t['widths'][-1])} ({len(t['widths'])} widths): "
        f"{with_interval(t['slope'], t['ci_low'], t['ci_high'], 2)}"
        for t in trend
    ]
    return Comparison(
        f"{quantity}, by the start of the fit range",
        "; ".join(parts).replace("-", "−"),
        "—",
        f"{law} is a wide-network law: an exponent that settles as the range moves out is a "
        "finite-size correction",
    )


def _regime_row(regime: Mapping[str, Any], arch: str, where: str) -> Comparison:
    """ε_lazy − ε_feature at the widest width against "FC nets generalise better lazy"
    (CNNs: better in the feature regime), within its statistical floor (paired on the test
    points; an older summary holds the unpaired one only)."""
    reported, text = ((-1.0, 0.0), "lazy (FC nets)") if arch == "fc" else ((0.0, 1.0), "feature")
    d, low, high = regime.get("difference"), regime.get("ci_low"), regime.get("ci_high")
    verdict = judge(d, reported, low, high, null=0.0, floor=regime.get("floor"), digits=3)
    measured = (
        f"ε_lazy − ε_feature = {with_interval(d, low, high, 3)} (feature "
        f"{regime['feature_error']:.3f}, lazy {regime['lazy_error']:.3f}: "
        f"{regime['lazy_source']}; {_floor_text(regime)})"
    )
    interval = "" if low is None else with_interval(d, low, high, 3).partition(" ")[2]
    return judged(
        f"better regime at h = {number(regime['width'])}{where}",
        measured,
        f"{text}: difference < 0" if arch == "fc" else f"{text}: difference > 0",
        verdict,
        interval,
    )


def _floor_text(regime: Mapping[str, Any]) -> str:
    """The floor the verdict used: paired on the test points, the unpaired one beside it."""
    floor = f"floor {regime.get('floor', 0):.3f}"
    unpaired = regime.get("unpaired_floor")
    return floor if unpaired is None else f"{floor} paired (unpaired {unpaired:.3f})"


def _error_row(one: Mapping[str, Any], where: str) -> Comparison | None:
    """The test errors over the fitted cells against the Perspective paper's 5.5–16 %."""
    span = one.get("test_error_range")
    reported = one["reported"].get("test_error_range")
    if not span or not reported or not str(one["dataset"]).startswith("mnist"):
        return None
    low, high = span
    untestable = None
    if one["P"] != one["reported"]["test_error_P"]:
        untestable = (
            f"P = {one['P']}, the paper's plane is at P = {one['reported']['test_error_P']} "
            "(test errors fall with P)"
        )
    verdict = judge((low + high) / 2, tuple(reported), low, high, untestable=untestable)
    return judged(
        f"test errors over the fitted cells{where}",
        f"{100 * low:.1f}–{100 * high:.1f} %",
        f"{100 * reported[0]:.1f}–{100 * reported[1]:.0f} % (P = 5000)",
        verdict,
        f"[{low:.3f}, {high:.3f}]",
    )


def _jamming_text(line) -> str:
    """The jamming line at each α, as ``α: h_jammed–h_above``."""
    parts = []
    for c in line:
        if c["h_jammed"] is None:
            where = "every width has a fitted seed"
        elif c["h_above"] is None:
            where = f"h > {number(c['h_jammed'])}"
        else:
            where = f"{number(c['h_jammed'])} < h* < {number(c['h_above'])}"
        parts.append(f"α = {number(c['alpha'])}: {where}")
    return "; ".join(parts)


def _cells_table(one: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Fitted / undecided fraction of the seeds in each (h, α) cell."""
    cells = one["cells"]
    alphas = sorted({c["alpha"] for c in cells})
    widths = sorted({c["width"] for c in cells})
    by = {(c["width"], c["alpha"]): c for c in cells}
    rows = [
        [number(w)]
        + [f"{by[(w, a)]['fitted']:.2f} / {by[(w, a)]['undecided']:.2f}" for a in alphas]
        for w in widths
    ]
    title = f"{one['name']}: fitted / undecided fraction of the seeds in each cell"
    return title, ["h \\ α", *(number(a) for a in alphas)], rows


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part(
        "feature_lazy",
        *registry.get("feature_lazy").heading,
    )
    for one in summary["protocols"]:
        where = f" ({one['dataset']}, {one['arch']}, P = {one['P']})"
        reported = one["reported"]
        part.comparisons.append(
            _slope_row(
                f"exponent b of α* ~ h^b{where}",
                one.get("alpha_star_fit"),
                reported["alpha_star_exponent"],
                "α* between fitted cells",
            )
        )
        if len(one.get("alpha_star_trend") or []) > 1:
            part.comparisons.append(
                _trend_row(one["alpha_star_trend"], f"exponent of α* against h{where}", "−1/2")
            )
        codes = [c["alpha_star_code"] for c in one["crossover"] if c.get("alpha_star_code")]
        if codes:
            mean = sum(codes) / len(codes)
            spread = (max(codes) - min(codes)) / 2 / mean
            part.comparisons.append(
                Comparison(f"α*·√h over the widths{where}", f"{mean:.3g} ± {100 * spread:.0f} %")
            )
        for key, label in (
            ("variance_fit", "at the largest α, fitted cells"),
            ("lazy_variance_fit", "of the frozen-kernel flow (α → ∞)"),
        ):
            if key in one:
                quantity = f"slope of the output variance against h {label}{where}"
                part.comparisons.append(
                    _slope_row(
                        quantity,
                        one[key],
                        reported.get("output_variance_slope", -1.0),
                        "every seed fitted",
                    )
                )
                if len((one[key] or {}).get("trend") or []) > 1:
                    part.comparisons.append(_trend_row(one[key]["trend"], quantity, "−1"))
        if one.get("regime"):
            part.comparisons.append(_regime_row(one["regime"], one["arch"], where))
        error = _error_row(one, where)
        if error is not None:
            part.comparisons.append(error)
        if one.get("jamming_line"):
            part.comparisons.append(
                Comparison(f"jamming line at each α{where}", _jamming_text(one["jamming_line"]))
            )
        if one.get("cells"):
            part.tables.append(_cells_table(one))
        part.figures += captioned(one.get("figures", []), LAZY_CAPTIONS)
        part.configs.append((one["name"], record_config(read, one.get("record"))))
    part.notes.append(
        "α is the article's convention: F = α (f − f₀), loss (1/α²) ⟨ℓ⟩, for which α* ~ h^−1/2 "
        "is reported; the other published code's convention is α_code = √h · α (α*·√h above). "
        "A seed that reached its step budget with N_Δ > 0 is undecided and counted as not "
        "fitted; α* and the variance slopes use only cells where every seed fitted, and the "
        "jamming line at each α lies above the widest width where no seed fitted."
    )
    return part
