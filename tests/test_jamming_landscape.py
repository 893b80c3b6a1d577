"""Appendix C: the landscape around jamming, read back from a small stored P scan."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from symscape.comparisons import Figure as ReportFigure
from symscape.errors import InvalidOptionError
from symscape.experiments import jamming_landscape as appendix
from symscape.experiments.jamming import JammingConfig
from symscape.experiments.jamming.search import measure_many
from symscape.experiments.jamming_landscape_report import describe, figures, markdown_section
from symscape.measure.hessian import hessian_at_minimum
from symscape.sweep import Store
from symscape.sweep.runner import Runner
from symscape.train.losses import loss_per_point

# 8 seeds of a width-2 net (N = 14) on sphered random data in d = 4: at P = 12 two seeds
# jam and six fit, at P = 16 one jams (a second or two of training in all)
TINY = JammingConfig(
    data={"d": 4, "n_test": 10, "center": True, "sphere": True},
    P_values=(),
    widths=(2.0,),
    seeds=tuple(range(8)),
    max_steps=3000,
)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    db = tmp_path_factory.mktemp("landscape") / "symscape.db"
    runner = Runner(db, "inprocess")
    tried = measure_many([(TINY.train_configs(P, 2.0), "jamming-h2") for P in (12, 16)], runner)
    scan = {"width": 2.0, "N": tried[0]["N"], "P_star": 14.0, "bracket": [12, 16], "tried": tried}
    return [scan], db


@pytest.fixture(scope="module")
def record(stored):
    scans, db = stored
    return appendix.run(scans, db, points=9)


def _rebuilt(db, key):
    with Store(db, create=False) as store:
        return appendix._rebuild(store, key)


def test_the_chosen_minima_are_jammed_and_fitted_seeds_of_the_stored_scan(stored, record):
    [scan], _ = stored
    outcome = {k: o for t in scan["tried"] for k, o in zip(t["keys"], t["outcomes"], strict=True)}
    chosen = record["chosen"]
    assert chosen["spectra"]["same_P"]  # a point with both: same network, data and P
    assert outcome[chosen["spectra"]["jammed"]] == "jammed"
    assert outcome[chosen["spectra"]["fitted"]] == "fitted"
    assert [outcome[k] for k in chosen["jammed_path"]["keys"]] == ["jammed", "jammed"]
    assert [outcome[k] for k in chosen["fitted_path"]["keys"]] == ["fitted", "fitted"]
    assert record["jammed"]["outcome"] == "jammed" and record["fitted"]["outcome"] == "fitted"


def test_rank_of_h0_is_within_one_of_n_delta_at_the_jammed_minimum(stored, record):
    jammed = record["jammed"]
    assert jammed["exact"] and jammed["n_delta"] >= 1
    assert abs(jammed["rank_H0"] - jammed["n_delta"]) <= 1
    assert jammed["rank_H0"] <= jammed["n_delta"]  # a sum of N_Δ rank-one terms
    # the same spectra as the CenteredNetwork's own exact Hessian (reverse over reverse)
    model, params, _ = _rebuilt(stored[1], jammed["key"])
    reference = hessian_at_minimum(model, {k: v[None] for k, v in params.items()})
    for name in ("H", "H0", "Hp"):
        expected = np.sort(reference[f"eig_{name}"])
        assert np.allclose(np.sort(jammed[f"eig_{name}"]), expected, rtol=0, atol=1e-10)
    assert jammed["n_delta"] == reference["n_delta"] and jammed["H0_plus_Hp"] < 1e-12
    assert jammed["lambda_max"] > 0 and jammed["zero_H"] + jammed["negative_H"] < jammed["N"]


def test_the_hessian_vanishes_at_the_fitted_minimum(record):
    fitted = record["fitted"]
    assert fitted["n_delta"] == 0 and fitted["loss"] == 0.0
    assert fitted["max_abs"] == 0.0 and fitted["zero_H"] == fitted["N"]
    assert not np.asarray(fitted["eig_H"]).any()


def _loss_at(db, keys, t):
    """An independent evaluation: the centred members' loss at (1 − t) w_a + t w_b."""
    (model, a, _), (other, b, _) = (_rebuilt(db, k) for k in keys)
    w = {k: ((1 - t) * a[k] + t * b[k])[None] for k in a}
    offset = (1 - t) * model.f0_train + t * other.f0_train
    F = model.alpha * (model.arch.apply(w, model.x_train) - offset)
    per_point = loss_per_point("quadratic_hinge", F, model.y_train, model.loss.kappa)
    return float(per_point.mean() / model.alpha**2)


@pytest.mark.parametrize("name", ["jammed_path", "fitted_path"])
def test_the_path_ends_are_the_members_stored_final_losses(stored, record, name):
    line = record[name]
    assert line["loss_a"] == pytest.approx(line["stored_loss"][0], rel=1e-9, abs=1e-15)
    assert line["loss_b"] == pytest.approx(line["stored_loss"][1], rel=1e-9, abs=1e-15)
    assert line["t"][0] == 0 and line["t"][-1] == 1 and len(line["t"]) == 9
    middle = _loss_at(stored[1], line["keys"], float(line["t"][4]))
    assert line["loss"][4] == pytest.approx(middle, rel=1e-12)
    peak = max(line["loss"]) - max(line["loss_a"], line["loss_b"])
    assert line["barrier"] == pytest.approx(max(peak, 0.0))


def test_a_path_between_runs_on_other_data_is_refused(stored):
    [scan], db = stored
    keys = [scan["tried"][0]["keys"][0], scan["tried"][1]["keys"][0]]  # P = 12 and P = 16
    with Store(db, create=False) as store, pytest.raises(InvalidOptionError, match="other data"):
        appendix.path(store, keys)


