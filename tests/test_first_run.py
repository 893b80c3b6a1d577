"""The first run of a new user: what the main job needs is installed with it, a failing
section costs only itself, a rerun retries what failed, and bad input is one line."""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from pathlib import Path

import pytest

from symscape.cli import main
from symscape.sweep import Store

ROOT = Path(__file__).parent.parent

# imported by symscape only behind a MissingDependencyError naming the extra to install:
# module -> (the extra, the requirement of that extra that brings it)
OPTIONAL = {
    "ray": ("ray", "ray"),
    "submitit": ("slurm", "submitit"),
    "pyarrow": ("parquet", "pyarrow"),
    "cuequivariance": ("cuequivariance", "cuequivariance-torch"),
    "cuequivariance_torch": ("cuequivariance", "cuequivariance-torch"),
}
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn"}


def _imported_modules() -> dict[str, set[str]]:
    """Every third-party top-level module that symscape's source imports (statements and
    ``importlib.import_module("literal")`` calls), with the files that import it."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "symscape").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "symscape":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _requirement_name(requirement: str) -> str:
    for stop in "<>=!~;[ ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def test_every_import_of_symscape_is_a_core_dependency_or_a_declared_extra():
    """`pip install symscape` must give everything the main job reaches: a module imported
    anywhere in symscape is a core dependency, or one of the few optional ones, each in an
    extra (the main job of an earlier release died after 14 minutes on e3nn)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras = {
        name: {_requirement_name(r) for r in requirements}
        for name, requirements in project["optional-dependencies"].items()
    }
    imported = _imported_modules()
    assert {"torch", "numpy", "e3nn", "click"} <= set(imported)  # the scan sees imports
    for module, files in sorted(imported.items()):
        distribution = DISTRIBUTIONS.get(module, module).replace("_", "-").lower()
        if module in OPTIONAL:
            extra, requirement = OPTIONAL[module]
            assert requirement in extras[extra], (module, extra)
            assert requirement not in core, f"{module} is optional and core at once"
        else:
            assert distribution in core, f"{module} (in {sorted(files)}) is no core dependency"
    assert "e3nn" in core and extras["equivariant"] == {"e3nn"}  # the old extra: an alias


# ------------------------------------------------------------------ a failing section


def _run_keys(db: Path) -> dict[str, tuple[str, float, str]]:
    """key -> (status, finished, model) of every run of the store ``db``."""
    with Store(db) as store:
        return {
            row["key"]: (row["status"], row["finished"], row["config"]["model"])
            for row in store.rows()
        }


