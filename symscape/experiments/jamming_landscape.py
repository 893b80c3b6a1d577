r"""Appendix C of the main job: the loss landscape around jamming, from the stored runs.

Beyond the thesis. The jamming section's P scans (one network per width, P
bisected: :func:`~symscape.experiments.jamming.find_capacity`) leave in the
sweep store every seed's final weights and outcome; this appendix rebuilds some
of those networks and measures the landscape around them, with
:mod:`symscape.measure` on each one as a plain function of its weights. No
network is trained here (a scan that is not in the store yet is trained first,
as the jamming section would).

**Which minima** (:func:`choose`). Jammed means the minimiser stopped with
N_Δ > 0 unsatisfied constraints (``outcome == "jammed"``); fitted, N_Δ = 0. Runs
whose step budget ran out are neither and are never used. Over every scan that
located its P*, the points are ranked by their distance ``|ln(P/P*)|`` from the
transition, past it (P > P*, the jammed side) first:

* the **spectra** pair is a jammed and a fitted seed **at the same point** (same
  network, same data, same P: only the initialisation differs), at the first
  point that has both; without one, the jammed seed nearest past the transition
  and a fitted seed of the same network nearest below it;
* the **jammed path** joins two jammed seeds of one point (nearest past P*), the
  **fitted path** two fitted seeds of the same network at its point nearest
  below P* (N > N*(P)), the **over-parametrised path** two fitted seeds at the
  smallest P/P* of any scan (the deepest in the fitted phase the scans reach).

**The Hessian** of a member's training loss ``L = (1/(α²P)) Σ_μ ½ max(0, Δ_μ)²``,
``Δ_μ = κ − y_μ F(x_μ)``, ``F = α (f(w, x) − f(w₀, x))`` (:func:`member_model`: the
centring offset ``f(w₀, x_μ)`` rides along with each input). Up to
``exact_max`` weights it is built exactly with its split ``H = H₀ + H_p``
(:func:`~symscape.measure.curvature.hinge_split`, which gives ``α² H``), and its
``eigvalsh`` spectrum is kept; beyond, its density by stochastic Lanczos
quadrature (:func:`~symscape.measure.curvature.spectral_density`) and its top
eigenvalues. At a jammed minimum ``H₀ = (1/(α²P)) Σ_{Δ_μ>0} ∇Δ_μ∇Δ_μᵀ`` has rank
N_Δ − 1 (the N_Δ gradients obey ``Σ_μ Δ_μ∇Δ_μ = 0`` there) when N_Δ ≤ N. At a
fitted minimum every Δ_μ < 0, so the loss, its gradient and **H are exactly 0**
(N zero eigenvalues): the appendix measures that (``max |λ|``) rather than
drawing a density of zeros.

**The path** between two members a, b of one ensemble (:func:`path`):
``w(t) = (1 − t) w_a + t w_b`` with the centring offset moved along with it,
``F_t = α (f(w(t), x) − [(1 − t) f(w₀_a, x) + t f(w₀_b, x)])``, so that the ends are
exactly the two members' own training losses;
:func:`~symscape.measure.landscape.interpolate` gives the loss and the error
along it and the barrier heights.

>>> scan = {"P_star": 10.0, "tried": [
...     {"P": 8, "width": 2.0, "N": 14, "keys": list("abcd"),
...      "outcomes": ["fitted", "fitted", "jammed", "fitted"]},
...     {"P": 12, "width": 2.0, "N": 14, "keys": list("efgh"),
...      "outcomes": ["jammed", "fitted", "jammed", "max_steps"]}]}
>>> chosen = choose([scan])
>>> chosen["spectra"]["P"], chosen["spectra"]["jammed"], chosen["spectra"]["fitted"]
(12, 'e', 'f')
>>> chosen["jammed_path"]["keys"], chosen["fitted_path"]["keys"]
(['e', 'g'], ['a', 'b'])
>>> chosen["overparametrised_path"]["P"]
8
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symscape.experiments._output import save_figures
from symscape.experiments._sweeps import section_store
from symscape.experiments.jamming_landscape_report import (
    describe,
    figures,
    markdown_section,
)

__all__ = [
    "CONFIGS",
    "choose",
    "describe",
    "figures",
    "markdown_section",
    "member_model",
    "path",
    "run",
    "section",
    "spectra",
]

PATHS = ("jammed_path", "fitted_path", "overparametrised_path")
"""The three straight paths: two jammed members nearest past P*, two fitted members of the
same network nearest below it, two fitted members at the smallest P/P* of any scan."""

CONFIGS: dict[str, dict[str, Any]] = {
    # case: the jamming protocol's case whose P scans are read; exact_max: the largest N
    # whose Hessian is built exactly; points: values of t along each path
    "quick": {"case": "random", "exact_max": 2000, "points": 25},
    "medium": {"case": "random", "exact_max": 2000, "points": 25},
    "paper": {"case": "random-authors", "exact_max": 2000, "points": 25},
}


# --------------------------------------------------------------------------- which minima
def _seeds(point: Mapping[str, Any], outcome: str) -> list[str]:
    return [k for k, o in zip(point["keys"], point["outcomes"], strict=True) if o == outcome]


def _ranked(scans: Sequence[Mapping[str, Any]], side: str):
    """``(scan, point)`` pairs of the scans that located P*, nearest the transition first;
    ``side``: ``past`` (P > P*), ``below`` (P ≤ P*) or ``any`` (past ones first)."""
    pairs = []
    for scan in scans:
        if scan.get("P_star") is None:
            continue
        for point in scan["tried"]:
            past = point["P"] > scan["P_star"]
            if side == "any" or past == (side == "past"):
                distance = abs(math.log(point["P"] / scan["P_star"]))
                pairs.append(((not past, distance, -point["N"]), scan, point))
    return [(scan, point) for _, scan, point in sorted(pairs, key=lambda p: p[0])]


def _where(point: Mapping[str, Any], scan: Mapping[str, Any]) -> dict[str, Any]:
    return {k: point[k] for k in ("P", "width", "N")} | {"P_star": scan["P_star"]}


def choose(scans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The store keys of the minima the appendix measures (module docstring), each with
    where it lies (``P``, ``width``, ``N``, ``P_star``); ``None`` for what the scans lack."""
    out: dict[str, Any] = dict.fromkeys(("spectra", *PATHS))
    both = [(s, p) for s, p in _ranked(scans, "any") if _seeds(p, "jammed") and _seeds(p, "fitted")]
    if both:
        scan, point = both[0]
        out["spectra"] = _where(point, scan) | {
            "jammed": _seeds(point, "jammed")[0],
            "fitted": _seeds(point, "fitted")[0],
            "same_P": True,
        }
    else:
        jammed = [(s, p) for s, p in _ranked(scans, "any") if _seeds(p, "jammed")]
        if jammed:
            scan, point = jammed[0]
            fitted = [p for s, p in _ranked([scan], "below") if _seeds(p, "fitted")]
            out["spectra"] = _where(point, scan) | {
                "jammed": _seeds(point, "jammed")[0],
                "fitted": _seeds(fitted[0], "fitted")[0] if fitted else None,
                "fitted_P": fitted[0]["P"] if fitted else None,
                "same_P": False,
            }
    pairs = [(s, p) for s, p in _ranked(scans, "any") if len(_seeds(p, "jammed")) >= 2]
    if pairs:
        scan, point = pairs[0]
        out["jammed_path"] = _where(point, scan) | {"keys": _seeds(point, "jammed")[:2]}
    # the fitted pair: the jammed pair's network (else any), nearest below its P*
    networks = [scan] if pairs else [s for s in scans if s.get("P_star") is not None]
    for scan in networks:
        fitted = [p for s, p in _ranked([scan], "below") if len(_seeds(p, "fitted")) >= 2]
        if fitted:
            out["fitted_path"] = _where(fitted[0], scan) | {"keys": _seeds(fitted[0], "fitted")[:2]}
            break
    # the most over-parametrised pair: two fitted seeds at the smallest P/P* of any scan
    deep = [(s, p) for s, p in _ranked(scans, "below") if len(_seeds(p, "fitted")) >= 2]
    if deep:
        scan, point = min(deep, key=lambda sp: (sp[1]["P"] / sp[0]["P_star"], -sp[1]["N"]))
        out["overparametrised_path"] = _where(point, scan) | {"keys": _seeds(point, "fitted")[:2]}
    return out