def test_choose_falls_back_to_another_p_and_says_so():
    below = {"P": 8, "width": 2.0, "N": 14, "keys": ["a", "b"], "outcomes": ["fitted"] * 2}
    past = {"P": 12, "width": 2.0, "N": 14, "keys": ["c", "d"], "outcomes": ["jammed"] * 2}
    chosen = appendix.choose([{"P_star": 10.0, "tried": [below, past]}])
    assert chosen["spectra"] | {"P_star": 10.0} == {
        "P": 12, "width": 2.0, "N": 14, "P_star": 10.0, "jammed": "c", "fitted": "a",
        "fitted_P": 8, "same_P": False,
    }  # fmt: skip
    undecided = {**past, "outcomes": ["max_steps", "max_steps"]}
    chosen = appendix.choose([{"P_star": 10.0, "tried": [below, undecided]}])
    assert chosen["spectra"] is None and chosen["jammed_path"] is None
    assert chosen["fitted_path"]["keys"] == ["a", "b"]
    assert appendix.choose([{"P_star": None, "tried": [past]}]) == dict.fromkeys(
        ("spectra", *appendix.PATHS)
    )


def test_the_section_writes_its_record_figures_and_a_described_summary(
    stored, tmp_path, monkeypatch
):
    scans, db = stored
    monkeypatch.setattr(appendix, "_scans", lambda *args: scans)
    folder = tmp_path / "figures"
    folder.mkdir()
    summary = appendix.section("quick", folder, tmp_path, store=db)
    summary = json.loads(json.dumps(summary))  # as the store gives it back
    record = json.loads((tmp_path / summary["record"]).read_text())
    assert record["jammed"]["rank_H0"] == summary["jammed"]["rank_H0"]
    assert all((tmp_path / path).is_file() for path in summary["figures"])
    stems = {path.rsplit("/", 1)[-1] for path in summary["figures"] if path.endswith(".png")}
    assert {"landscape_spectrum.png", "landscape_jammed_path.png"} <= stems
    part = describe(summary)
    assert part.key == "landscape" and len(part.comparisons) >= 6
    assert all(row.reported == "—" and row.kind == "" for row in part.comparisons)
    assert all(isinstance(f, ReportFigure) and f.caption for f in part.figures)
    text = markdown_section(summary)
    assert f"{summary['jammed']['rank_H0']} (N_Δ − 1 = {summary['jammed']['n_delta'] - 1})" in text


def test_figures_are_pure_and_draw_every_part(record, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    drawn = figures(json.loads(json.dumps(record, default=appendix._jsonable)))
    assert set(drawn) == {"spectrum", *(p for p in appendix.PATHS if record[p])}
    assert all(isinstance(fig, Figure) for fig in drawn.values())
    assert list(tmp_path.iterdir()) == []


def test_the_member_model_carries_its_centring_offset():
    from symscape.nets import FullyConnected

    arch = FullyConnected(input_shape=(3,), depth=1, width=4)
    params = arch.initialize([0, 1], dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    f0 = arch.apply(params, x)  # [2, 5, 1]
    f = appendix.member_model(arch, alpha=2.0)
    one = {k: v[0] for k, v in params.items()}
    assert torch.equal(f(one, torch.cat([x, f0[0]], 1)), torch.zeros(5, 1, dtype=torch.float64))
    share = one | {"share": torch.tensor(1.0, dtype=torch.float64)}
    expected = 2.0 * (f0[0] - f0[1])
    assert torch.allclose(f(share, torch.cat([x, f0[0], f0[1]], 1)), expected)


def test_beyond_the_exact_limit_lanczos_finds_the_same_top_and_a_zero_h(stored, record):
    _, db = stored
    with Store(db, create=False) as store:
        jammed = appendix.spectra(store, record["jammed"]["key"], exact_max=4)
        fitted = appendix.spectra(store, record["fitted"]["key"], exact_max=4)
    assert not jammed["exact"] and jammed["N"] > 4
    exact_top = np.sort(record["jammed"]["eig_H"])[::-1][:2]
    assert np.allclose(jammed["top"][:2], exact_top, rtol=1e-6, atol=1e-12 * exact_top[0])
    mass = np.trapezoid(jammed["density"], jammed["grid"])
    assert mass == pytest.approx(1.0, abs=0.02)  # the SLQ density is normalised
    assert fitted["max_abs"] == 0.0 and fitted["zero_H"] == fitted["N"]
    drawn = figures({"jammed": jammed, "fitted": fitted, "chosen": record["chosen"]})
    assert drawn["spectrum"].axes[0].get_ylabel() == "density of H (SLQ)"


def test_describe_says_what_the_stored_runs_lacked():
    where = {"P": 12, "width": 2.0, "N": 14, "P_star": 10.0, "jammed": "c", "fitted": None}
    jammed = {"seed": 0, "n_delta": 3, "P": 12, "N": 14, "exact": False, "lambda_max": 2.0}
    summary = {"chosen": {"spectra": where | {"same_P": False}}, "jammed": jammed}
    part = describe(summary | dict.fromkeys(("fitted", *appendix.PATHS)) | {"figures": []})
    text = {row.quantity: (row.measured, row.verdict) for row in part.comparisons}
    assert text["minima measured"][1] == "no fitted seed of this network below its P* was stored"
    assert text["λ_max(H) at the jammed minimum"][0] == "2"
    assert [m for m, _ in text.values()].count("none in the stored runs") == 3