def test_a_failing_section_keeps_the_report_and_a_rerun_retries_only_what_failed(
    tmp_path, monkeypatch, capsys
):
    """The equivariant network's dependency made unimportable: the equivariance section
    fails (its MLP runs finish, its equivariant runs fail), the data section finishes, the
    report shows both, the exit code is 1; a second call with the fault removed takes the
    data section and the finished runs from the store and retries only the failed runs."""
    import symscape.equivariant.network as network

    def unimportable(*args, **kwargs):
        raise ImportError("No module named 'e3nn' (made unimportable by this test)")

    out = tmp_path / "results"
    command = ["reproduce", "--only", "data", "--only", "equivariance", "--out", str(out)]
    command += ["--executor", "inprocess"]  # the fault lives in this process
    with monkeypatch.context() as patch:
        patch.setattr(network, "EquivariantEnsemble", unimportable)
        assert main(command) == 1
    err = capsys.readouterr().err
    failed_lines = [line for line in err.splitlines() if line.startswith("symscape: section")]
    assert len(failed_lines) == 1
    assert "equivariance failed" in failed_lines[0]
    assert "made unimportable by this test" in failed_lines[0]
    assert "Traceback" not in err

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["failed"]) == {"equivariance"} and "data" in summary
    traceback = out / summary["failed"]["equivariance"]["traceback"]
    assert "ImportError" in traceback.read_text() and "Traceback" in traceback.read_text()
    html = (out / "report.html").read_text()
    assert 'id="data"' in html and 'id="equivariance"' in html
    assert "This section failed" in html and "made unimportable by this test" in html

    db = out / "symscape.db"
    first = _run_keys(db)
    statuses = {(model, status) for status, _, model in first.values()}
    assert statuses == {("mlp", "done"), ("mlp_augmented", "done"), ("equivariant", "failed")}
    with Store(db) as store:
        assert set(store.sections()) == {"data"}  # a failed section is not stored
        data_finished = store.sections()["data"]["finished"]

    assert main(command) == 0
    err = capsys.readouterr().err
    n_failed = sum(status == "failed" for status, _, _ in first.values())
    assert f"retried {n_failed} run(s) that had failed before: {n_failed} done\n" in err
    assert "data: taken from the store" in err
    second = _run_keys(db)
    assert set(second) == set(first)
    for key, (status, finished, model) in first.items():
        if status == "done":  # kept, not trained again
            assert second[key] == (status, finished, model)
        else:
            assert second[key][0] == "done" and second[key][1] > finished
    with Store(db) as store:
        assert store.sections()["data"]["finished"] == data_finished
        assert set(store.sections()) == {"data", "equivariance"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == {} and summary["equivariance"]["rows"]
    assert not (out / "failures").exists()
    assert "This section failed" not in (out / "report.html").read_text()


# ------------------------------------------------------------------ bad input: one line


def _one_line_error(capsys, argv, *needles) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("symscape: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def test_an_unwritable_out_is_one_line(tmp_path, capsys):
    _one_line_error(
        capsys,
        ["reproduce", "--only", "data", "--out", "/proc/forbidden"],
        "/proc/forbidden",
        "--out",
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _one_line_error(
        capsys, ["reproduce", "--only", "data", "--out", str(blocker / "sub")], str(blocker)
    )


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_train_refuses_a_non_finite_alpha(capsys, value):
    _one_line_error(
        capsys, ["train", "--alpha", value, "--max-steps", "2"], "alpha=", "not a finite number"
    )


def test_a_sweep_with_a_non_finite_number_is_refused_before_anything_runs(tmp_path, capsys):
    spec = tmp_path / "alphas.toml"
    spec.write_text(
        'experiment = "train"\nseeds = "0"\n[fixed]\nmax_steps = 2\n'
        "data = { P = 10, n_test = 10, d = 5 }\n[grid]\nalpha = [1.0, inf]\n"
    )
    db = tmp_path / "store.db"
    _one_line_error(capsys, ["sweep", "run", str(spec), "--db", str(db)], "alpha=inf")
    assert not db.exists()


def test_a_nested_non_finite_number_is_named_by_its_path():
    from symscape.train import TrainConfig

    with pytest.raises(ValueError, match=r"data\.d=nan is not a finite number"):
        TrainConfig(data={"P": 10, "n_test": 10, "d": float("nan")})


def test_no_limit_fields_take_infinity_and_nothing_else():
    from symscape.train import TrainConfig

    assert TrainConfig(max_time=float("inf"), max_wall=float("inf")).max_time == float("inf")
    with pytest.raises(ValueError, match=r"max_time=nan is not a finite number"):
        TrainConfig(max_time=float("nan"))
    with pytest.raises(ValueError, match=r"max_wall=-inf is not a finite number"):
        TrainConfig(max_wall=float("-inf"))


def test_the_hyphen_spelling_of_a_name_is_the_same_run(capsys):
    from symscape.train import TrainConfig

    typed = TrainConfig(loss="quadratic-hinge", dynamics="Flow")
    assert typed.loss == "quadratic_hinge" and typed.dynamics == "flow"
    assert typed.to_json() == TrainConfig(loss="quadratic_hinge").to_json()  # one run key
    argv = ["train", "--loss", "quadratic-hinge", "--max-steps", "3", "--json"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["loss"] == "quadratic_hinge"
    # and the other way round: a registry name written with a hyphen, typed with underscores
    from symscape.data import get_dataset_spec

    assert get_dataset_spec("fashion_mnist").name == "fashion-mnist"
    with pytest.raises(KeyError, match=r"unknown loss 'quadratic-hing'; did you mean"):
        TrainConfig(loss="quadratic-hing")


def test_flags_choices_and_commands_take_either_spelling(tmp_path, capsys):
    """``--only double-descent`` is the section ``double_descent`` (the error is then about
    ``--out``, not the choice); ``--max_steps`` is ``--max-steps``; ``double_descent`` is the
    command ``double-descent``; a misspelt flag is named as ``--help`` writes it."""
    argv = ["reproduce", "--only", "double-descent", "--out", "/proc/forbidden"]
    err = _one_line_error(capsys, argv, "/proc/forbidden")
    assert "invalid" not in err.lower()
    assert main(["train", "--max_steps", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["max_steps"] == 3
    assert main(["double_descent", "--help"]) == 0
    assert "Usage: symscape double-descent" in capsys.readouterr().out
    err = _one_line_error(capsys, ["train", "--max_stepz", "3"], "--max-stepz")
    assert "--max-steps" in err


def test_reproduce_refuses_an_executor_it_cannot_start_before_anything_runs(tmp_path, capsys):
    import shutil

    if shutil.which("sbatch"):
        pytest.skip("this machine has SLURM")
    out = tmp_path / "results"
    argv = ["reproduce", "--only", "data", "--executor", "slurm", "--out", str(out)]
    _one_line_error(capsys, argv, "sbatch")
    assert not out.exists()


def test_integers_are_finite_however_large_and_converted_values_are_checked():
    from symscape.experiments.double_descent import DoubleDescentConfig
    from symscape.train import TrainConfig
    from symscape.validation import check_finite

    assert check_finite(10**400, "max_steps") == 10**400  # no OverflowError from isnan
    assert TrainConfig(max_steps=10**400).max_steps == 10**400
    with pytest.raises(ValueError, match=r"widths\[1\]=inf is not a finite number"):
        DoubleDescentConfig(widths=("2", "inf"))  # the config converts: checked after it too


def _configs():
    """Every run config class, the sweep's probe included."""
    import symscape.experiments.double_descent
    import symscape.experiments.equivariance
    import symscape.experiments.feature_lazy
    import symscape.experiments.jamming
    import symscape.experiments.stability
    import symscape.sweep.experiments
    import symscape.train  # noqa: F401
    from symscape.config import JsonConfig

    def below(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return sorted(set(below(JsonConfig)), key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", _configs(), ids=lambda cls: cls.__name__)
def test_every_number_field_of_every_config_refuses_nan_and_infinity(cls):
    """A battery every config passes: ``nan`` anywhere is refused, and so is ``inf`` except
    where the field means "no limit"; the message names the field."""
    import dataclasses

    cls()  # the defaults are a valid config
    numeric = [
        f.name
        for f in dataclasses.fields(cls)
        if isinstance(getattr(cls(), f.name), float)
        or (
            isinstance(getattr(cls(), f.name), tuple)
            and getattr(cls(), f.name)
            and isinstance(getattr(cls(), f.name)[0], float)
        )
        or f.name in cls.UNLIMITED
    ]
    assert numeric, f"{cls.__name__} has no number field to check"
    for name in numeric:
        default = getattr(cls(), name)
        for bad in (float("nan"), float("inf"), float("-inf")):
            value = (*default[:-1], bad) if isinstance(default, tuple) else bad
            if bad == float("inf") and name in cls.UNLIMITED:
                assert getattr(cls(**{name: value}), name) == value
                continue
            with pytest.raises(ValueError, match=rf"{name}(\[\d+\])?={bad!r} is not a finite"):
                cls(**{name: value})