# --------------------------------------------------------------------------- one member
def member_model(arch, alpha: float):
    """``f(p, xc) = α (arch(p, x) − c)`` of one member's weights ``p`` (no ensemble axis),
    where ``xc = [x | c]`` carries each input's centring offset ``c = f(w₀, x)`` as its
    last column; with ``p["share"] = s`` and ``xc = [x | c_a | c_b]``, the offset is
    ``(1 − s) c_a + s c_b`` (the path between two members)."""

    def f(p, xc):
        weights = {k: v.unsqueeze(0) for k, v in p.items() if k != "share"}
        if "share" in p:
            x, offset = xc[:, :-2], (1 - p["share"]) * xc[:, -2:-1] + p["share"] * xc[:, -1:]
        else:
            x, offset = xc[:, :-1], xc[:, -1:]
        return alpha * (arch.apply(weights, x)[0] - offset)

    return f


def _rebuild(store, key: str):
    """``(model, weights of its one member, the stored row)`` of the stored run ``key``."""
    from symscape.experiments.jamming.minimum import _model_of_row

    [row] = store.get([key])
    model, params = _model_of_row(row, store.arrays(key))
    if model.loss.name != "quadratic_hinge":
        from symscape.errors import InvalidOptionError

        raise InvalidOptionError(
            f"the run {key} was trained on {model.loss.name}",
            fix="the appendix reads jamming runs of the quadratic hinge",
        )
    return model, {k: v[0].detach() for k, v in params.items()}, row


