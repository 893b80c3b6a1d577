"""The relative-stability section in the report: every paper value with its verdict.

Rows (SCIENCE.md §0, §4): R_f at initialisation per architecture against
"≈ 1" (read as order one, a factor 2 either side), with its interval over
seeds; ln R_f(trained)/R_f(init) per family against "training decreases R_f
for CNNs, not for fully connected nets"; the exponent and, at the reported
exponent, the prefactor of ε = a R_f^b against 0.5 and 0.2 (CIFAR10's); the
correlations of ln ε with ln R_f (strong) and with ln D_f alone (poor), with
Fisher intervals. The table sets D_f and G_f beside R_f, at initialisation
and trained, per architecture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from symscape.comparisons import (
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
)
from symscape.experiments import registry

__all__ = ["describe"]

ORDER_ONE = (0.5, 2.0)  # "R_f ≈ 1 at initialisation", read as within a factor 2 of 1
POOR, STRONG = 0.5, 0.8
_FAMILY_TEXT = {"CNN": "CNNs", "fully connected": "fully connected nets"}
_CUTOFF_TEXT = {
    "authors": "the authors' cut-off (modes √(i² + j²) < c + ½)",
    "paper": "the papers' cut-off (modes √(i² + j²) ≤ c)",
}  # |r| below POOR is a poor correlation, r above STRONG a strong one
_INIT_BATCH_NORM_TEXT = {
    "batch": "At initialisation batch norm uses the statistics of the batch it sees, the clean, "
    "deformed and noisy test images in separate batches (the authors' code): the running "
    "statistics are still μ = 0, σ² = 1 there, which would make every batch norm the identity.",
    "running": "At initialisation batch norm uses running statistics estimated on the training "
    "images (one fixed function; the authors' code uses each batch's statistics instead).",
}


STABILITY_CAPTIONS = {
    "error_vs_stability": "Test error against the relative stability R_f (left, with the fit "
    "and the reported ε ≈ 0.2 √R_f) and against D_f alone (right), one point per "
    "architecture.",
    "sensitivity_curves": "D_f, G_f and R_f against the typical displacement δ, at "
    "initialisation and after training.",
    "layers": "R_f layer by layer, at initialisation and after training, per architecture.",
    "gallery": "Examples: images, their random diffeomorphisms and the noise of the same norm.",
}


def _interval(values: Any) -> tuple[Any, Any]:
    return tuple(values) if values else (None, None)


def _with(value: Any, low: Any, high: Any) -> tuple[str, str]:
    """``value [low, high]`` in 3 significant digits, and the interval alone."""
    if low is None or high is None:
        return number(value), ""
    interval = f"[{number(low)}, {number(high)}]"
    return f"{number(value)} {interval}", interval


def _initial_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    seeds = summary.get("n_seeds")
    rows = []
    for row in summary["rows"]:
        low, high = _interval(row.get("R_init_interval"))
        measured, interval = _with(row["R_init"], low, high)
        verdict = judge(row["R_init"], ORDER_ONE, low, high)
        rows.append(
            judged(
                f"R_f at initialisation, {row['architecture']} ({seeds} seeds)",
                measured,
                "≈ 1 (order one: 0.5 to 2)",
                verdict,
                interval,
            )
        )
    return rows


# the claim on ln R_f(trained)/R_f(init) per family: its range, its text, the no-effect value
_CLAIMS = {
    "CNN": ((-math.inf, 0.0), "< 0: training decreases R_f (by decades on CIFAR10)", 0.0),
    "fully connected": ((0.0, math.inf), "≥ 0: training does not decrease R_f", 0.0),
}


def _unit(change: Mapping[str, Any]) -> str:
    """What the family's interval is over: its architectures, or one architecture's seeds."""
    if change.get("unit") == "architectures":
        return f"interval over {change['n']} architectures, {change['networks']} networks"
    return f"interval over {change['n']} seeds of one architecture"


def _family_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    rows = []
    for family, change in (summary.get("families") or {}).items():
        span, claim, null = _CLAIMS[family]
        measured, interval = _with(change["mean"], change["low"], change["high"])
        verdict = judge(change["mean"], span, change["low"], change["high"], null=null)
        rows.append(
            judged(
                f"ln R_f(trained)/R_f(init), {_FAMILY_TEXT[family]} "
                f"({', '.join(change['architectures'])}; {_unit(change)})",
                measured,
                claim,
                verdict,
                interval,
            )
        )
    return rows


def _law_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    fit, law = summary["fit"], summary["reported"]
    where = (
        summary["dataset"]
        if summary["dataset"] == "cifar10"
        else (f"{summary['dataset']}, not CIFAR10")
    )
    if fit.get("b") is None:
        return [
            judged(
                "exponent b of ε = a R_f^b",
                "no fit",
                f"≈ {number(law['b'])}",
                Verdict(NOT_TESTABLE, fit.get("reason", "too few points")),
            )
        ]
    n = fit["n_points"]
    slope = {"slope": fit["b"], "ci_low": fit.get("b_ci_low"), "ci_high": fit.get("b_ci_high")}
    few = f"{n} architectures: no interval" if slope["ci_low"] is None else None
    rows = [
        fitted(f"exponent b of ε = a R_f^b ({n} architectures, {where})", slope, law["b"], null=0.0,
               untestable=few)
    ]  # fmt: skip
    pre = summary.get("prefactor_at_reported_b") or {}
    if pre.get("a") is not None:
        measured, interval = _with(pre["a"], pre["low"], pre["high"])
        rows.append(
            judged(
                f"prefactor a of ε = a R_f^{number(law['b'])} (exponent fixed; {where})",
                measured,
                f"≈ {number(law['a'])} (CIFAR10)",
                judge(
                    pre["a"],
                    law["a"],
                    pre["low"],
                    pre["high"],
                    untestable=None
                    if summary["dataset"] == "cifar10"
                    else f"the prefactor depends on the data set: 0.2 is CIFAR10's, these "
                    f"nets learn {summary['dataset']}",
                ),
                interval,
            )
        )
    return rows


def _correlation_row(name: str, c: Mapping[str, Any], span, other, claim: str) -> Comparison:
    """``c`` (``r``, ``low``, ``high``, ``n``) against the claimed range ``span``; not testable
    when its interval also meets the opposite claim's range ``other``."""
    measured, interval = _with(c.get("r"), c.get("low"), c.get("high"))
    low, high = c.get("low"), c.get("high")
    untestable = None
    if c.get("r") is not None and low is not None:
        meets = [lo <= high and low <= hi for lo, hi in (span, *other)]
        if meets[0] and any(meets[1:]):
            untestable = (
                f"the interval [{number(low, 2)}, {number(high, 2)}] ({c['n']} architectures) "
                "holds both a poor and a strong correlation"
            )
    verdict = judge(c.get("r"), span, low, high, untestable=untestable)
    return judged(f"correlation of ln ε with {name}", measured, claim, verdict, interval)


