"""What the report says about each section: its question, its comparisons, its figures.

Each section of ``symscape reproduce`` leaves a summary (the JSON its
``*_section`` function returned) and files (figures, records) in the sweep
store. :func:`describe` turns one of them into a :class:`Part`: the thesis's
question, a table of symscape's measured quantities next to the papers'
reported values (``SCIENCE.md``) with their difference or ratio, the figures
with a caption each, and the configs that produced them. Nothing is
computed again here: every number comes from the stored summary or record.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from symscape.experiments import registry

__all__ = ["HEADINGS", "Comparison", "Figure", "Part", "describe", "failed_part"]

ReadFile = Callable[[str], bytes]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of a section's table: a quantity, symscape's value, the papers' value."""

    quantity: str
    measured: str
    reported: str = "—"
    comparison: str = ""


@dataclasses.dataclass(frozen=True)
class Figure:
    """A PNG written by the section (a path relative to the results folder) and its caption."""

    path: str
    caption: str


@dataclasses.dataclass
class Part:
    """One section of the report."""

    key: str
    title: str
    question: str
    comparisons: list[Comparison] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    configs: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = dataclasses.field(default_factory=list)
    small_figures: bool = False  # previews: drawn side by side
    failure: str | None = None  # the section failed: why, on one line
    traceback: str | None = None  # ... and where its full traceback was saved


# the title and question of each section's part (also shown when the section failed)
HEADINGS: dict[str, tuple[str, str]] = {s.name: (s.title, s.question) for s in registry.REGISTRY}


# --------------------------------------------------------------------------- formatting
def number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; ``—`` for a missing or non-finite one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}".replace("-", "−")