def _data(model, members: Sequence[Any]):
    """``([x | c_0 | c_1 ...], y)``: the training set with the members' centring offsets."""
    import torch

    offsets = [m.f0_train[0] for m in members]
    return torch.cat([model.x_train, *offsets], dim=1), model.y_train


def spectra(store, key: str, exact_max: int = 2000) -> dict[str, Any]:
    """The Hessian of the stored run ``key``'s training loss at its final weights.

    N ≤ ``exact_max``: the exact H, H₀ and H_p (``eig_H``, ``eig_H0``, ``eig_Hp``),
    ``rank_H0``, ``n_delta``, the number of negative eigenvalues and ``max_abs`` =
    max |λ(H)|; beyond, ``density`` (SLQ: ``grid``, ``density``) and ``top`` eigenvalues,
    or ``max_abs = 0`` where H v = 0 for four random v (H = 0: a fitted minimum).
    Eigenvalues count as zero below ``10·N·eps`` times the largest |λ| of H₀ (of H when
    H₀ = 0).
    """
    import torch

    from symscape.measure.curvature import eigenvalues, hinge_split, hvp, spectral_density
    from symscape.measure.hessian import gap_tolerance
    from symscape.train.losses import loss_per_point

    model, params, row = _rebuild(store, key)
    f, alpha, kappa = member_model(model.arch, model.alpha), model.alpha, model.loss.kappa
    data = _data(model, [model])
    N = sum(v.numel() for v in params.values())
    gaps = (
        kappa
        - model.y_train * model.train_outputs({k: v[None] for k, v in params.items()})[0, :, 0]
    )
    out: dict[str, Any] = {
        "key": key,
        "seed": row["seed"],
        "outcome": row["scalars"]["outcome"],
        "N": N,
        "P": len(model.y_train),
        "loss": row["scalars"]["final"]["loss"],
        "n_delta": int((gaps > gap_tolerance(gaps.dtype, kappa)).sum()),
    }
    if exact_max >= N:
        split = hinge_split(f, data, kappa=kappa, params=params, max_weights=exact_max)
        eig = {
            name: torch.linalg.eigvalsh(m / alpha**2).cpu().numpy()
            for name, m in (("H", split.H), ("H0", split.H0), ("Hp", split.Hp))
        }
        scale = max(np.abs(eig["H0"]).max(), np.abs(eig["H"]).max())  # as hinge_split's rank
        zero = scale * N * float(torch.finfo(split.H.dtype).eps) * 10
        expected = min(N, out["n_delta"] - 1)  # H0's rank at an exact minimum
        descending = np.sort(eig["H0"])[::-1]
        out |= {
            "exact": True,
            "rank_H0": split.rank_H0,
            "max_abs": float(np.abs(eig["H"]).max()),
            "lambda_max": float(eig["H"].max()),
            "lambda_min": float(eig["H"].min()),
            "negative_H": int((eig["H"] < -zero).sum()),
            "zero_H": int((np.abs(eig["H"]) <= zero).sum()),
            # how far H0's spectrum stays from 0: its expected-rank-th eigenvalue over its largest
            "H0_spread": float(descending[expected - 1] / descending[0]) if expected > 0 else None,
            "H0_plus_Hp": float((split.H0 + split.Hp - split.H).abs().max() / alpha**2),
            **{f"eig_{name}": values for name, values in eig.items()},
        }
        return out

    def loss_fn(output, y):
        per_point = loss_per_point(model.loss.name, output[None], y, kappa, model.loss.beta)
        return per_point.mean() / alpha**2

    probes = torch.randn(4, N, generator=torch.Generator().manual_seed(0), dtype=data[0].dtype)
    products = hvp(f, loss_fn, data, probes.to(data[0].device), params)
    if not products.any():  # H v = 0 for random v: H = 0 (a fitted minimum)
        return out | {"exact": False, "max_abs": 0.0, "lambda_max": 0.0, "zero_H": N}
    density = spectral_density(f, loss_fn, data, n_probes=4, steps=80, params=params)
    top = eigenvalues(f, loss_fn, data, k=min(6, N - 1), params=params, tol=1e-6)
    return out | {
        "exact": False,
        "lambda_max": float(top[0]),
        "top": top,
        "grid": density.grid,
        "density": density.density,
    }


