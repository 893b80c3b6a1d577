"""The main job's HTML report: built from the store alone, read in a real browser.

``data/quick_sections.json`` holds the five thesis sections' summaries (and appendix C's) of
a real ``symscape reproduce --scale quick`` run; the tests store them with
freshly drawn figures and build the report from that store.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from symscape.cli import main
from symscape.comparisons import DIFFERS, NOT_TESTABLE
from symscape.errors import DataFormatError, DataNotFoundError
from symscape.report import ORDER, write_report
from symscape.report.browser import check_page, find_chromium, problems
from symscape.report.sections import against, describe, ratio
from symscape.sweep import Store

SECTIONS = json.loads((Path(__file__).parent / "data" / "quick_sections.json").read_text())
ARTIFACTS = Path(
    os.environ.get("SYMSCAPE_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)


def _png(label: str) -> bytes:
    """A small real figure (so a browser has something to decode)."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 1, 4])
    ax.set_title(label, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


def _figure_paths(summary) -> list[str]:
    paths = list(summary.get("figures", []))
    for protocol in summary.get("protocols", []):
        paths += protocol["figures"]
    return paths


def _stored(path: Path, sections) -> Path:
    """A store at ``path`` holding ``sections`` (name -> summary) with their figures drawn."""
    with Store(path) as store:
        for name, summary in sections.items():
            files = {p: _png(p) for p in _figure_paths(summary) if p.endswith(".png")}
            store.put_section(
                name, "quick", summary, files, wall_s=12.5, environment={"torch": "x"}
            )
    return path


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    return _stored(tmp_path_factory.mktemp("report") / "symscape.db", SECTIONS)


@pytest.fixture(scope="module")
def report(store_path, tmp_path_factory) -> Path:
    return write_report(store_path, tmp_path_factory.mktemp("out") / "report.html")


def test_store_keeps_sections_and_their_files(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.sections() == {}  # a store of 'sweep run' has none
        store.put_section("engine", "quick", {"a": [1, 2]}, {"figures/x.png": b"\x89PNG"}, 3.0)
        store.put_section("engine", "quick", {"a": [3]}, {"figures/y.png": b"y"}, 4.0)  # replaced
    with Store(tmp_path / "s.db", create=False) as store:
        (entry,) = store.sections().values()
        assert entry["summary"] == {"a": [3]} and entry["files"] == ["figures/y.png"]
        assert entry["wall_s"] == 4.0 and entry["scale"] == "quick"
        assert store.section_file("engine", "figures/y.png") == b"y"
        with pytest.raises(KeyError, match="no file"):
            store.section_file("engine", "figures/x.png")


def test_comparisons_state_difference_ratio_and_interval():
    assert against(-0.54, -0.25, -0.61, -0.48) == "difference −0.29; outside the interval"
    assert against(-0.42, -0.5, -0.68, -0.28).endswith("reported value inside the 95 % interval")
    assert against(None, -0.5) == "not measured"
    assert ratio(2.0, 0.5) == "ratio 4"


def test_every_thesis_section_has_its_question_table_and_figures(store_path):
    with Store(store_path, create=False) as store:
        for name, entry in store.sections().items():
            part = describe(name, entry["summary"], lambda p, n=name: store.section_file(n, p))
            assert part.question and part.comparisons, name
            pngs = [p for p in _figure_paths(entry["summary"]) if p.endswith(".png")]
            assert [f.path for f in part.figures] == pngs and all(f.caption for f in part.figures)
            assert not any(f.caption == Path(f.path).stem.replace("_", " ") for f in part.figures)


def test_the_report_sets_measured_values_beside_the_reported_ones(report):
    html = report.read_text()
    ids = re.findall(r'<section id="(\w+)"', html)
    assert ids == [name for name in ORDER if name in SECTIONS]
    dd = SECTIONS["double_descent"]["fits"]["fluctuation_h"]
    # the fluctuation exponent in h, its interval, the theory's −1/2 and the verdict
    assert f"{dd['slope']:.2f} [{dd['ci_low']:.2f}, {dd['ci_high']:.2f}]".replace("-", "−") in html
    (row,) = [
        c
        for c in describe("double_descent", SECTIONS["double_descent"], lambda p: b"").comparisons
        if c.quantity == "exponent of ‖f_N − f̄_N‖ against h"
    ]
    assert row.reported == "≈ −0.5" and row.kind and row.comparison in html
    # rank H0 is checked against N_Δ − 1 (N_Δ ≤ N: ∇L = 0 ties the gradients) or N, not asserted
    t = SECTIONS["jamming"]["transition"]
    expected = t["n_delta"] - 1 if t["n_delta"] <= t["N"] else t["N"]
    assert f"= {expected} (exact at a minimum)" in html
    assert html.count("<img ") == sum(
        p.endswith(".png") for s in SECTIONS.values() for p in _figure_paths(s)
    )
    assert "data:image/png;base64," in html and "http" not in html


@pytest.mark.parametrize(
    ("lowest", "verdict"),
    [(-7e-13, "flat to the minimiser's curvature tolerance"), (-1e-3, "a saddle")],
)
def test_a_negative_eigenvalue_is_told_flat_or_saddle(lowest, verdict):
    jam = SECTIONS["jamming"]
    transition = {**jam["transition"], "negative_H": 1, "lowest_H_relative": lowest}
    part = describe("jamming", {**jam, "transition": transition}, lambda path: b"")
    (row,) = [c for c in part.comparisons if c.quantity.startswith("negative eigenvalues")]
    assert verdict in row.comparison and "λ_min/λ_max" in row.comparison


def test_a_double_descent_that_never_fitted_is_reported_not_a_traceback():
    summary = {**SECTIONS["double_descent"], "N_star": None}
    part = describe("double_descent", summary, lambda path: b"")
    rows = {c.quantity: c for c in part.comparisons}
    assert (
        rows["N* (the fitted fraction crosses 1/2; undecided runs count as not fitted)"].measured
        == "not reached"
    )
    cusp = rows["largest end-of-training test error (the cusp)"]
    assert cusp.kind == "not testable at this scale" and "no N*" in cusp.comparison


def _descent(errors, fitted, undecided):
    """A double-descent summary at N = 25, 50, …, 400 with these mean test errors and
    fitted and undecided fractions, N* located from them as the analysis does (floors
    0.001: a rise of 0.01 is beyond them); ``undecided=None``: a summary that predates it."""
    from symscape.experiments.double_descent_analysis import crossing_n_star

    Ns = [25, 50, 100, 200, 400]
    template = dict(SECTIONS["double_descent"]["points"][0])
    template.pop("undecided", None)
    points = [
        {
            **template,
            "width": float(i + 1),
            "N": N,
            "fitted": f,
            "test_error": e,
            "ensemble_test_error": e - 0.01,
            "error_floor": 0.001,
            **({} if undecided is None else {"undecided": undecided[i]}),
        }
        for i, (N, e, f) in enumerate(zip(Ns, errors, fitted, strict=True))
    ]
    N_star, located = crossing_n_star(Ns, fitted)
    return {**SECTIONS["double_descent"], "points": points, "N_star": N_star,
            "N_star_located": located}  # fmt: skip


FALLS = [0.30, 0.25, 0.24, 0.22, 0.18]  # the peak at the narrowest width, N = 25
JAMMED_BELOW_100 = [0, 0, 0, 1, 1]  # N* between 100 and 200


@pytest.mark.parametrize(
    ("errors", "fitted", "undecided", "kind", "why"),
    [
        # the peak at N = 100, next to N*
        ([0.20, 0.25, 0.30, 0.22, 0.18], JAMMED_BELOW_100, [1, 1, 0.5, 0, 0], "agrees",
         "next to N*"),
        # the peak two widths below N*, every run decided
        (FALLS, JAMMED_BELOW_100, [0] * 5, "differs", "from every N* the undecided"),
        # undecided runs, but too few to bring N* down to the peak
        (FALLS, JAMMED_BELOW_100, [0, 0.2, 0.2, 0, 0], "differs", "from every N*"),
        # the peak away from N*, but the runs next to N* still crawling toward their end
        (FALLS, JAMMED_BELOW_100, [0, 0, 0.4, 0, 0], "not testable", "end point"),
        # ... or the runs at the peak itself, or between it and N*
        (FALLS, JAMMED_BELOW_100, [0.4, 0, 0, 0, 0], "not testable", "N = 25)"),
        (FALLS, JAMMED_BELOW_100, [0, 0.4, 0, 0, 0], "not testable", "N = 50)"),
        # undecided runs which, fitted, would put N* next to the peak: their outcome decides
        (FALLS, JAMMED_BELOW_100, [1, 1, 0.5, 0, 0], "not testable", "any lower N*"),
        # a peak above N*: undecided runs can only lower N*, the peak stays away
        ([0.20, 0.22, 0.23, 0.30, 0.18], [0, 0.75, 1, 1, 1], [0.2, 0.25, 0, 0, 0], "differs",
         "from every N*"),
        # a summary from before undecided runs were recorded
        (FALLS, JAMMED_BELOW_100, None, "differs", "not recorded"),
        # the peak within the floor of the wider nets' error
        ([0.2] * 5, JAMMED_BELOW_100, [0] * 5, "not testable", "within the floor"),
    ],
)  # fmt: skip
def test_each_cusp_verdict_from_a_case_built_for_it(errors, fitted, undecided, kind, why):
    part = describe("double_descent", _descent(errors, fitted, undecided), lambda path: b"")
    (cusp,) = [c for c in part.comparisons if c.quantity.endswith("(the cusp)")]
    assert cusp.kind.startswith(kind) and why in cusp.comparison


def test_the_cusp_against_the_n_star_of_the_minimisers_bisection():
    """N* from the jamming minimiser's bisection: the N* rows say so, and the lowest N* its
    undecided runs allow (the summary's, not the flow's) decides whether a peak away from
    N* differs."""
    summary = _descent(FALLS, JAMMED_BELOW_100, [0] * 5)
    search = {"bracket": [120, 160], "outside": None, "tried": []}
    located = {**summary, "N_star": 140.0, "N_star_located": "bisection", "N_star_flow": 300.0,
               "N_star_search": search}  # fmt: skip

    def rows(summary):
        part = describe("double_descent", summary, lambda path: b"")
        return {c.quantity.split(" (")[0]: c for c in part.comparisons}

    decided = rows({**located, "N_star_lowest": 130.0})
    assert decided["N*"].measured == "140 (between N = 120 and 160)"
    assert decided["N* of the flow's own runs"].measured == "300"
    assert decided["largest end-of-training test error"].kind == DIFFERS
    allowed = rows({**located, "N_star_lowest": 40.0})  # its undecided runs reach the peak
    assert allowed["N*"].measured.endswith("undecided runs allow 40)")
    cusp = allowed["largest end-of-training test error"]
    assert cusp.kind == NOT_TESTABLE and "as low as 40" in cusp.comparison


def test_a_stored_section_of_another_shape_is_named_in_one_error(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.put_section("engine", "quick", {"wrong": 1}, {})
    with pytest.raises(DataFormatError, match=r"stored section 'engine'.*--recompute"):
        write_report(tmp_path / "s.db", tmp_path / "r.html")
    # reproduce's way: the page is written, that part shown as failed with the same reason
    write_report(tmp_path / "s.db", tmp_path / "r.html", broken="show")
    html = (tmp_path / "r.html").read_text()
    assert 'id="engine"' in html and "This section failed" in html and "--recompute" in html
    with pytest.raises(DataNotFoundError, match="cannot write the report"):
        write_report(store_path_of(tmp_path), tmp_path / "s.db" / "r.html")


def store_path_of(folder: Path) -> Path:
    """A store with one well-formed stability section and its figures."""
    return _stored(folder / "ok.db", {"stability": SECTIONS["stability"]})


def test_reproduce_refuses_a_store_that_writes_outside_its_folder(tmp_path):
    from symscape.reproduce import fingerprint, reproduce

    db = tmp_path / "s.db"
    with Store(db) as store:
        files = {"../escaped.txt": b"x"}
        store.put_section(
            "engine", "quick", {}, files, fingerprint=fingerprint("quick", None, "cpu")
        )
    with pytest.raises(DataFormatError, match="outside the results folder"):
        reproduce(out=tmp_path / "out", only=("engine",), db=db)
    assert not (tmp_path / "escaped.txt").exists()


def test_report_from_a_store_without_sections_says_how_to_get_one(tmp_path):
    Store(tmp_path / "empty.db").close()
    with pytest.raises(DataNotFoundError, match="symscape reproduce"):
        write_report(tmp_path / "empty.db", tmp_path / "r.html")
    (tmp_path / "notes.db").write_text("not a database")
    with pytest.raises(DataFormatError, match="not a symscape sweep store"):
        write_report(tmp_path / "notes.db", tmp_path / "r.html")


def test_report_command(store_path, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["report", "--db", str(store_path), "--out", str(out), "--only", "stability"]) == 0
    assert re.findall(r'<section id="(\w+)"', out.read_text()) == ["stability"]
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
    assert "no sweep store" in capsys.readouterr().err
    assert main(["report", "--db", str(store_path), "--only", "jaming"]) == 2
    assert "unknown section(s) jaming" in capsys.readouterr().err


# --------------------------------------------------------------------------- in a browser
def _chromium_or_skip() -> None:
    if find_chromium() is None:
        if os.environ.get("SYMSCAPE_REQUIRE_BROWSER"):
            pytest.fail("SYMSCAPE_REQUIRE_BROWSER is set but no Chromium was found")
        pytest.skip("no Chromium (install Debian's chromium package)")


def test_the_report_as_a_person_sees_it(report):
    _chromium_or_skip()
    shot = ARTIFACTS / "report_screenshot.png"
    seen = check_page(report, screenshot=shot)
    assert problems(seen) == []
    assert seen["sections"] == [name for name in ORDER if name in SECTIONS]
    assert len(seen["images"]) == report.read_text().count("<img ")
    assert all(min(i["natural"]) > 0 and min(i["shown"]) > 0 for i in seen["images"])
    comparison_tables = [t for t in seen["tables"] if t["cls"] == "comparisons"]
    assert len(comparison_tables) == len(SECTIONS) and all(t["rows"] > 0 for t in comparison_tables)
    assert shot.stat().st_size > 10_000  # the screenshot, kept as the test's artefact


def test_the_browser_check_sees_a_figure_the_store_lost(tmp_path):
    _chromium_or_skip()
    summary = SECTIONS["stability"]
    with Store(tmp_path / "s.db") as store:  # its figures were never stored
        store.put_section("stability", "quick", summary, {})
    page = write_report(tmp_path / "s.db", tmp_path / "r.html")
    found = problems(check_page(page))
    assert len(found) == 4 and all("figure is missing" in p for p in found)


def test_the_browser_check_sees_broken_and_external_figures(tmp_path):
    _chromium_or_skip()
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body><table><tbody><tr><td>1</td></tr></tbody></table>"
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        '<img alt="remote" src="https://example.org/x.png"></body></html>'
    )
    found = problems(check_page(page))
    assert any("figure not loaded: 'broken'" in p for p in found)
    assert any("references outside the page" in p and "example.org" in p for p in found)