def with_interval(value: Any, low: Any, high: Any, digits: int = 2) -> str:
    """``value [low, high]`` with ``digits`` decimals (the interval left out when missing)."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    if low is not None and high is not None:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text.replace("-", "−")


def against(value: Any, reported: float, low: Any = None, high: Any = None) -> str:
    """The difference from a reported value, and whether the interval holds it."""
    if value is None:
        return "not measured"
    text = f"difference {value - reported:+.2f}".replace("-", "−")
    if low is not None and high is not None:
        inside = low <= reported <= high
        text += "; reported value inside the 95 % interval" if inside else "; outside the interval"
    return text


def fitted(quantity: str, fit: Mapping[str, Any] | None, reported: float | None) -> Comparison:
    """A fitted ``slope`` with its ``ci_low``/``ci_high`` beside a reported value."""
    if fit is None or fit.get("slope") is None:
        return Comparison(quantity, "no fit (too few points)", number(reported, 2))
    low, high = fit.get("ci_low"), fit.get("ci_high")
    return Comparison(
        quantity,
        with_interval(fit["slope"], low, high),
        "—" if reported is None else f"≈ {number(reported, 2)}",
        "" if reported is None else against(fit["slope"], reported, low, high),
    )


def ratio(value: Any, reported: float) -> str:
    if value is None or not reported:
        return "not measured"
    return f"ratio {value / reported:.3g}"


def _figures(paths: Sequence[str], captions: Mapping[str, str]) -> list[Figure]:
    """The PNGs among ``paths``, captioned by the longest matching stem suffix in ``captions``."""
    out = []
    for path in paths:
        if not path.endswith(".png"):
            continue
        stem = PurePosixPath(path).stem
        match = max((k for k in captions if stem.endswith(k)), key=len, default=None)
        out.append(Figure(path, captions[match] if match is not None else stem.replace("_", " ")))
    return out


def _record_config(read: ReadFile, path: str | None) -> Any:
    """The ``config`` of a record file the section wrote (``None`` if it has none)."""
    if not path:
        return None
    try:
        return json.loads(read(path)).get("config")
    except (KeyError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- the sections
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


def _jamming(summary: Mapping[str, Any], read: ReadFile) -> Part:
    part = Part(
        "jamming",
        *HEADINGS["jamming"],
    )
    parts = summary.get("datasets") or {"": summary}
    for name, one in parts.items():
        where = f" ({name})" if name else ""
        for P, N in sorted(one["N_star"].items(), key=lambda kv: float(kv[0])):
            low, high = one["bracket"].get(str(P), one["bracket"].get(P, [None, None]))
            measured = "not located" if N is None else f"{N:.1f} [{low}, {high}]"
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
        part.figures += _figures(one.get("figures", []), JAMMING_CAPTIONS)
        part.configs.append((f"jamming{where}", _record_config(read, one.get("record"))))
    part.notes.append(
        "The gap exponents need thousands of gaps from several jammed minima (the paper "
        "scale); at quick scale the drift of the estimate with the fitted fraction shows how "
        "little the few gaps of one minimum pin them down."
    )
    return part


DESCENT_CAPTIONS = {
    "error": "Test error against N/N*: single networks at the end of training (with the cusp "
    "at N*), the ensemble-averaged predictor f̄ (no cusp) and oracle early stopping.",
    "fluctuations": "Against N: the fluctuation ‖f_N − f̄_N‖ (it peaks at the transition) and "
    "the excess error ε_N − ε̄_N that the ensemble average removes, with their power laws "
    "fitted beyond N* and the reported slopes.",
}


def _double_descent(summary: Mapping[str, Any], read: ReadFile) -> Part:
    part = Part(
        "double_descent",
        *HEADINGS["double_descent"],
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
    part.figures = _figures(summary.get("figures", []), DESCENT_CAPTIONS)
    part.configs.append(("double descent", _record_config(read, summary.get("record"))))
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


def _feature_lazy(summary: Mapping[str, Any], read: ReadFile) -> Part:
    part = Part(
        "feature_lazy",
        *HEADINGS["feature_lazy"],
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
        part.figures += _figures(one.get("figures", []), LAZY_CAPTIONS)
        part.configs.append((one["name"], _record_config(read, one.get("record"))))
    part.notes.append(
        "α is in the article's convention; α·√h is the code convention of the other "
        "published implementation. On the stripe model the feature regime generalising "
        "better is the model's known preference, not a contradiction of the FC result on "
        "real data."
    )
    return part


STABILITY_CAPTIONS = {
    "error_vs_stability": "Test error against the relative stability R_f (left, with the fit "
    "and the reported ε ≈ 0.2 √R_f) and against D_f alone (right), one point per "
    "architecture.",
    "sensitivity_curves": "D_f, G_f and R_f against the typical displacement δ, at "
    "initialisation and after training.",
    "layers": "R_f layer by layer, at initialisation and after training, per architecture.",
    "gallery": "Examples: images, their random diffeomorphisms and the noise of the same norm.",
}


def _stability(summary: Mapping[str, Any], read: ReadFile) -> Part:
    part = Part(
        "stability",
        *HEADINGS["stability"],
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
    part.figures = _figures(summary.get("figures", []), STABILITY_CAPTIONS)
    part.configs.append(("stability", _record_config(read, summary.get("record"))))
    return part


def _equivariance(summary: Mapping[str, Any], read: ReadFile) -> Part:
    part = Part(
        "equivariance",
        *HEADINGS["equivariance"],
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
    part.figures = _figures(
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


def _data(summary: Sequence[Mapping[str, Any]], read: ReadFile) -> Part:
    part = Part(
        "data",
        *HEADINGS["data"],
        small_figures=True,
    )
    rows = []
    for e in summary:
        if e["status"] != "ok":
            rows.append([e["name"], e["kind"], f"{e['status']}: {e['reason']}", "", "", ""])
            continue
        shape = "×".join(map(str, e["input_shape"]))
        rows.append([e["name"], e["kind"], "ok", shape, str(e["P"]), str(e["n_test"])])
        part.figures.append(Figure(e["preview"], f"{e['name']}: a preview of the training set."))
    part.tables.append(("Data sets", ["data set", "kind", "status", "input", "P", "n_test"], rows))
    return part


def _engine(summary: Mapping[str, Any], read: ReadFile) -> Part:
    final = summary["final"]
    part = Part(
        "engine",
        *HEADINGS["engine"],
    )
    mean = sum(final["test_error"]) / len(final["test_error"])
    part.comparisons.append(
        Comparison(
            "test error of the ensemble-mean predictor vs the mean member",
            f"{final['ensemble_test_error']:.3f} vs {mean:.3f}",
            "not worse",
            "holds" if final["ensemble_test_error"] <= mean else "worse",
        )
    )
    fitted = sum(s == "fitted" for s in summary["status"])
    part.comparisons.append(
        Comparison(
            "members that reached N_Δ = 0",
            f"{fitted} of {len(summary['status'])}",
            "all (an over-parametrised net on a teacher task)",
            "holds" if fitted == len(summary["status"]) else "not all",
        )
    )
    part.figures.append(
        Figure(
            summary["figure"],
            "Loss, N_Δ/P and test error along training, per member "
            "(black: the ensemble-mean predictor).",
        )
    )
    part.configs.append(("engine", summary["config"]))
    return part


DESCRIBERS: dict[str, Callable[[Any, ReadFile], Part]] = {
    "data": _data,
    "engine": _engine,
    "jamming": _jamming,
    "double_descent": _double_descent,
    "feature_lazy": _feature_lazy,
    "stability": _stability,
    "equivariance": _equivariance,
}


def failed_part(name: str, reason: str, traceback: str | None = None) -> Part:
    """The report's part for a section that failed: its question, why, and where the full
    traceback is (a path relative to the results folder)."""
    return Part(name, *HEADINGS[name], failure=reason, traceback=traceback)


def describe(name: str, summary: Any, read: ReadFile) -> Part:
    """The report's part for section ``name`` from its stored ``summary``."""
    if name not in DESCRIBERS:
        raise KeyError(f"no report section for {name!r}; known: {', '.join(DESCRIBERS)}")
    return DESCRIBERS[name](summary, read)
