"""The command line and the Python API build the same config from the same values.

Each experiment command is invoked with flags (and ``--config FILE.toml``,
``--protocol NAME[.CASE]``); its ``run`` is replaced by one that keeps the
config and stops, so nothing trains. The config must equal the one the API
builds: the command line adds no defaults and no hidden data options of its
own, and its precedence is flags > file > protocol > the config's defaults.
"""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from symscape.cli import cli, main
from symscape.experiments import double_descent, equivariance, feature_lazy, jamming, stability

_MODULES = (jamming, double_descent, feature_lazy, stability, equivariance)


class _Stop(Exception):
    pass


@pytest.fixture
def built(monkeypatch):
    """Run a command; the config it would have run first (nothing trains)."""

    def invoke(module, *argv: str) -> list:
        configs: list = []

        def keep(config, *args, **kwargs):
            configs.append(config)
            raise _Stop

        monkeypatch.setattr(module, "run", keep)
        command = module.__name__.rsplit(".", 1)[1].replace("_", "-")
        result = CliRunner().invoke(cli, [command, *argv])
        assert isinstance(result.exception, _Stop), (result.output, result.exception)
        return configs

    return invoke


def _one(built, module, *argv):
    (config,) = built(module, *argv)
    return config


def _quick(module, case=None):
    cases = module.PROTOCOLS["quick"]
    return cases[case] if case else next(iter(cases.values()))


def test_jamming(built):
    assert _one(built, jamming) == jamming.JammingConfig()
    assert _one(built, jamming, "--d", "20") == jamming.JammingConfig(data={"d": 20})
    argv = ["--P-values", "16,32", "--seeds", "0-3", "--width-max", "8", "--max-steps", "100"]
    assert _one(built, jamming, *argv) == jamming.JammingConfig(
        P_values=(16, 32), seeds=(0, 1, 2, 3), width_max=8.0, max_steps=100
    )
    quick = jamming.PROTOCOLS["quick"]["random"]
    got = _one(built, jamming, "--protocol", "quick.random", "--d", "5", "--seeds", "0,1")
    assert got == dataclasses.replace(quick, data={**quick.data, "d": 5}, seeds=(0, 1))


def test_double_descent(built):
    assert _one(built, double_descent) == double_descent.DoubleDescentConfig()
    quick = _quick(double_descent)
    got = _one(built, double_descent, "--protocol", "quick", "--P", "60", "--widths", "8,2,32")
    expected = dataclasses.replace(quick, data={**quick.data, "P": 60}, widths=(2.0, 8.0, 32.0))
    assert got == expected


def test_feature_lazy(built):
    argv = ["--alphas", "0.1,10", "--no-jamming", "--kernel-points", "8", "--loss", "soft-hinge"]
    assert _one(built, feature_lazy, *argv) == feature_lazy.FeatureLazyConfig(
        alphas=(0.1, 10.0), jamming=False, kernel_points=8, loss="soft_hinge"
    )
    quick = _quick(feature_lazy, "mnist")
    got = _one(built, feature_lazy, "--protocol", "quick.mnist", "--no-lazy-reference")
    assert got == dataclasses.replace(quick, lazy_reference=False)


def test_stability(built):
    quick = _quick(stability)  # the command starts from the quick protocol, as it always has
    assert _one(built, stability) == quick
    assert _one(built, stability, "--scale", "quick") == quick
    got = _one(built, stability, "--protocol", "paper", "--epochs", "2")
    assert got == stability.StabilityConfig(epochs=2)
    got = _one(built, stability, "--dataset", "digits", "--image-size", "16", "--epochs", "2")
    assert got == dataclasses.replace(quick, dataset="digits", data={"image_size": 16}, epochs=2)
    got = _one(built, stability, "--cutoff", "paper", "--fc-optimizer", "sgd")
    assert got == dataclasses.replace(quick, cutoff="paper", fc_optimizer="sgd")
    # another data set does not inherit the protocol's data options
    got = _one(built, stability, "--dataset", "fashion-mnist", "--epochs", "2")
    assert got == dataclasses.replace(quick, dataset="fashion-mnist", data={}, epochs=2)
    argv = ["--protocol", "quick", "--arch", "fc", "--delta", "1", "--dtype", "float64"]
    assert _one(built, stability, *argv) == dataclasses.replace(
        quick, architectures=("fc",), deltas=(1.0,), temperatures=None, dtype="float64"
    )


def test_equivariance(built):
    pytest.importorskip("e3nn")
    argv = ["--P-values", "4,8", "--models", "mlp", "--task", "dipole", "--n-bootstrap", "10"]
    assert _one(built, equivariance, *argv) == equivariance.EquivarianceConfig(
        P=(4, 8), models=("mlp",), task="dipole", n_bootstrap=10
    )
    paper = equivariance.PROTOCOLS["paper"]["dipole"]
    got = _one(built, equivariance, "--protocol", "paper.dipole", "--steps", "5")
    assert got == dataclasses.replace(paper, steps=5)


