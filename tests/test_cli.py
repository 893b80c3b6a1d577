"""The command line: every sub-command, and every error path is one line with exit code 2."""

import json
import re
import subprocess
import sys

import pytest
from conftest import write_mnist

from symscape.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "data" in out and "reproduce" in out


def test_bare_command_groups_print_their_help(capsys):
    for argv in ([], ["data"]):
        code, out, err = run(capsys, *argv)
        assert code == 0
        assert "Usage:" in out and "Commands:" in out
        assert err == ""


def test_python_dash_m_and_version():
    proc = subprocess.run(
        [sys.executable, "-m", "symscape", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("symscape, version")


def test_data_list_shows_all_nine(capsys):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0
    for name in [
        "random",
        "teacher",
        "stripe",
        "digits",
        "mnist1d",
        "mnist-5k",
        "mnist",
        "fashion-mnist",
        "cifar10",
    ]:
        assert f" {name} " in out
    code, out, _ = run(capsys, "data", "list", "--json")
    rows = json.loads(out)
    assert len(rows) == 9
    assert {r["name"]: r["input_shape"] for r in rows}["cifar10"] == [3, 32, 32]


def test_data_show_prints_shapes_and_writes_a_png(capsys, tmp_path):
    png = tmp_path / "digits.png"
    code, out, _ = run(
        capsys,
        "data",
        "show",
        "digits",
        "--P",
        "40",
        "--labels",
        "parity",
        "--seed",
        "2",
        "--balance",
        "--preview",
        str(png),
    )
    assert code == 0
    assert "(40, 1, 8, 8)" in out and "-1: 20 (50%), 1: 20 (50%)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_data_show_json_with_extra_option(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "data",
        "show",
        "teacher",
        "--P",
        "30",
        "--n-test",
        "10",
        "-o",
        "teacher_depth=0",
        "--d",
        "3",
        "--json",
        "--no-preview",
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["input_shape"] == [3] and summary["options"]["teacher_depth"] == 0


def test_data_show_reads_files_from_root(capsys, tmp_path):
    write_mnist(tmp_path / "mnist")
    code, out, _ = run(
        capsys,
        "data",
        "show",
        "mnist",
        "--root",
        str(tmp_path),
        "--P",
        "10",
        "--json",
        "--no-preview",
    )
    assert code == 0 and json.loads(out)["P"] == 10


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["data", "show", "cifar100"], "unknown data set 'cifar100'; did you mean 'cifar10'?"),
        (["data", "show", "mnist"], "SYMSCAPE_DATA"),
        (["data", "show", "mnist", "--root", "/nonexistent/folder"], "does not exist"),
        (["data", "show", "digits", "--P", "5000"], "use P <= 1297"),
        (["data", "show", "digits", "--P", "-1"], "P=-1 is too small"),
        (["data", "show", "digits", "--P", "ten"], "'ten' is not a valid integer"),
        (["data", "show", "digits", "--d", "5"], "has no option 'd'"),
        (["data", "show", "random", "-o", "widht=3"], "has no option 'widht'"),
        (["data", "show", "random", "-o", "d"], "is not KEY=VALUE"),
        (["data", "show", "random", "-o", "d=x"], "d='x' is not an integer"),
        (["data", "show", "digits", "--pca", "100"], "pca=100 components"),
        (["data", "show"], "Missing argument 'NAME'"),
        (["data", "show", "digits", "--bogus"], "No such option"),
        (["nonsense"], "No such command"),
        (["reproduce", "--scale", "huge"], "'huge' is not one of"),
        (["train", "--width", "-3"], "width=-3.0 must be >= 1"),
        (["train", "--loss", "l1"], "unknown loss 'l1'"),
        (["train", "--alpha", "0"], "alpha=0.0 must be > 0"),
        (["train", "--arch", "cnn"], "a ConvNet needs image inputs"),
        (["train", "--dataset", "digits", "--arch", "cnn", "--flatten"], "image inputs"),
        (["train", "--seeds", "0-x"], "is not a seed or a range"),
        (["train", "--dynamics", "momentum_flow"], "needs tau"),
    ],
)
def test_every_error_is_one_line_with_exit_code_2(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symscape: error: ")
    assert expected in lines[0]
    assert "Traceback" not in out + err


def test_train_prints_one_json_object(capsys):
    code, out, _ = run(
        capsys,
        "train",
        "--dataset",
        "random",
        "--P",
        "10",
        "--d",
        "20",
        "--arch",
        "linear",
        "--seeds",
        "0-2",
        "--max-steps",
        "5000",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["status"] == ["fitted"] * 3
    assert result["final"]["n_delta"] == [0, 0, 0]
    assert result["config"]["seeds"] == [0, 1, 2] and result["n_weights"] == 20


def test_train_table(capsys):
    code, out, _ = run(
        capsys,
        "train",
        "--dataset",
        "digits",
        "--labels",
        "parity",
        "--P",
        "40",
        "--n-test",
        "40",
        "--arch",
        "cnn",
        "--width",
        "3",
        "--dynamics",
        "adam",
        "--lr",
        "0.01",
        "--max-steps",
        "20",
        "--seeds",
        "0,5",
    )
    assert code == 0
    assert "ensemble-mean test error" in out
    assert " 5 " in out  # the second member's seed


def test_corrupt_file_is_one_line(capsys, tmp_path):
    write_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    code, _, err = run(capsys, "data", "show", "mnist", "--root", str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "truncated" in err


def test_reproduce_quick_writes_a_summary(capsys, tmp_path):
    out_dir = tmp_path / "results"
    code, out, _ = run(
        capsys,
        "reproduce",
        "--scale",
        "quick",
        "--out",
        str(out_dir),
        "--only",
        "data",
        "--only",
        "engine",
    )
    assert code == 0
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["sections"] == ["data", "engine"] and "stability" not in summary
    status = {e["name"]: e["status"] for e in summary["data"]}
    assert status == {
        "random": "ok",
        "teacher": "ok",
        "stripe": "ok",
        "digits": "ok",
        "mnist1d": "ok",
        "mnist-5k": "ok",
        "mnist": "not found",
        "fashion-mnist": "not found",
        "cifar10": "not found",
    }
    for e in summary["data"]:
        if e["status"] == "ok":
            assert (out_dir / e["preview"]).stat().st_size > 1000
    assert "## Appendix A. Data sets" in (out_dir / "summary.md").read_text()
    engine = summary["engine"]
    assert engine["status"] == ["fitted"] * 4
    assert engine["final"]["ensemble_test_error"] < 0.25  # a teacher task is learnable
    assert (out_dir / engine["figure"]).stat().st_size > 1000
    assert "results written to" in out
    html = (out_dir / "report.html").read_text()
    assert re.findall(r'<section id="(\w+)"', html) == ["data", "engine"]

    # a rerun takes the section from the store: nothing recomputed, lost files restored
    (out_dir / engine["figure"]).unlink()
    code, out, err = run(capsys, "reproduce", "--out", str(out_dir), "--only", "engine")
    assert code == 0 and "reproduce [1/1] engine: taken from the store" in err
    again = json.loads((out_dir / "summary.json").read_text())
    assert again["engine"] == engine
    assert (out_dir / engine["figure"]).stat().st_size > 1000
    assert re.findall(r'<section id="(\w+)"', (out_dir / "report.html").read_text()) == ["engine"]


def test_reproduce_recomputes_a_stored_section_made_with_other_data(capsys, tmp_path):
    out_dir = tmp_path / "results"
    assert run(capsys, "reproduce", "--out", str(out_dir), "--only", "data")[0] == 0
    write_mnist(tmp_path / "mnist")  # now MNIST is on disk: the stored section is stale
    code, _, err = run(
        capsys, "reproduce", "--out", str(out_dir), "--only", "data", "--root", str(tmp_path)
    )
    assert code == 0 and "data: done" in err
    status = {
        e["name"]: e["status"] for e in json.loads((out_dir / "summary.json").read_text())["data"]
    }
    assert status["mnist"] == "ok"
    code, _, err = run(
        capsys, "reproduce", "--out", str(out_dir), "--only", "data", "--root", str(tmp_path)
    )
    assert "data: taken from the store" in err
    code, _, err = run(
        capsys,
        "reproduce",
        "--out",
        str(out_dir),
        "--only",
        "data",
        "--root",
        str(tmp_path),
        "--recompute",
    )
    assert code == 0 and "data: done" in err


def test_reproduce_paper_lists_missing_data_before_running(capsys, tmp_path):
    write_mnist(tmp_path / "mnist")
    out_dir = tmp_path / "results"
    code, _, err = run(
        capsys, "reproduce", "--scale", "paper", "--root", str(tmp_path), "--out", str(out_dir)
    )
    assert code == 2
    assert "cifar10 (" in err  # jamming, feature-lazy and stability train on it
    assert ": mnist (" not in err and "; mnist (" not in err
    assert "fashion-mnist" not in err  # no paper protocol uses it
    assert not out_dir.exists()


def test_the_paper_data_check_follows_the_selected_sections(tmp_path):
    from symscape.errors import DataNotFoundError
    from symscape.reproduce import _check_files_present

    write_mnist(tmp_path / "mnist")
    _check_files_present(
        str(tmp_path), ("data", "engine", "double_descent", "equivariance"), "paper"
    )
    with pytest.raises(DataNotFoundError, match=r"sections jamming\) needs .*: cifar10 \("):
        _check_files_present(str(tmp_path), ("jamming",), "paper")
    with pytest.raises(DataNotFoundError, match=r"disk: mnist \("):
        _check_files_present(str(tmp_path / "empty"), ("double_descent",), "paper")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--address", "auto"], "--address do(es) not apply to the default executors"),
        (["--executor", "pool", "--gpus-per-run", "1"], "not apply to --executor pool"),
        (["--device", "cuda:7"], "device='cuda:7'"),
    ],
)
def test_reproduce_refuses_impossible_flags_before_running(capsys, tmp_path, flags, message):
    out_dir = tmp_path / "results"
    code, _, err = run(capsys, "reproduce", "--out", str(out_dir), "--only", "engine", *flags)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (out_dir / "symscape.db").exists()


def test_reproduce_sections_are_the_command_line_choices():
    from symscape.cli.reproduce import reproduce
    from symscape.reproduce import SECTIONS

    (only,) = [p for p in reproduce.params if p.name == "only"]
    assert tuple(only.type.choices) == SECTIONS
