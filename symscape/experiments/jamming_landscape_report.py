"""Appendix C in the report: the landscape around jamming, its figures and its rows.

Beyond the thesis: no paper value stands beside these numbers, so the rows
carry no verdict; each says what the number means
(:mod:`symscape.experiments.jamming_landscape` computes them).

>>> part = describe({"chosen": {}, "jammed": None, "fitted": None, "jammed_path": None,
...                  "fitted_path": None, "overparametrised_path": None, "figures": []})
>>> {row.measured for row in part.comparisons}, len(part.comparisons)
({'none in the stored runs'}, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symscape.comparisons import Comparison, Part, ReadFile, captioned, markdown, number
from symscape.experiments import registry

__all__ = ["CAPTIONS", "describe", "figures", "markdown_section"]

CAPTIONS = {
    "spectrum": "The Hessian's spectrum at the jammed minimum (exact; |λ| on a log axis, "
    "largest first, open markers for negative λ): H, its Gauss–Newton part H₀ (rank N_Δ − 1 "
    "at an exact minimum: the dashed line) and H_p = H − H₀. At the fitted minimum of the "
    "same P, H = 0 exactly (not drawn). Beyond the exact limit: the density of H by "
    "stochastic Lanczos quadrature.",
    "jammed_path": "The training loss (and error) along the straight line between two jammed "
    "members of one ensemble (N < N*), the centring offset moved along with the weights; "
    "the squares are the members' own losses.",
    "fitted_path": "The same between two fitted members of the same network just below P* "
    "(N > N*): a barrier on this line means the two zero-loss minima are not linearly "
    "connected.",
    "overparametrised_path": "The same between two fitted members at the smallest P/P* the "
    "scans reached (the most over-parametrised pair).",
}

_NONE = "none in the stored runs"
_PATHS = (
    ("jammed_path", "two jammed members"),
    ("fitted_path", "two fitted members"),
    ("overparametrised_path", "two fitted members, deepest"),
)


# --------------------------------------------------------------------------- figures
def _spectrum_figure(jammed: Mapping[str, Any], fitted: Mapping[str, Any] | None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    if jammed.get("exact"):
        values = {k: np.asarray(jammed[f"eig_{k}"]) for k in ("H", "H0", "Hp")}
        scale = max(np.abs(values["H"]).max(), np.abs(values["H0"]).max(), 1e-300)
        floor = scale * jammed["N"] * np.finfo(np.float64).eps * 10  # below: zero
        for (name, v), color, marker in zip(values.items(), ("C0", "C3", "C2"), "os^", strict=True):
            v = v[np.argsort(-np.abs(v))]
            index = np.arange(1, len(v) + 1)
            kept = np.abs(v) > floor
            label = f"{name} ({len(v) - kept.sum()} zero)"
            ax.semilogy(index[kept & (v > 0)], v[kept & (v > 0)], marker, color=color, label=label)
            if (kept & (v < 0)).any():
                ax.semilogy(
                    index[kept & (v < 0)], -v[kept & (v < 0)], marker, mfc="none", color=color,
                    label=f"{name} < 0 (open: |λ|)",
                )  # fmt: skip
        ax.axhline(floor, color="0.6", lw=0.8, ls=":", label="zero (10·N·eps·max |λ|)")
        ax.axvline(jammed["n_delta"] - 0.5, color="C3", lw=0.8, ls="--", label="N_Δ − 1")
        ax.set(xlabel="eigenvalue index (by |λ|)", ylabel="|λ|")
    else:
        ax.semilogy(
            jammed["grid"], np.maximum(jammed["density"], 1e-12), color="C0", label="H (SLQ)"
        )
        ax.set(xlabel="λ", ylabel="density of H (SLQ)")
    fitted_text = (
        f"; fitted seed {fitted['seed']}: max |λ(H)| = {fitted['max_abs']:.3g}"
        if fitted and "max_abs" in fitted
        else ""
    )
    ax.set_title(
        f"jammed minimum (seed {jammed['seed']}), N = {jammed['N']}, P = {jammed['P']}, "
        f"N_Δ = {jammed['n_delta']}{fitted_text}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return fig


def figures(record: Mapping[str, Any]) -> dict[str, Any]:
    """``{stem: Figure}`` of the appendix's record (pure: nothing is written)."""
    from symscape.measure.landscape import Interpolation
    from symscape.measure.landscape_figures import interpolation_figure

    out = {}
    if record.get("jammed"):
        out["spectrum"] = _spectrum_figure(record["jammed"], record.get("fitted"))
    for name, words in _PATHS:
        line = record.get(name)
        if line:
            fields = {k: line.get(k) for k in Interpolation.__dataclass_fields__}
            fields |= {
                k: np.asarray(fields[k]) for k in ("t", "loss", "error") if fields[k] is not None
            }
            where = record["chosen"][name]
            out[name] = interpolation_figure(
                Interpolation(**fields), f"{words}, N = {where['N']}, P = {where['P']}"
            )
    return out


# --------------------------------------------------------------------------- describe
def _where(where: Mapping[str, Any] | None) -> str:
    if not where:
        return ""
    return (
        f"width {where['width']:g} (N = {where['N']}), P = {where['P']} "
        f"(P* = {number(where['P_star'])})"
    )