def test_a_file_between_the_protocol_and_the_flags(built, tmp_path):
    path = tmp_path / "jamming.toml"
    path.write_text(
        'experiment = "train"\nseeds = "0-1"\n'
        '[fixed]\nseeds = "0-3"\nwidth_max = 16\ndata = { d = 5, n_test = 50 }\n'
    )
    quick = jamming.PROTOCOLS["quick"]["random"]
    from_file = dict(seeds=(0, 1, 2, 3), width_max=16.0, data={"d": 5, "n_test": 50})
    got = _one(built, jamming, "--config", str(path))
    assert got == jamming.JammingConfig(**from_file)
    got = _one(built, jamming, "--config", str(path), "--protocol", "quick.random")
    assert got == dataclasses.replace(quick, **from_file)
    argv = ["--config", str(path), "--protocol", "quick.random", "--width-max", "8", "--d", "7"]
    assert _one(built, jamming, *argv) == dataclasses.replace(
        quick, **{**from_file, "width_max": 8.0, "data": {"d": 7, "n_test": 50}}
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["jamming", "--protocol", "huge"], "has no protocol 'huge'; use one of quick.random"),
        (["jamming", "--protocol", "quick"], "has several cases; name one: quick.random"),
        (["jamming", "--depth", "-1"], "depth=-1 must be an integer >= 0"),
        (["jamming", "--arch", "rnn"], "unknown arch 'rnn'"),
        (["stability", "--protocol", "quick", "--momentum", "1"], "momentum=1.0 must be in"),
    ],
)
def test_bad_values_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_help_lists_choices_defaults_and_protocols():
    for command, expected in [
        ("jamming", ["one of fc, linear, cnn", "[default: 0-7]", "quick.random", "--config"]),
        ("stability", ["one of median, mean", "--protocol, --scale", "--crop-padding"]),
        ("equivariance", ["--P-values", "paper.dipole"]),
        ("feature-lazy", ["--lazy-reference / --no-lazy-reference", "--n-bootstrap"]),
        ("double-descent", ["--fit-from", "quick"]),
    ]:
        text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        for part in expected:
            assert part in text, (command, part)


def test_train(monkeypatch, tmp_path):
    import symscape.train
    from symscape.train import TrainConfig

    configs = []

    def keep(config, *args, **kwargs):
        configs.append(config)
        raise _Stop

    monkeypatch.setattr(symscape.train, "train", keep)
    path = tmp_path / "train.toml"
    path.write_text('dynamics = "sgd"\nlr = 0.5\n')
    argv = ["train", "--config", str(path), "--P", "50", "--seeds", "0-1", "--width", "8"]
    result = CliRunner().invoke(cli, argv)
    assert isinstance(result.exception, _Stop), result.output
    expected = TrainConfig(data={"P": 50}, seeds=(0, 1), width=8.0, dynamics="sgd", lr=0.5)
    assert configs == [expected]


@pytest.mark.parametrize(
    ("name", "other", "flags", "data"),
    [
        ("jamming", "digits", [], {}),
        ("double_descent", "random", [], {}),
        ("feature_lazy", "digits", ["--P", "100"], {"P": 100}),  # its jamming line needs a P
        ("stability", "fashion-mnist", [], {}),
    ],
)
def test_another_data_set_takes_none_of_the_defaults_data_options(built, name, other, flags, data):
    """``--dataset`` other than the base's: the data options are the flags given, no more
    (the default ones belong to the default data set: ``d`` means nothing to digits)."""
    module = {m.__name__.rsplit(".", 1)[1]: m for m in _MODULES}[name]
    base = _quick(module) if name == "stability" else module.Config()
    assert base.dataset != other
    assert _one(built, module, "--dataset", other, *flags) == dataclasses.replace(
        base, dataset=other, data=data
    )
    got = _one(built, module, "--dataset", other, *flags, "--n-test", "40")
    assert got == dataclasses.replace(base, dataset=other, data={**data, "n_test": 40})
    # the same data set spelled otherwise is not another one: the default options stay
    assert _one(built, module, "--dataset", base.dataset.upper()) == base


def test_train_with_another_data_set_takes_only_its_flags(monkeypatch):
    import symscape.train
    from symscape.train import TrainConfig

    configs = []

    def keep(config, *args, **kwargs):
        configs.append(config)
        raise _Stop

    monkeypatch.setattr(symscape.train, "train", keep)
    result = CliRunner().invoke(cli, ["train", "--dataset", "digits", "--labels", "parity"])
    assert isinstance(result.exception, _Stop), result.output
    assert configs == [TrainConfig(dataset="digits", data={"labels": "parity"})]
