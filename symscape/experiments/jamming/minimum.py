"""The jammed minimum at the transition, read back from the store.

At the narrowest width of the last bracket that mostly jams, one jammed
seed is rebuilt from its stored parameters and measured:

* the gaps Δ_μ = κ − y_μ F(x_μ), on the unsatisfied side (Δ > 0) and the
  satisfied side (Δ < 0);
* the Hessian of the loss at that minimum, H = H₀ + H_p with
  H₀ = (1/P) Σ_{Δ_μ>0} ∇Δ_μ ∇Δ_μᵀ (exact, from the per-sample gradients),
  its spectrum, the rank of H₀ (which equals N_Δ at a jammed minimum where
  N_Δ ≤ N) and the number of negative eigenvalues of H
  (:mod:`symscape.measure.hessian`);
* the gap exponents θ and γ, pooled over every jammed seed there
  (:func:`~symscape.experiments.jamming.analysis.gap_exponents`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symscape.experiments.jamming.analysis import gap_exponents
from symscape.measure.hessian import hessian_at_minimum, hessian_extremes

__all__ = ["at_transition", "jammed_minimum", "just_past", "pooled_gaps"]


def _model_of_row(row: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
    """The trained network of a stored run, rebuilt: (model, params of its one member)."""
    import torch

    from symscape.data import load
    from symscape.train import TrainConfig
    from symscape.train.models import CenteredNetwork, LossSpec

    config = TrainConfig.from_dict(row["config"])
    ds = load(config.dataset, **config.data, dtype=config.dtype, device=config.device)
    arch = config.architecture(ds.input_shape, 1 if ds.binary else ds.num_classes)
    params0 = arch.initialize(config.seeds, dtype=config.dtype, device=config.device)
    model = CenteredNetwork(
        arch, params0, ds, config.alpha, LossSpec(config.loss, config.kappa, config.beta)
    )
    params = {
        name.removeprefix("params/"): torch.as_tensor(value, device=config.device)[None]
        for name, value in arrays.items()
        if name.startswith("params/")
    }
    return model, params


def _seed_gaps(store, keys: Sequence[str], model) -> list[np.ndarray]:
    """The gaps of each stored run in ``keys`` (from its final training outputs)."""
    import torch

    from symscape.train.losses import gaps

    out = []
    for key in keys:
        output = torch.as_tensor(store.arrays(key)["train_output"])[None]
        out.append(gaps(output, model.y_train.cpu(), model.loss.kappa)[0].numpy())
    return out


def _row_gaps(row: Mapping[str, Any], output: np.ndarray) -> np.ndarray:
    """The gaps Δ_μ = κ − y_μ F(x_μ) of one stored run, from its final training outputs."""
    import torch

    from symscape.data import load
    from symscape.train import TrainConfig
    from symscape.train.losses import gaps

    config = TrainConfig.from_dict(row["config"])
    ds = load(config.dataset, **config.data, dtype=config.dtype)
    out = gaps(torch.as_tensor(output)[None], ds.y_train, config.kappa)
    return out[0].numpy()


def _jammed(point: Mapping[str, Any]) -> list[str]:
    return [k for k, o in zip(point["keys"], point["outcomes"], strict=True) if o == "jammed"]


def just_past(
    scans: Sequence[Mapping[str, Any]], searches: Sequence[Mapping[str, Any]], window: float
) -> list[str]:
    """The store keys of the jammed runs just past the transition: in a P scan, at
    P* < P ≤ ``window`` · P*; in a width search, at the narrow end of the last bracket."""
    keys = []
    for scan in scans:
        if scan.get("P_star") is None:
            continue
        for t in scan["tried"]:
            if scan["P_star"] < t["P"] <= window * scan["P_star"]:
                keys += _jammed(t)
    for search in searches:
        if search.get("bracket") is None:
            continue
        low = search["width_bracket"][0]
        keys += _jammed(next(t for t in search["tried"] if t["width"] == low))
    return keys


def pooled_gaps(keys: Sequence[str], store_path: Path, minima: int, count: int) -> dict[str, Any]:
    """θ and γ from the gaps of the jammed minima ``keys`` (:func:`just_past`), pooled.

    Only minima just past the transition carry the critical gaps (small
    N_Δ/N; one deeply jammed minimum says nothing about them, SCIENCE.md §1).
    The exponents are fitted only with at least ``minima`` minima and
    ``count`` gaps on each side; otherwise ``untestable`` says what is missing
    and no exponent is given.
    """
    import torch

    from symscape.sweep import Store
    from symscape.train.loop import StopRules

    per_minimum, ratios = [], []
    with Store(store_path, create=False) as store:
        for key in keys:
            [row] = store.get([key])
            gaps = _row_gaps(row, store.arrays(key)["train_output"])
            per_minimum.append(gaps)
            ratios.append(row["scalars"]["final"]["n_delta"] / row["scalars"]["n_weights"])
    out: dict[str, Any] = {
        "minima": len(per_minimum),
        "n_delta_over_N": float(np.median(ratios)) if ratios else None,
        "unsatisfied": int(sum((g > 0).sum() for g in per_minimum)),
        "satisfied": int(sum((g < 0).sum() for g in per_minimum)),
    }
    missing = []
    if len(per_minimum) < minima:
        missing.append(
            f"{len(per_minimum)} jammed minima just past the transition ({minima} needed)"
        )
    fewest = min(out["unsatisfied"], out["satisfied"])
    if fewest < count:
        missing.append(f"{fewest} gaps on one side ({count} needed)")
    if missing:
        out["untestable"] = "; ".join(missing)
        return out
    tol = StopRules().tolerance(torch.float64, 1.0)  # as the loop counts N_Δ
    out.update(gap_exponents(per_minimum, tol=tol))
    return out


def jammed_minimum(point: Mapping[str, Any], store_path: Path) -> dict[str, Any] | None:
    """Gaps and Hessian of the first jammed run of one tried ``point`` (``None`` if none)."""
    from symscape.sweep import Store

    jammed = _jammed(point)
    if not jammed:
        return None
    with Store(store_path, create=False) as store:
        [row] = store.get(jammed[:1])
        model, params = _model_of_row(row, store.arrays(jammed[0]))
    if point["N"] > 4000:  # too large for the exact Hessian: its extreme eigenvalues
        details = hessian_extremes(model, params)
    else:
        details = hessian_at_minimum(model, params)
        details.pop("H")
    details.update(width=point["width"], seed=row["seed"])
    return details


def at_transition(search: Mapping[str, Any], store_path: Path) -> dict[str, Any] | None:
    """Gaps and Hessian of one jammed seed at the narrow end of the last bracket; the gap
    exponents θ and γ from the gaps of every jammed seed there."""
    from symscape.sweep import Store

    if search["bracket"] is None:
        return None
    low = search["width_bracket"][0]
    point = next(t for t in search["tried"] if t["width"] == low)
    jammed = [k for k, o in zip(point["keys"], point["outcomes"], strict=True) if o == "jammed"]
    if not jammed:
        return None
    with Store(store_path, create=False) as store:
        [row] = store.get(jammed[:1])
        arrays = store.arrays(jammed[0])
        model, params = _model_of_row(row, arrays)
        per_seed = _seed_gaps(store, jammed, model)
    if point["N"] > 4000:  # too large for the exact Hessian: its extreme eigenvalues
        details = hessian_extremes(model, params)
    else:
        details = hessian_at_minimum(model, params)
        details.pop("H")  # the spectra are kept; the matrix is N² numbers
    from symscape.train.loop import StopRules

    tol = StopRules().tolerance(model.f0_train.dtype, model.loss.kappa)
    details.update(
        width=low,
        seed=row["seed"],
        seeds_pooled=len(jammed),
        gap_exponents=gap_exponents(per_seed, tol=tol),
    )
    return details
