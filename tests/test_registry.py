"""The contract of the section registry: one list that reproduce, the report and the CLI read."""

from __future__ import annotations

import pytest

from symscape.config import JsonConfig
from symscape.errors import InvalidOptionError
from symscape.experiments import registry

EXPECTED = (
    "data",
    "engine",
    "jamming",
    "landscape",
    "double_descent",
    "feature_lazy",
    "stability",
    "equivariance",
)


def test_the_sections_in_order():
    assert registry.names() == EXPECTED


def test_reproduce_report_and_cli_read_the_registry():
    from symscape.cli.reproduce import reproduce as command
    from symscape.report import ORDER
    from symscape.report.sections import DESCRIBERS, HEADINGS
    from symscape.reproduce import SECTIONS

    (only,) = [p for p in command.params if p.name == "only"]
    assert tuple(only.type.choices) == SECTIONS == registry.names()
    assert sorted(ORDER) == sorted(SECTIONS) and registry.report_order() == ORDER
    assert ORDER[-3:] == ("data", "engine", "landscape")  # the appendices last
    assert set(DESCRIBERS) == set(HEADINGS) == set(SECTIONS)


@pytest.mark.parametrize("section", registry.REGISTRY, ids=registry.names())
def test_every_section_has_its_hooks(section):
    module = section.load()
    assert module.__name__ == section.module
    for hook in ("section", "markdown_section"):
        assert callable(getattr(module, hook)), f"{section.name} lacks {hook}"
    assert section.title and section.question


def test_an_unknown_section_is_one_line():
    with pytest.raises(InvalidOptionError, match="choose among data, engine"):
        registry.get("nope")


def test_old_names_still_import():
    from symscape.experiments.engine import ENGINE_CONFIGS as configs
    from symscape.reproduce import ENGINE_CONFIGS, check_sections, engine_section

    assert ENGINE_CONFIGS is configs and callable(engine_section)
    assert check_sections(["double-descent"]) == ("double_descent",)


# --------------------------------------------------------------------------- figures
EXPERIMENTS = [section for section in registry.REGISTRY if not section.appendix]


def _tiny_records(name: str, db) -> list:
    """Small real records of experiment ``name`` (seconds each)."""
    module = registry.get(name).load()
    if name == "jamming":
        config = module.JammingConfig(
            data={"d": 5, "n_test": 20}, P_values=(24,), seeds=(0, 1), width_max=8.0, bisections=1
        )
        return [module.run(config, db)]
    if name == "double_descent":
        config = module.DoubleDescentConfig(
            data={"P": 60, "n_test": 100, "labels": "parity", "pca": 10},
            widths=(2.0, 4.0),
            seeds=(0, 1),
            max_steps=500,
            n_bootstrap=0,
        )
        return [module.run(config, db)]
    if name == "feature_lazy":
        config = module.FeatureLazyConfig(
            data={"P": 32, "n_test": 100, "d": 4},
            widths=(8.0, 16.0),
            alphas=(0.1, 10.0),
            seeds=(0, 1),
            max_steps=200,
            kernel_points=8,
            n_bootstrap=0,
        )
        return [module.run(config, db)]
    if name == "equivariance":
        config = module.EquivarianceConfig(
            P=(4, 8), seeds=(0, 1), steps=5, n_points=4, n_test=16, l_max=1, layers=1,
            multiplicity=4, width=16, n_bootstrap=10, threads=1,
        )  # fmt: skip
        return [module.run(config, db)]
    assert name == "stability"
    config = module.quick_config(
        architectures=("fc:0.25", "lenet:0.5"),
        seeds=(0, 1),
        epochs=1,
        n_points=20,
        deltas=(0.5, 1.0),
        n_bootstrap=10,
        data={"image_size": 16, "P": 100, "n_test": 50},
    )
    return [module.run(config)]


def _listing(folder) -> set:
    return {str(path) for path in folder.rglob("*")}


