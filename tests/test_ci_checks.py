"""CI's own checks can fail: the science check of the main job's summary and the rule that a
dependency the test command installs may not skip a test."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location(
        "check_science", ROOT / ".ci" / "check_science.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_science_check_passes_the_stored_quick_sections_and_fails_broken_ones():
    check = _checker().check
    summary = json.loads((ROOT / "tests" / "data" / "quick_sections.json").read_text())
    sections = tuple(summary)
    assert check(summary, sections) == []

    broken = copy.deepcopy(summary)
    next(r for r in broken["equivariance"]["rows"] if r["model"] == "equivariant")[
        "rotation_error"
    ] = 1e-3
    fc = next(r for r in broken["stability"]["rows"] if r["architecture"].startswith("fc"))
    fc["R_init"] = 0.2
    broken["jamming"]["control"]["ratios"][0]["ratio"] = 1.6
    problems = check(broken, sections)
    assert len(problems) == 3, problems
    assert any("rotation error 1.00e-03" in p for p in problems)
    assert any("R_f at init 0.2 outside [0.5, 2]" in p for p in problems)
    assert any("P*/N = 1.6" in p for p in problems)
    del broken["stability"]
    assert any("stability is missing" in p for p in check(broken, sections))


def test_the_science_check_fails_a_row_beside_a_paper_value_without_a_verdict(monkeypatch):
    """A describer that drops one verdict (a row with a reported value and no kind)."""
    from symscape.experiments.registry import Section

    checker = _checker()
    summary = json.loads((ROOT / "tests" / "data" / "quick_sections.json").read_text())
    real = Section.describer

    def without_a_verdict(section):
        describe = real(section)
        if section.name != "equivariance":
            return describe

        def stripped(*args, **kwargs):
            part = describe(*args, **kwargs)
            rows = list(part.comparisons)
            first = next(i for i, row in enumerate(rows) if row.reported not in ("", "—"))
            rows[first] = dataclasses.replace(rows[first], kind="")
            return dataclasses.replace(part, comparisons=rows)

        return stripped

    monkeypatch.setattr(Section, "describer", without_a_verdict)
    problems = checker.check(summary, tuple(summary))
    assert len(problems) == 1 and problems[0].startswith("equivariance: row "), problems
    assert problems[0].endswith("has no verdict")


def test_a_skip_for_a_missing_dependency_of_the_test_command_fails(tmp_path):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_skips.py").write_text(
        "import sys\nimport pytest\n\n"
        "def test_needs_ray(monkeypatch):\n"
        "    monkeypatch.setitem(sys.modules, 'ray', None)\n"
        "    pytest.importorskip('ray')\n\n"
        "def test_needs_an_optional_gpu_library():\n"
        "    pytest.importorskip('cuequivariance_torch_not_here')\n"
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    env = {"PATH": "", "SYMSCAPE_REQUIRE_EXTRAS": "test,ray,slurm,parquet"}
    strict = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "1 failed, 1 skipped" in strict.stdout, strict.stdout
    assert "ray is a dependency of symscape[test,ray,slurm,parquet]" in strict.stdout
    env.pop("SYMSCAPE_REQUIRE_EXTRAS")
    lenient = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "2 skipped" in lenient.stdout, lenient.stdout
