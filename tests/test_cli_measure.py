"""``symscape hessian`` and ``symscape landscape`` end to end on a tiny zoo net, each number
checked against an independent computation on the same model and data; bad input is one
line with exit code 2; the README's "Measure your own model" snippet runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from symscape.cli import main
from symscape.data import load
from symscape.measure import dense_hessian, random_direction
from symscape.nets.zoo import build_classifier

ARCH, WIDTH, P = "fc:0.02", 0.02, 40  # hidden layers of 10 units: N = 980 weights on 8×8 digits


def _net(seed: int, k: int = 10) -> torch.nn.Module:
    return build_classifier("fc", (1, 8, 8), k, width=WIDTH, seed=seed, dtype=torch.float64)


@pytest.fixture
def weights(tmp_path) -> dict[str, Path]:
    """State dicts written as a user would: two multiclass nets and a one-output net."""
    paths = {}
    for name, seed, k in (("a", 1, 10), ("b", 2, 10), ("binary", 3, 1)):
        paths[name] = tmp_path / f"{name}.pt"
        torch.save(_net(seed, k).float().state_dict(), paths[name])
    return paths


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _loaded(path: Path, k: int = 10) -> torch.nn.Module:
    model = _net(0, k)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


def _digits(**options):
    ds = load("digits", P=P, dtype="float64", **options)
    return ds.x_train, ds.y_train


def test_hessian_eigenvalues_and_trace_agree_with_the_dense_hessian(capsys, tmp_path, weights):
    out = tmp_path / "h"
    argv = ["hessian", "--arch", ARCH, "--load", weights["a"], "--P", P, "--top", 3]
    argv += ["--bottom", 2, "--trace-samples", 16, "--probes", 2, "--steps", 20]
    code, stdout, _ = _run(capsys, *argv, "--out", out, "--json")
    assert code == 0
    record = json.loads(stdout)
    assert record == json.loads((out / "hessian.json").read_text())
    model, data = _loaded(weights["a"]), _digits()
    exact = torch.linalg.eigvalsh(dense_hessian(model, F.cross_entropy, data))
    assert record["model"]["N"] == len(exact) == 980
    assert record["top"] == pytest.approx(exact.flip(0)[:3].tolist(), rel=1e-8, abs=1e-12)
    assert record["bottom"] == pytest.approx(exact[:2].tolist(), rel=1e-6, abs=1e-10)
    assert record["bottom"][0] < 0  # away from a minimum: negative curvature, as drawn
    with torch.no_grad():
        assert record["loss"]["value"] == pytest.approx(
            float(F.cross_entropy(model(data[0]), data[1]))
        )
    t = record["trace"]
    assert t["low"] < float(exact.sum()) < t["high"]
    density = record["density"]
    assert len(density["nodes"]) == 2 and len(density["nodes"][0]) == 20
    assert max(max(row) for row in density["nodes"]) <= float(exact[-1]) * (1 + 1e-8)
    for suffix in ("png", "pdf"):
        assert (out / f"hessian_density.{suffix}").stat().st_size > 1000


def test_hessian_of_a_one_output_net_uses_the_quadratic_hinge(capsys, tmp_path, weights):
    argv = ["hessian", "--arch", ARCH, "--load", weights["binary"], "--P", P, "--labels"]
    argv += ["parity", "--top", 2, "--trace-samples", 4, "--probes", 1, "--steps", 5]
    code, stdout, _ = _run(capsys, *argv, "--out", tmp_path / "h", "--json")
    assert code == 0
    record = json.loads(stdout)
    model, data = _loaded(weights["binary"], k=1), _digits(labels="parity")

    def quadratic_hinge(out, y):  # ½ max(0, 1 − y f)², the jamming papers' loss
        return (0.5 * torch.relu(1 - y * out[:, 0]) ** 2).mean()

    exact = torch.linalg.eigvalsh(dense_hessian(model, quadratic_hinge, data))
    assert record["loss"]["name"] == "quadratic_hinge"
    assert record["top"] == pytest.approx(exact.flip(0)[:2].tolist(), rel=1e-8)


def test_hessian_prints_a_table(capsys, tmp_path):
    argv = ["hessian", "--arch", ARCH, "--P", 20, "--top", 1, "--trace-samples", 2]
    code, stdout, _ = _run(capsys, *argv, "--probes", 1, "--steps", 3, "--out", tmp_path)
    assert code == 0
    assert "top eigenvalues" in stdout and "trace (95 %)" in stdout
    assert "initialisation (seed 0)" in stdout


def test_landscape_interpolation_ends_are_the_two_models(capsys, tmp_path, weights):
    out = tmp_path / "l"
    argv = ["landscape", "--arch", ARCH, "--load", weights["a"], "--load", weights["b"]]
    code, stdout, _ = _run(capsys, *argv, "--P", P, "--points", 5, "--out", out)
    assert code == 0 and "loss barrier" in stdout
    record = json.loads((out / "landscape.json").read_text())
    assert record["kind"] == "interpolation" and record["t"] == [0, 0.25, 0.5, 0.75, 1]
    x, y = _digits()
    with torch.no_grad():
        outputs = [_loaded(weights[name])(x) for name in ("a", "b")]
    for end, output in zip("ab", outputs, strict=True):
        assert record[f"loss_{end}"] == pytest.approx(float(F.cross_entropy(output, y)), rel=1e-12)
        assert record[f"error_{end}"] == pytest.approx(
            float((output.argmax(1) != y).double().mean())
        )
    highest = max(record["loss"]) - max(record["loss_a"], record["loss_b"])
    assert record["barrier"] == pytest.approx(max(highest, 0.0))
    for suffix in ("png", "pdf"):
        assert (out / f"landscape_interpolation.{suffix}").stat().st_size > 1000


@pytest.mark.parametrize("dims", [1, 2])
def test_landscape_slice_at_its_origin_is_the_loss_at_the_weights(capsys, tmp_path, dims):
    out = tmp_path / "s"
    argv = ["landscape", "--arch", ARCH, "--P", P, "--seed", 3, "--dims", dims]
    code, stdout, _ = _run(capsys, *argv, "--points", 3, "--span", 0.5, "--out", out, "--json")
    assert code == 0
    record = json.loads(stdout)
    assert record["kind"] == f"slice_{dims}d" and record["alpha"] == [-0.5, 0, 0.5]
    model, (x, y) = _net(3).eval(), _digits(seed=3)
    w = {n: p.detach() for n, p in model.named_parameters()}
    d = random_direction(w, seed=6)  # direction j is drawn with seed 2·seed + j

    def loss_at(step):
        shifted = {n: w[n] + step * d[n] for n in w}
        return float(F.cross_entropy(torch.func.functional_call(model, shifted, (x,)), y))

    centre, corner = (
        (record["loss"][1], record["loss"][0])
        if dims == 1
        else (
            record["loss"][1][1],
            record["loss"][0][1],
        )
    )
    assert centre == pytest.approx(loss_at(0.0), rel=1e-12)
    assert corner == pytest.approx(loss_at(-0.5), rel=1e-12)
    for suffix in ("png", "pdf"):
        assert (out / f"landscape_slice_{dims}d.{suffix}").is_file()


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {"text": tmp_path / "notes.pt", "dict": tmp_path / "dict.pt"}
    files["text"].write_text("not a checkpoint")
    torch.save({"epoch": 3}, files["dict"])
    files["lenet"] = tmp_path / "lenet.pt"
    torch.save(build_classifier("lenet", (1, 12, 12), 10).state_dict(), files["lenet"])
    broken = _net(1).float().state_dict()
    broken["layer1.0.weight"][0, 0] = float("nan")
    files["nan"] = tmp_path / "nan.pt"
    torch.save(broken, files["nan"])
    return files


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        ("hessian", ["--load", "{text}"], r"cannot be read as a state dict.*weights_only"),
        ("hessian", ["--load", "{dict}"], r"not a state dict; save the weights"),
        ("landscape", ["--load", "{lenet}"], r"does not fit fc.*unexpected keys"),
        ("hessian", ["--arch", "alexnet"], r"unknown classifier 'alexnet'"),
        ("hessian", ["--top", "980"], r"--top 980 must be below N=980"),
        ("hessian", ["--bottom", "5000"], r"--bottom 5000 must be below N=980"),
        ("hessian", ["--load", "{nan}"], r"non-finite values \(nan or inf\) in 'layer1.0.weight'"),
        ("landscape", ["--span", "inf"], r"--span 'inf' is not a finite interval"),
        ("landscape", ["--span", "1,-1"], r"not a finite interval"),
        ("landscape", ["--load", "{dict}"] * 3, r"--load is given 3 times"),
        ("hessian", ["--loss", "hinj"], r"unknown loss 'hinj'; did you mean 'hinge'"),
        ("landscape", ["--arch", "lenet", "--pca", "5"], r"lenet needs images"),
        ("hessian", ["--load", "{missing}"], r"model file .*missing.pt does not exist"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(capsys, tmp_path, command, argv, message):
    files = {**_bad_files(tmp_path), "missing": tmp_path / "missing.pt"}
    argv = [a.format(**files) for a in argv]
    base = ["--arch", ARCH] if "--arch" not in argv else []
    code, stdout, err = _run(capsys, command, *base, *argv, "--P", 20, "--out", tmp_path / "o")
    assert code == 2, (stdout, err)
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert err.startswith("symscape: error: ")


def test_the_readme_snippet_runs(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Measure your own model", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    for name in ("density.png", "slice.pdf", "path.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert capsys.readouterr().out.strip()


def test_density_figure_marks_the_extremes_on_a_symmetric_log_axis():
    import numpy as np
    from matplotlib.scale import SymmetricalLogTransform

    from symscape.measure.curvature import SpectralDensity
    from symscape.measure.curvature.figures import density_figure

    grid = np.linspace(-3.0, 40.0, 500)
    rho = np.exp(-(grid**2)) + 1e-3 * np.exp(-((grid - 30) ** 2))
    density = SpectralDensity(grid, rho, np.zeros((1, 1)), np.ones((1, 1)), sigma=0.05)
    fig = density_figure(density, top=[30.0, 25.0], bottom=[-2.5])
    (ax,) = fig.axes
    transform = ax.xaxis.get_transform()
    assert isinstance(transform, SymmetricalLogTransform) and transform.linthresh == 0.05
    assert ax.get_yscale() == "log"
    marked = sorted(line.get_xdata()[0] for line in ax.lines[1:])
    assert marked == [-2.5, 25.0, 30.0]
    ticks = ax.get_xticks()
    assert 0.0 in ticks and not any(0 < abs(t) < 0.05 for t in ticks)
    assert ticks.max() >= 40.0 and ticks.min() <= -3.0
    low, high = ax.get_ylim()
    assert high / low == pytest.approx(3 * 10**8)  # the peak's 8 decades, and a margin