def path(store, keys: Sequence[str], points: int = 25) -> dict[str, Any]:
    """The training loss (and error) along the straight path between two stored members of
    one ensemble (module docstring), their stored final losses and the barrier heights."""
    import torch

    from symscape.measure.landscape import interpolate
    from symscape.train.losses import loss_per_point

    (model, a, row_a), (model_b, b, row_b) = (_rebuild(store, k) for k in keys)
    if not torch.equal(model.x_train, model_b.x_train):
        from symscape.errors import InvalidOptionError

        raise InvalidOptionError(
            f"the runs {keys[0]} and {keys[1]} were trained on other data",
            fix="join two members of one ensemble (same network, same data)",
        )
    one = torch.ones((), dtype=model.x_train.dtype, device=model.x_train.device)
    kappa, beta, alpha = model.loss.kappa, model.loss.beta, model.alpha

    def loss_fn(output, y):
        return loss_per_point(model.loss.name, output[None], y, kappa, beta).mean() / alpha**2

    line = interpolate(
        member_model(model.arch, alpha),
        loss_fn,
        _data(model, [model, model_b]),
        a | {"share": 0 * one},
        b | {"share": one},
        points=points,
    )
    return {
        "keys": list(keys),
        "seeds": [row_a["seed"], row_b["seed"]],
        "stored_loss": [row_a["scalars"]["final"]["loss"], row_b["scalars"]["final"]["loss"]],
        "n_delta": [row_a["scalars"]["final"]["n_delta"], row_b["scalars"]["final"]["n_delta"]],
        "distance": float(
            sum(((a[k] - b[k]) ** 2).sum() for k in a).sqrt()
            / sum((a[k] ** 2).sum() for k in a).sqrt()
        ),
        **{f.name: getattr(line, f.name) for f in dataclasses.fields(line)},
    }