def _spectra_rows(summary: Mapping[str, Any]) -> list[Comparison]:
    jammed, fitted, where = summary["jammed"], summary["fitted"], summary["chosen"].get("spectra")
    if not jammed:
        return [Comparison("Hessian at a jammed minimum", _NONE, "—", "no jammed seed was stored")]
    if where.get("same_P"):
        same = "a jammed and a fitted seed of the same network at the same P (only the "
        same += "initialisation differs)"
    elif fitted:
        same = f"no point had both: the fitted seed is at P = {where.get('fitted_P')}"
    else:
        same = "no fitted seed of this network below its P* was stored"
    rows = [Comparison("minima measured", _where(where), "—", same)]
    rows.append(
        Comparison(
            f"N_Δ at the jammed minimum (seed {jammed['seed']})",
            f"{jammed['n_delta']} of P = {jammed['P']} (N = {jammed['N']})",
            "—",
            "constraints left unsatisfied (Δ_μ > 0) where the minimiser stopped",
        )
    )
    if jammed.get("exact"):
        rows += [
            Comparison(
                "rank of H₀ at the jammed minimum",
                f"{jammed['rank_H0']} (N_Δ − 1 = {jammed['n_delta'] - 1})",
                "—",
                "H₀ = (1/P) Σ_{Δ>0} ∇Δ∇Δᵀ: N_Δ gradients, independent but for Σ Δ∇Δ = 0 "
                "at an exact minimum, so rank N_Δ − 1 when N_Δ ≤ N",
            ),
            Comparison(
                "λ_max(H), λ_min(H)/λ_max(H) at the jammed minimum",
                f"{number(jammed['lambda_max'])}, "
                f"{number(jammed['lambda_min'] / jammed['lambda_max'])}",
                "—",
                f"{jammed['negative_H']} negative and {jammed['zero_H']} zero eigenvalues "
                f"(|λ| ≤ 10·N·eps·λ_max) of N = {jammed['N']}: a minimum to the minimiser's "
                "tolerance, stiff along H₀'s directions and flat along most others",
            ),
            Comparison(
                "H₀'s (N_Δ − 1)-th eigenvalue over its largest",
                number(jammed["H0_spread"]),
                "—",
                "order one for a gapped H₀ (independent constraint gradients); ≪ 1 when the "
                "unsatisfied constraints' gradients are nearly dependent",
            ),
        ]
    else:
        rows.append(
            Comparison(
                "λ_max(H) at the jammed minimum",
                number(jammed["lambda_max"]),
                "—",
                f"N = {jammed['N']} is beyond the exact Hessian: Lanczos, and the SLQ density",
            )
        )
    if fitted and "max_abs" in fitted:
        measured = f"max |λ| = {number(fitted['max_abs'])}: {fitted['zero_H']} of N = "
        measured += f"{fitted['N']} eigenvalues zero"
        meaning = "every Δ_μ < 0: the quadratic hinge and its Hessian vanish (H = 0)"
        rows.append(
            Comparison(f"H at the fitted minimum (seed {fitted['seed']})", measured, "—", meaning)
        )
    elif fitted:
        rows.append(
            Comparison(
                f"λ_max(H) at the fitted minimum (seed {fitted['seed']})",
                number(fitted["lambda_max"]),
                "—",
                "every Δ_μ < 0: H = 0",
            )
        )
    return rows


_MEANINGS = {
    "jammed_path": "how far the straight line climbs above the higher end, max_t L(w(t)) − "
    "max(L_a, L_b), between two jammed minima (N < N*)",
    "fitted_path": "N > N*, near the transition: 0 would mean the line stays at zero loss "
    "(the two minima linearly connected)",
    "overparametrised_path": "the most over-parametrised pair the scans reached; wide nets "
    "are expected to connect linearly only once their hidden units are matched by a "
    "permutation, which is not done here",
}


def _path_row(summary: Mapping[str, Any], name: str, what: str) -> Comparison:
    line = summary.get(name)
    if not line:
        return Comparison(f"barrier between {what}", _NONE, "—", "")
    where = summary["chosen"][name]
    measured = (
        f"{number(line['barrier'])} (above the chord {number(line['barrier_linear'])}); "
        f"ends {number(line['loss_a'])}, {number(line['loss_b'])}"
    )
    if line.get("error_barrier") is not None:
        measured += f"; error barrier {number(line['error_barrier'])}"
    return Comparison(
        f"barrier between {what} (seeds {line['seeds'][0]}, {line['seeds'][1]})",
        measured,
        "—",
        f"{_where(where)}, P/P* = {number(where['P'] / where['P_star'])}; "
        f"‖w_a − w_b‖/‖w_a‖ = {number(line['distance'])}; {_MEANINGS[name]}",
    )


def describe(summary: Mapping[str, Any], read: ReadFile | None = None) -> Part:
    """The appendix's part: rows with their meaning (no paper value, no verdict), figures."""
    del read
    part = Part("landscape", *registry.get("landscape").heading)
    part.comparisons += _spectra_rows(summary)
    part.comparisons += [_path_row(summary, name, what) for name, what in _PATHS]
    part.figures += captioned(summary.get("figures", []), CAPTIONS)
    part.notes.append(
        "Beyond the thesis: the Hessian and the loss landscape of networks the jamming "
        "section trained, read back from the store (no training here). At a fitted minimum "
        "of the quadratic hinge H = 0 exactly, so its spectrum is reported as measured (all "
        "zero) rather than drawn. Undecided runs (step budget spent) are never used. Along "
        "a path the centring offset f(w₀, x) moves with the weights, so that its ends are "
        "the members' own training losses; no permutation of hidden units aligns the two "
        "members first."
    )
    return part


def markdown_section(summary, read: ReadFile | None = None) -> str:
    """The section in ``summary.md``: :func:`describe` rendered as Markdown."""
    return markdown(describe(summary, read))