@pytest.mark.parametrize("section", EXPERIMENTS, ids=[s.name for s in EXPERIMENTS])
def test_figures_are_pure_functions_of_a_record(section, tmp_path, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    module = section.load()
    records = _tiny_records(section.name, tmp_path / "store.db")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    users = plt.figure()  # a notebook user's open figure: it must stay open
    backend = matplotlib.get_backend()
    before, open_before = (_listing(tmp_path), _listing(work)), plt.get_fignums()
    for record in records:
        header = {"experiment", "version", "config", "host", "wall_time_s"}
        assert header <= set(record) and record["experiment"] == section.name
        drawn = module.figures(record)
        assert drawn and all(isinstance(fig, Figure) for fig in drawn.values())
        assert all(isinstance(stem, str) and stem for stem in drawn)
    assert (_listing(tmp_path), _listing(work)) == before  # nothing written
    assert plt.get_fignums() == open_before  # no pyplot figure opened (or closed)
    assert plt.fignum_exists(users.number) and matplotlib.get_backend() == backend
    plt.close(users)


# --------------------------------------------------------------------------- describe
def test_the_scales_are_the_protocols_every_section_has():
    from symscape.experiments.engine import ENGINE_CONFIGS
    from symscape.reproduce import SCALES

    common = set(ENGINE_CONFIGS)
    for section in EXPERIMENTS:
        common &= set(section.load().PROTOCOLS)
    assert set(SCALES) == common
    from symscape.cli.reproduce import reproduce as command

    (scale,) = [p for p in command.params if p.name == "scale"]
    assert tuple(scale.type.choices) == tuple(SCALES)


def test_every_experiment_exposes_every_part():
    for section in EXPERIMENTS:
        module = section.load()
        assert isinstance(module.PROTOCOLS, dict), section.name
        assert {"quick", "paper"} <= set(module.PROTOCOLS), section.name
        for name in ("run", "figures", "describe", "section", "markdown_section"):
            assert callable(getattr(module, name)), f"{section.name} lacks {name}"
        assert issubclass(module.Config, JsonConfig), section.name
        configs = [c for cases in module.PROTOCOLS.values() for c in cases.values()]
        assert configs and all(type(c) is module.Config for c in configs), section.name
        assert module.describe is section.describer()


APPENDICES = {
    "data": [
        {"name": "lost", "kind": "files", "status": "not found", "reason": "no folder"},
        {"name": "teacher", "kind": "synthetic", "status": "ok", "input_shape": [10], "P": 200,
         "n_test": 1000, "preview": "figures/data_teacher.png"},
    ],
    "engine": {
        "config": {"dataset": "teacher"},
        "status": ["fitted", "fitted"],
        "final": {"test_error": [0.2, 0.3], "ensemble_test_error": 0.1},
        "figure": "figures/engine_training.png",
    },
}  # fmt: skip


@pytest.mark.parametrize("section", registry.REGISTRY, ids=registry.names())
def test_describe_returns_comparisons_for_a_stored_summary(section):
    import json
    from pathlib import Path

    from symscape.comparisons import VERDICTS, Comparison, Part

    summaries = json.loads((Path(__file__).parent / "data" / "quick_sections.json").read_text())
    summaries |= APPENDICES  # the stored quick sections: the thesis's results and appendix C
    part = section.describer()(summaries[section.name])
    assert isinstance(part, Part) and part.key == section.name
    assert (part.title, part.question) == section.heading
    if section.name != "data":  # the data sets' appendix is a table, not a comparison
        assert part.comparisons
    for row in part.comparisons:
        assert isinstance(row, Comparison)
        for field in ("quantity", "measured", "interval", "reported", "verdict"):
            assert isinstance(getattr(row, field), str), (section.name, field)
        assert row.quantity and row.measured
        if row.reported not in ("", "—"):  # beside a paper's value: one of the three verdicts
            assert row.kind in VERDICTS, (section.name, row.quantity, row.kind)
            assert row.comparison.startswith(row.kind), (section.name, row.quantity)