# --------------------------------------------------------------------------- the section
def run(scans: Sequence[Mapping[str, Any]], store_path: str | Path, **options) -> dict[str, Any]:
    """The appendix's record from the P ``scans`` of the jamming section and their store:
    the minima :func:`choose` picks, their :func:`spectra` and the two :func:`path` s.

    ``options``: ``exact_max`` and ``points`` (:data:`CONFIGS`).
    """
    from symscape.sweep import Store

    started = time.perf_counter()
    exact_max, points = options.get("exact_max", 2000), options.get("points", 25)
    chosen = choose(scans)
    record: dict[str, Any] = {"chosen": chosen, "scans": [_scan_row(s) for s in scans]}
    with Store(store_path, create=False) as store:
        where = chosen["spectra"]
        record["jammed"] = spectra(store, where["jammed"], exact_max) if where else None
        fitted = where and where["fitted"]
        record["fitted"] = spectra(store, fitted, exact_max) if fitted else None
        for name in PATHS:
            pair = chosen[name]
            record[name] = path(store, pair["keys"], points) if pair else None
    record["wall_time_s"] = round(time.perf_counter() - started, 2)
    return record


def _scan_row(scan: Mapping[str, Any]) -> dict[str, Any]:
    return {k: scan.get(k) for k in ("width", "N", "P_star", "bracket")}


def _jsonable(value):
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _scans(scale: str, runner, root: str | None, device: str) -> list[dict[str, Any]]:
    """The P scans of the jamming section's case ``CONFIGS[scale]["case"]``, read from the
    store (trained first where they are not there)."""
    from symscape.experiments._protocols import protocol_cases
    from symscape.experiments.jamming import PROTOCOLS, find_capacities

    cases = protocol_cases(PROTOCOLS, scale, "jamming", root)
    config = dataclasses.replace(cases[CONFIGS[scale]["case"]], device=device)
    return find_capacities(config, [(width, None) for width in config.widths], runner)


def section(
    scale: str,
    figures_folder: Path,
    out: Path,
    *,
    root: str | None = None,
    store: str | Path | None = None,
    executor: Any = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The appendix at ``scale``: ``landscape.json`` (the record), its figures, its summary."""
    from symscape.sweep.runner import Runner

    db = section_store(out, store)
    scans = _scans(scale, Runner(db, executor or "inprocess"), root, device)
    options = {k: v for k, v in CONFIGS[scale].items() if k != "case"}
    record = run(scans, db, **options) | {"scale": scale, "case": CONFIGS[scale]["case"]}
    (out / "landscape.json").write_text(json.dumps(record, default=_jsonable, indent=1) + "\n")
    written = save_figures(figures(record), figures_folder, "landscape")
    return summary(record) | {
        "record": "landscape.json",
        "figures": [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in written],
    }


_SPECTRUM = (
    "key", "seed", "outcome", "N", "P", "loss", "n_delta", "exact", "rank_H0", "max_abs",
    "lambda_max", "lambda_min", "negative_H", "zero_H", "H0_spread", "H0_plus_Hp",
)  # fmt: skip
_PATH = (
    "seeds", "stored_loss", "n_delta", "distance", "loss_a", "loss_b", "barrier",
    "barrier_linear", "error_a", "error_b", "error_barrier",
)  # fmt: skip


def summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers of a record that the report shows (no eigenvalue lists)."""

    def pick(value, names):
        return None if value is None else {k: _plain(value[k]) for k in names if k in value}

    return {
        "scale": record.get("scale"),
        "case": record.get("case"),
        "chosen": record["chosen"],
        "scans": record["scans"],
        "jammed": pick(record["jammed"], _SPECTRUM),
        "fitted": pick(record["fitted"], _SPECTRUM),
        **{name: pick(record[name], _PATH) for name in PATHS},
        "wall_time_s": record["wall_time_s"],
    }


def _plain(value):
    return json.loads(json.dumps(value, default=_jsonable))
