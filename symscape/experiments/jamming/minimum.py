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

__all__ = ["at_transition"]


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