def _correlation_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    corr = summary.get("correlations") or {}
    rows = []
    if "log_R" in corr:
        rows.append(
            _correlation_row(
                "ln R_f", corr["log_R"], (STRONG, 1.0), [(-POOR, POOR)], f"strong (> {STRONG})"
            )
        )
    if "log_D" in corr:
        rows.append(
            _correlation_row(
                "ln D_f alone",
                corr["log_D"],
                (-POOR, POOR),
                [(STRONG, 1.0), (-1.0, -STRONG)],
                f"poor (|r| < {POOR})",
            )
        )
    return rows


def _table(summary: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    def ranged(value, interval) -> str:
        return _with(value, *_interval(interval))[0]

    def change(row) -> str:
        low, high = _interval(row.get("log_change_interval"))
        if row.get("log_change") is None:
            return "—"
        ends = (None, None) if low is None else (math.exp(low), math.exp(high))
        return _with(math.exp(row["log_change"]), *ends)[0]

    header = ["architecture", "parameters", "test error", "D_f init", "G_f init", "R_f init",
              "D_f trained", "G_f trained", "R_f trained", "R_f trained / init"]  # fmt: skip
    rows = [
        [
            r["architecture"],
            str(r["n_parameters"]),
            number(r["test_error"]),
            number(r.get("D_init")),
            number(r.get("G_init")),
            ranged(r["R_init"], r.get("R_init_interval")),
            number(r["D_trained"]),
            number(r["G_trained"]),
            ranged(r["R_trained"], r.get("R_trained_interval")),
            change(r),
        ]
        for r in summary["rows"]
    ]
    title = (
        f"Per architecture ({summary['dataset']}, δ = {number(summary['reference_delta'])} px; "
        "geometric means over seeds, 95 % intervals over seeds)"
    )
    return title, header, rows


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The report's part of the section's stored ``summary``; ``read(path)`` gives the bytes of
    a file the section wrote (its record's config is shown when given)."""
    part = Part("stability", *registry.get("stability").heading)
    part.comparisons += _initial_rows(summary)
    part.comparisons += _family_rows(summary)
    part.comparisons += _law_rows(summary)
    part.comparisons += _correlation_rows(summary)
    part.tables.append(_table(summary))
    part.notes.append(
        f"Deformations with {_CUTOFF_TEXT[summary.get('cutoff', 'authors')]}, "
        f"{summary.get('n_points')} test points, median estimator. The reported values are "
        "those of the paper (15 architectures on CIFAR10); on MNIST a verdict 'differs' is a "
        "result, not a failure of the measurement."
    )
    if summary.get("init_batch_norm") in _INIT_BATCH_NORM_TEXT:
        part.notes.append(_INIT_BATCH_NORM_TEXT[summary["init_batch_norm"]])
    part.figures = captioned(summary.get("figures", []), STABILITY_CAPTIONS)
    part.configs.append(("stability", record_config(read, summary.get("record"))))
    return part
