"""The stability experiment: config, training, R_f at initialisation, the fit, records, CLI."""

import copy
import itertools
import json
import math

import numpy as np
import pytest
import torch

from symscape.comparisons import AGREES, DIFFERS, NOT_TESTABLE, VERDICTS
from symscape.data import load
from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.experiments.stability import (
    PROTOCOLS,
    StabilityConfig,
    _random_crop,
    _random_flip,
    classification_error,
    describe,
    fit_power_law,
    markdown_section,
    quick_config,
    run,
    train_classifier,
)
from symscape.experiments.stability.analysis import (
    correlation,
    family_changes,
    log_interval,
    prefactor_at,
)
from symscape.experiments.stability.network import (
    _load_data,
    _one_network,
    _optimizer,
    _reference,
    _scales,
)
from symscape.measure import geometric_mean, sensitivities
from symscape.nets.batchnorm import estimate_running_statistics
from symscape.nets.zoo import build_classifier
from symscape.train.classifier import cosine_lr, parameter_groups
from symscape.train.config import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def tiny_config(**changes):
    """Two small nets on 16×16 digits: seconds, for the record's structure."""
    settings = dict(
        dataset="digits",
        architectures=("fc:0.25", "lenet:0.5"),
        seeds=(0, 1),
        epochs=1,
        n_points=60,
        deltas=(0.5, 1.0),
        n_bootstrap=10,
        data={"image_size": 16, "P": 200, "n_test": 100},
    )
    return quick_config(**{**settings, **changes})


def without_timing(record):
    """The record without what the clock and the host set (``timing``, the header's
    ``host`` and ``wall_time_s``)."""
    return {k: v for k, v in record.items() if k not in ("timing", "host", "wall_time_s")}


@pytest.fixture(scope="module")
def digits28():
    ds = load("digits", image_size=28, dtype="float32")
    mean, std = ds.x_train.mean(), ds.x_train.std()
    return ds, (ds.x_train - mean) / std, (ds.x_test - mean) / std


# --------------------------------------------------------------------------- config


def test_defaults_are_the_paper_protocol_and_round_trip_through_json():
    config = StabilityConfig()
    assert config.dataset == "cifar10" and len(config.architectures) == 15
    assert (config.lr, config.momentum, config.weight_decay, config.batch_size) == (
        0.1,
        0.9,
        5e-4,
        128,
    )
    assert (config.n_points, config.c, config.estimator) == (500, 3.0, "median")
    assert 1.0 in config.deltas
    back = StabilityConfig.from_dict(json.loads(config.to_json()))
    assert back == config
    # the authors' training: FC nets with Adam and no weight decay; their cut-off
    assert (config.optimizer, config.fc_optimizer, config.fc_weight_decay) == ("sgd", "adam", 0)
    assert (config.fc_lr, config.fc_schedule) == (0.1, "constant")  # diffeo-sota's defaults
    assert config.cutoff == "authors"
    # quick and medium: real MNIST at its native 28×28, at least five nets at medium
    for protocol in ("quick", "medium"):
        (case,) = PROTOCOLS[protocol].values()
        assert case.dataset == "mnist-5k" and "image_size" not in case.data
        assert (case.lr, case.optimizer, case.fc_optimizer) == (0.1, "sgd", "adam")
        fully_connected = [a for a in case.architectures if a.startswith("fc")]
        assert fully_connected and all(a.startswith("fc-ntk") for a in fully_connected)
    assert len(PROTOCOLS["medium"]["mnist-5k"].architectures) >= 5


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"dataset": "imagenet"}, UnknownNameError, "unknown data set 'imagenet'"),
        ({"dataset": "random"}, InvalidOptionError, "has no images"),
        ({"data": {"labels": "parity"}}, InvalidOptionError, "'labels' is set by the"),
        ({"data": {"imagesize": 28}}, InvalidOptionError, "did you mean 'image_size'"),
        ({"architectures": ("lenet", "vgg16")}, UnknownNameError, "unknown classifier 'vgg16'"),
        ({"architectures": ("fc", "fc")}, InvalidOptionError, "lists one twice"),
        ({"architectures": ()}, InvalidOptionError, "architectures is empty"),
        ({"checkpoints": {"vgg": "w.pt"}}, InvalidOptionError, r"checkpoints for \['vgg'\]"),
        ({"temperatures": (1e-3,)}, InvalidOptionError, "exactly one of deltas"),
        ({"deltas": None}, InvalidOptionError, "exactly one of deltas"),
        ({"deltas": (1.0, -1.0)}, InvalidOptionError, "deltas=-1.0"),
        ({"deltas": ()}, InvalidOptionError, "not a non-empty list"),
        ({"lr": 0}, InvalidOptionError, "lr=0"),
        ({"momentum": 1.0}, InvalidOptionError, r"momentum=1\.0 must be in \[0, 1\)"),
        ({"schedule": "step"}, UnknownNameError, "unknown schedule 'step'"),
        ({"estimator": "mode"}, UnknownNameError, "unknown estimator 'mode'"),
        ({"n_points": 1}, InvalidOptionError, "n_points=1"),
        ({"epochs": -1}, InvalidOptionError, "epochs=-1"),
        ({"batch_size": 1}, InvalidOptionError, "batch_size=1"),
        ({"seeds": ()}, InvalidOptionError, "non-empty list"),
        ({"c": 1.5}, InvalidOptionError, "c=1.5"),
        ({"dtype": "int32"}, InvalidOptionError, "not a floating dtype"),
        ({"threads": 0}, InvalidOptionError, "threads=0"),
    ],
)
def test_config_validation(changes, error, message):
    with pytest.raises(error, match=message):
        quick_config(**changes)


def test_too_many_evaluation_points_is_an_error_at_run_time():
    with pytest.raises(InvalidOptionError, match="n_points=200 is more than the 100 test points"):
        run(tiny_config(n_points=200))


# --------------------------------------------------------------------------- the fit


def test_power_law_fit_recovers_a_known_law_exactly():
    R = np.geomspace(1e-3, 3.0, 9)
    for a, b in ((0.2, 0.5), (0.03, 1.3), (2.0, -0.4)):
        fit = fit_power_law(list(a * R**b), list(R))
        assert fit["a"] == pytest.approx(a, rel=1e-12)
        assert fit["b"] == pytest.approx(b, rel=1e-12)
        assert fit["residual_rms_log"] < 1e-12


def test_power_law_fit_leaves_out_unusable_points_and_needs_two():
    fit = fit_power_law([0.1, 0.2, 0.0, None, 0.4], [1.0, 4.0, 2.0, 3.0, 16.0])
    assert (fit["n_points"], fit["dropped"]) == (3, 2)
    assert fit["b"] == pytest.approx(0.5) and fit["a"] == pytest.approx(0.1)
    with pytest.raises(InvalidOptionError, match="got 1 usable of 2"):
        fit_power_law([0.1, 0.0], [1.0, 2.0])
    with pytest.raises(InvalidOptionError, match="different R_f"):
        fit_power_law([0.1, 0.2], [1.0, 1.0])
    with pytest.raises(InvalidOptionError, match="same length"):
        fit_power_law([0.1, 0.2], [1.0])


def test_power_law_exponent_interval_is_the_students_from_the_slope_error():
    R = [0.01, 0.1, 1.0, 10.0]
    errors = [0.2 * r**0.5 * f for r, f in zip(R, (1.1, 0.9, 1.05, 0.95), strict=True)]
    fit = fit_power_law(errors, R)
    x, y = np.log(R), np.log(errors)
    b, intercept = np.polyfit(x, y, 1)
    residual = y - (b * x + intercept)
    se = math.sqrt(residual @ residual / 2 / ((x - x.mean()) ** 2).sum())
    half = 4.302652729911275 * se  # t_{0.975} with 2 degrees of freedom
    assert fit["b"] == pytest.approx(b)
    assert (fit["b_ci_low"], fit["b_ci_high"]) == pytest.approx((b - half, b + half))
    assert fit_power_law([0.1, 0.2], [1.0, 4.0])["b_ci_low"] is None  # two points: no interval


def test_seed_intervals_family_changes_and_the_prefactor():
    # the Student interval: t_{0.975, 2} = 4.3027 for three seeds
    out = log_interval([0.1, 0.3, 0.5])
    assert out["mean"] == pytest.approx(0.3)
    assert out["high"] - out["mean"] == pytest.approx(4.302652729911275 * 0.2 / math.sqrt(3))
    assert log_interval([0.3])["low"] is None
    summary = [
        {"architecture": "fc:0.125", "log_change_seeds": [1.0, 1.2]},
        {"architecture": "lenet", "log_change_seeds": [-0.5, -0.7]},
        {"architecture": "resnet18:0.125", "log_change_seeds": [-1.0, -1.2]},
    ]
    families = family_changes(summary)
    assert families["fully connected"]["mean"] == pytest.approx(1.1)
    assert families["fully connected"]["architectures"] == ["fc:0.125"]
    # architectures are the unit: two means (−0.6, −1.1), t_{0.975, 1} = 12.706
    cnn = families["CNN"]
    assert (cnn["n"], cnn["networks"], cnn["unit"]) == (2, 4, "architectures")
    assert cnn["mean"] == pytest.approx(-0.85)
    assert cnn["high"] - cnn["mean"] == pytest.approx(12.706204736 * 0.25)  # s/√n = 0.25
    assert families["fully connected"]["unit"] == "seeds"  # one architecture: its seeds
    assert family_changes(summary[1:]).keys() == {"CNN"}
    # the prefactor at a fixed exponent: the geometric mean of ε / R^b
    pre = prefactor_at([0.02, 0.08], [0.01, 0.04], 0.5)
    assert pre["a"] == pytest.approx(math.sqrt(0.2 * 0.4))
    # the Student interval of the two logs ln 0.2, ln 0.4: s/√n = ln 2 / 2, t_{0.975, 1}
    half = 12.706204736 * math.log(2) / 2
    assert (pre["low"], pre["high"]) == pytest.approx(
        (pre["a"] / math.exp(half), pre["a"] * math.exp(half))
    )


def test_correlation_interval_is_fishers():
    x = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    y = [1.0, 3.0, 2.0, 9.0, 7.0, 30.0]
    out = correlation(x, y)
    r = np.corrcoef(np.log(x), np.log(y))[0, 1]
    half = 1.959963984540054 / math.sqrt(len(x) - 3)
    assert out["r"] == pytest.approx(r)
    assert (out["low"], out["high"]) == pytest.approx(
        (math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half))
    )
    assert correlation(x[:3], y[:3])["low"] is None and correlation(x[:2], y[:2])["r"] is None


def _summary(**changes):
    """A stored summary built to produce each verdict."""
    row = {
        "architecture": "fc:0.125", "n_parameters": 10, "test_error": 0.05,
        "D_init": 1.0, "G_init": 1.0, "D_trained": 0.5, "G_trained": 0.1,
        "R_init": 1.0, "R_init_interval": [0.8, 1.2],
        "R_trained": 5.0, "R_trained_interval": [4.0, 6.0],
        "log_change": 1.6, "log_change_interval": [1.3, 1.9],
    }  # fmt: skip
    resnet = {
        **row,
        "architecture": "resnet18:0.125",
        "R_init": 0.2,
        "R_init_interval": [0.15, 0.25],
    }
    summary = {
        "dataset": "mnist-5k", "reference_delta": 1.0, "n_seeds": 3, "n_points": 500,
        "cutoff": "authors", "rows": [row, resnet],
        "fit": {"a": 0.05, "b": 0.4, "b_ci_low": -0.3, "b_ci_high": 1.1, "n_points": 4},
        "prefactor_at_reported_b": {"a": 0.03, "low": 0.02, "high": 0.045, "n": 4, "b": 0.5},
        "families": {
            "fully connected": {"mean": 1.6, "low": 1.3, "high": 1.9, "n": 3,
                                "architectures": ["fc:0.125"]},
            "CNN": {"mean": -0.2, "low": -0.6, "high": 0.2, "n": 3,
                    "architectures": ["resnet18:0.125"]},
        },
        "reported": {"a": 0.2, "b": 0.5, "law": "test error ≈ 0.2 √R_f"},
        "correlations": {
            "log_R": {"r": 0.95, "low": 0.85, "high": 0.99, "n": 12},
            "log_D": {"r": 0.1, "low": -0.9, "high": 0.95, "n": 5},
        },
    }  # fmt: skip
    return {**summary, **changes}


def test_describe_gives_every_row_beside_a_paper_value_a_verdict():
    part = describe(_summary())
    kinds = {c.quantity.split(" (")[0]: c.kind for c in part.comparisons}
    assert all(c.kind in VERDICTS for c in part.comparisons)
    assert kinds["R_f at initialisation, fc:0.125"] == AGREES  # [0.8, 1.2] meets 0.5–2
    assert kinds["R_f at initialisation, resnet18:0.125"] == DIFFERS  # [0.15, 0.25] does not
    assert kinds["ln R_f(trained)/R_f(init), fully connected nets"] == AGREES  # rises
    assert kinds["ln R_f(trained)/R_f(init), CNNs"] == NOT_TESTABLE  # holds 0
    assert kinds["exponent b of ε = a R_f^b"] == NOT_TESTABLE  # holds 0.5 and 0
    assert kinds["prefactor a of ε = a R_f^0.5"] == NOT_TESTABLE  # 0.2 is CIFAR10's
    on_cifar = {
        c.quantity.split(" (")[0]: c.kind for c in describe(_summary(dataset="cifar10")).comparisons
    }
    assert on_cifar["prefactor a of ε = a R_f^0.5"] == DIFFERS  # 0.03 [0.02, 0.045] vs 0.2
    # an FC interval that holds 0 and a rise cannot tell "does not decrease" from a fall
    wide = {"mean": -0.5, "low": -3.0, "high": 0.1, "n": 3, "architectures": ["fc"]}
    part = describe(_summary(families={"fully connected": wide}))
    assert [c.kind for c in part.comparisons if c.quantity.startswith("ln R_f")] == [NOT_TESTABLE]
    assert kinds["correlation of ln ε with ln R_f"] == AGREES
    assert kinds["correlation of ln ε with ln D_f alone"] == NOT_TESTABLE  # poor and strong
    # a falling R_f for the CNNs agrees with the paper; a falling one for FC nets differs
    falls = {"mean": -1.0, "low": -1.4, "high": -0.6, "n": 3, "architectures": ["x"]}
    part = describe(_summary(families={"CNN": falls, "fully connected": falls}))
    assert [c.kind for c in part.comparisons if c.quantity.startswith("ln R_f")] == [
        AGREES,
        DIFFERS,
    ]
    # the table sets D_f and G_f beside R_f, at initialisation and trained
    (_, header, rows), *_ = part.tables
    assert header[3:9] == ["D_f init", "G_f init", "R_f init", "D_f trained", "G_f trained",
                           "R_f trained"]  # fmt: skip
    assert rows[0][5] == "1 [0.8, 1.2]"


# --------------------------------------------------------------------------- training


def test_augmentations_move_whole_images():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 2, 10, 12, generator=g)
    cropped = _random_crop(x, 2, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # each crop is one 10×12 window of the padded image
        windows = [
            torch.equal(cropped[i], padded[i, :, dy : dy + 10, dx : dx + 12])
            for dy in range(5)
            for dx in range(5)
        ]
        assert sum(windows) >= 1
    assert not torch.equal(cropped, x)
    flipped = _random_flip(x, g)
    same = [torch.equal(flipped[i], x[i]) for i in range(len(x))]
    mirrored = [torch.equal(flipped[i], x[i].flip(-1)) for i in range(len(x))]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 4 < sum(mirrored) < 28


def test_training_on_digits_beats_chance_and_is_deterministic(digits28):
    ds, x_train, x_test = digits28

    def train(seed, **kwargs):
        net = build_classifier("fc", (1, 28, 28), 10, width=0.5, seed=seed)
        result = train_classifier(
            net, x_train, ds.y_train, x_test, ds.y_test, epochs=3, batch_size=64, lr=0.05,
            seed=seed, **kwargs,
        )  # fmt: skip
        return net, result

    net, result = train(0)
    assert result["status"] == "ok" and result["steps"] == 3 * math.ceil(ds.P / 64)
    assert result["test_error"] < 0.2  # chance is 0.9
    assert result["train_loss"][-1] < result["train_loss"][0]
    assert result["test_error"] == classification_error(net, x_test, ds.y_test)
    assert not net.training
    again, result_again = train(0)
    assert result_again == result
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), again.parameters(), strict=True))
    _, other = train(1)
    assert other["train_loss"] != result["train_loss"]
    _, augmented = train(0, crop_padding=2, flip=True, diffeo_delta=1.0)
    _, augmented_again = train(0, crop_padding=2, flip=True, diffeo_delta=1.0)
    assert augmented == augmented_again and augmented["train_loss"] != result["train_loss"]


def test_weight_decay_spares_the_one_dimensional_parameters():
    """The authors' SGD: weight decay 5e-4 on the weights, none on biases and batch norm."""
    net = build_classifier("vgg", (1, 16, 16), 10, width=0.125, seed=0)
    groups = parameter_groups(net, 5e-4)
    decayed, spared = ({id(p) for p in g["params"]} for g in groups)
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    for name, p in net.named_parameters():
        assert (id(p) in decayed) == (p.ndim > 1), name
        assert (id(p) in spared) == (p.ndim == 1), name
    # a step with zero gradients: only the weights shrink, by the factor 1 − lr · wd
    lr = 0.1
    optimizer = torch.optim.SGD(groups, lr=lr, momentum=0.9)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in net.named_parameters():
        factor = 1 - lr * 5e-4 if p.ndim > 1 else 1.0
        assert torch.allclose(p, before[name] * factor, rtol=0, atol=1e-7), name


def test_cosine_schedule_values():
    total = 8
    values = [cosine_lr(0.1, step, total) for step in range(total + 1)]
    assert values[0] == 0.1 and values[total // 2] == pytest.approx(0.05, abs=1e-15)
    assert values[-1] == pytest.approx(0, abs=1e-15)
    assert all(a > b for a, b in itertools.pairwise(values))
    # symmetric about the half: lr(t) + lr(total − t) = lr
    assert all(values[t] + values[total - t] == pytest.approx(0.1, abs=1e-15) for t in range(total))


def test_adam_trains_and_unknown_optimizers_are_refused(digits28):
    ds, x_train, x_test = digits28
    net = build_classifier("fc", (1, 28, 28), 10, width=0.125, seed=0)
    result = train_classifier(
        net, x_train, ds.y_train, x_test, ds.y_test, epochs=2, batch_size=64, lr=1e-3,
        weight_decay=0.0, optimizer="adam",
    )  # fmt: skip
    assert result["status"] == "ok" and result["test_error"] < 0.3  # chance is 0.9
    with pytest.raises(UnknownNameError, match="unknown optimizer 'adagrad'"):
        train_classifier(net, x_train, ds.y_train, x_test, ds.y_test, epochs=1, optimizer="adagrad")


def test_divergence_is_reported_not_hidden(digits28):
    ds, x_train, x_test = digits28
    net = build_classifier("fc", (1, 28, 28), 10, width=0.25)
    result = train_classifier(
        net, x_train, ds.y_train, x_test, ds.y_test, epochs=2, lr=1e6, momentum=0.0
    )
    assert result["status"] == "diverged"


# --------------------------------------------------------------------------- science


def test_fully_connected_net_at_initialisation_has_R_about_one(digits28):
    """Reported: R_f ≈ 1 at initialisation. 500 test points, δ = 1 pixel, c = 3, median."""
    _, _, x_test = digits28
    values = []
    for seed in range(3):
        net = build_classifier("fc", (1, 28, 28), 10, seed=seed).eval()
        [s] = sensitivities(net, x_test[:500], deltas=[1.0], n_bootstrap=200, seed=seed)
        low, high = s.R_interval
        assert low < 1 < high, (seed, s.R, s.R_interval)  # measured: 0.97, 0.98, 1.04
        values.append(s.R)
    assert abs(math.log(geometric_mean(values))) < math.log(1.1)


class _BatchStandardise(torch.nn.Module):
    """A batch norm written out: the batch's mean and biased variance, then γ and β."""

    def __init__(self, bn):
        super().__init__()
        self.weight, self.bias, self.eps = bn.weight, bn.bias, bn.eps

    def forward(self, x):
        mean = x.mean((0, 2, 3), keepdim=True)
        var = x.var((0, 2, 3), unbiased=False, keepdim=True)
        scale = self.weight[:, None, None] / (var + self.eps).sqrt()
        return (x - mean) * scale + self.bias[:, None, None]


def _batch_standardised(model):
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.BatchNorm2d):
                setattr(parent, name, _BatchStandardise(child))
    return model.eval()


def _mnist_resnet(**changes):
    settings = dict(
        architectures=("resnet18:0.125",),
        seeds=(0,),
        epochs=0,
        n_points=200,
        deltas=(1.0,),
        n_bootstrap=0,
        data={"P": 100, "n_test": 200},
    )
    config = quick_config(**{**settings, **changes})
    data = _load_data(config)
    temps, deltas = _scales(config, tuple(data.x_test.shape[-2:]))
    entry, _ = _one_network("resnet18:0.125", 0, data, config, temps, _reference(deltas))
    return config, data, temps, entry


def test_batch_norm_at_initialisation_normalises_each_kind_of_image_by_its_own_batch():
    """The authors measure an initialised net with batch statistics (diffeo-sota,
    results/stability_measures.py); eval mode would use the constructor's running statistics
    μ = 0, σ² = 1, every batch norm the identity (R_f of ResNet-18 ≈ 0.2 on MNIST-5k)."""
    config, data, temps, entry = _mnist_resnet()
    model = build_classifier("resnet18", (1, 28, 28), 10, width=0.125, seed=0)
    [expected] = sensitivities(
        _batch_standardised(model),
        data.x_test[: config.n_points],
        temperatures=temps,
        n_bootstrap=0,
        seed=0,
        batch_size=config.n_points,
    )
    [measured] = entry["init"]["output"]
    for key in ("D", "G", "R"):
        assert measured[key] == pytest.approx(getattr(expected, key), rel=1e-4), key
    # the paper's "R_f ≈ 1 at initialisation" (measured 1.1 on 200 points; 0.27 before)
    assert 0.5 < measured["R"] < 2


def test_batch_norm_at_initialisation_from_running_statistics_of_the_training_images():
    """The option: one fixed function, running statistics estimated on the training set."""
    config, data, temps, entry = _mnist_resnet(init_batch_norm="running")
    model = build_classifier("resnet18", (1, 28, 28), 10, width=0.125, seed=0)
    model = estimate_running_statistics(model, data.x_train)
    [expected] = sensitivities(
        model, data.x_test[: config.n_points], temperatures=temps, n_bootstrap=0, seed=0
    )
    [measured] = entry["init"]["output"]
    assert measured["R"] == pytest.approx(expected.R, rel=1e-6)


def test_the_authors_fully_connected_training_learns_mnist():
    """fc-ntk with the authors' Adam at a constant 0.1 (the config's defaults, through the
    run's choice of optimizer): 3 epochs on 1,000 MNIST-5k digits, far below chance."""
    config = quick_config(data={"P": 1000, "n_test": 500})
    data = _load_data(config)
    net = build_classifier("fc-ntk", (1, 28, 28), 10, width=0.125, seed=0)
    result = train_classifier(
        net, data.x_train, data.y_train, data.x_test, data.y_test, epochs=3, seed=0,
        **_optimizer("fc-ntk", config),
    )  # fmt: skip
    assert result["status"] == "ok" and result["test_error"] < 0.2, result["test_error"]


# --------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def tiny_record():
    with torch_threads(1):
        return run(tiny_config())


def test_run_record_is_json_and_reproducible(tiny_record):
    text = json.dumps(tiny_record, allow_nan=False)
    assert json.loads(text)["config"] == tiny_config().to_dict()
    again = run(tiny_config())
    assert without_timing(again) == without_timing(tiny_record)


def test_each_network_is_one_run_of_the_store(tiny_record, tmp_path):
    """One ``stability-network`` run per architecture and seed; the same record as without a
    store given; a rerun trains nothing (every row keeps its finishing time)."""
    from symscape.sweep import Store

    stored = run(tiny_config(), tmp_path / "s.db")
    assert without_timing(stored) == without_timing(tiny_record)
    with Store(tmp_path / "s.db", create=False) as store:
        rows = store.rows()
    assert {r["experiment"] for r in rows} == {"stability-network"}
    assert [(r["config"]["architecture"], r["config"]["seed"]) for r in rows] == [
        ("fc:0.25", 0),
        ("fc:0.25", 1),
        ("lenet:0.5", 0),
        ("lenet:0.5", 1),
    ]
    assert {r["status"] for r in rows} == {"done"}
    from symscape.sweep.runner import Runner

    rerun = run(tiny_config(), Runner(tmp_path / "s.db"))  # a Runner, or a path as above
    assert without_timing(rerun) == without_timing(tiny_record)
    with Store(tmp_path / "s.db", create=False) as store:
        again = store.rows()
    assert [(r["key"], r["finished"]) for r in again] == [(r["key"], r["finished"]) for r in rows]


def test_an_interrupted_run_resumes_without_retraining(tiny_record, tmp_path, monkeypatch):
    """Stopped (Ctrl-C) while training the third network, a rerun trains only the third and
    the fourth; the record then equals the uninterrupted one."""
    from symscape.experiments.stability import zoo

    trained = []
    one_network = zoo._one_network

    def counted(spec, seed, *args):
        trained.append((spec, seed))
        if (spec, seed) == ("lenet:0.5", 0) and interrupted:
            raise KeyboardInterrupt("stopped by the test")
        return one_network(spec, seed, *args)

    monkeypatch.setattr(zoo, "_one_network", counted)
    interrupted = True
    with pytest.raises(KeyboardInterrupt, match="interrupted; rerun to resume"):
        run(tiny_config(), tmp_path / "s.db")
    assert trained == [("fc:0.25", 0), ("fc:0.25", 1), ("lenet:0.5", 0)]
    interrupted, trained[:] = False, []
    resumed = run(tiny_config(), tmp_path / "s.db")
    assert trained == [("lenet:0.5", 0), ("lenet:0.5", 1)]
    assert without_timing(resumed) == without_timing(tiny_record)


def test_network_config_is_one_network_of_a_stability_config():
    from symscape.experiments.stability import NetworkConfig, network_configs

    config = tiny_config(checkpoints={"lenet:0.5": "lenet.pt"})
    networks = network_configs(config)
    assert [(n.architecture, n.seed, n.checkpoint) for n in networks] == [
        ("fc:0.25", 0, ""),
        ("fc:0.25", 1, ""),
        ("lenet:0.5", 0, "lenet.pt"),
        ("lenet:0.5", 1, "lenet.pt"),
    ]
    one = networks[2]
    assert NetworkConfig.from_dict(json.loads(one.to_json())) == one
    assert one.stability_config() == tiny_config(
        architectures=("lenet:0.5",), seeds=(0,), checkpoints={"lenet:0.5": "lenet.pt"}
    )
    with pytest.raises(InvalidOptionError, match="momentum"):
        NetworkConfig(momentum=1.5)


def test_run_record_has_the_common_header(tiny_record):
    from symscape import __version__

    header = {"experiment", "version", "config", "host", "wall_time_s"}
    assert header <= set(tiny_record) and tiny_record["experiment"] == "stability"
    assert tiny_record["version"] == tiny_record["symscape_version"] == __version__
    assert list(tiny_record)[:3] == ["experiment", "symscape_version", "config"]
    assert "total_s" in tiny_record["timing"]


def test_run_record_structure_and_geometric_means(tiny_record):
    record = tiny_record
    config = tiny_config()
    assert len(record["runs"]) == len(config.architectures) * len(config.seeds)
    assert record["reference"]["delta"] == pytest.approx(1.0)
    assert record["deltas"] == pytest.approx([0.5, 1.0])
    for entry in record["runs"]:
        net = build_classifier(entry["name"], (1, 16, 16), 10, width=entry["width"])
        assert entry["stages"] == list(net.stages)
        for phase in ("init", "trained"):
            assert [s["layer"] for s in entry[phase]["layers"]] == list(net.stages)
            assert [s["delta"] for s in entry[phase]["output"]] == pytest.approx([0.5, 1.0])
            for s in entry[phase]["output"]:
                assert s["R"] == pytest.approx(s["D"] / s["G"])
                assert s["n_points"] == 60 and s["n_bootstrap"] == 10
    for summary in record["summary"]:
        mine = [r for r in record["runs"] if r["architecture"] == summary["architecture"]]
        R = [r["trained"]["output"][1]["R"] for r in mine]
        assert summary["R_trained"] == pytest.approx(math.sqrt(R[0] * R[1]))
        errors = [r["trained"]["test_error"] for r in mine]
        assert summary["test_error"] == pytest.approx(sum(errors) / 2)
        # two seeds: the Student interval of the mean of ln R_f, t_{0.975, 1} = 12.706
        logs = np.log(R)
        half = 12.706204736174698 * np.std(logs, ddof=1) / math.sqrt(2)
        assert summary["R_trained_interval"] == pytest.approx(
            [math.exp(logs.mean() - half), math.exp(logs.mean() + half)]
        )
        init = [r["init"]["output"][1]["R"] for r in mine]
        assert summary["log_change_seeds"] == pytest.approx(list(np.log(R) - np.log(init)))
    fit = record["fit"]
    expected = fit_power_law(
        [s["test_error"] for s in record["summary"]], [s["R_trained"] for s in record["summary"]]
    )
    assert fit == expected


def test_the_same_deformations_at_init_and_after_training(tmp_path):
    """Init and trained are measured on the same deformations and the same noise.

    The "trained" network is the initial network itself, loaded from a checkpoint: the two
    measurements then coincide at every temperature, bootstrap intervals included, only if
    both draw the same fields τ and the same noise η (another draw moves D_f and G_f by
    their sampling error)."""
    net = build_classifier("fc", (1, 16, 16), 10, width=0.25, seed=3)
    path = tmp_path / "fc-init.pt"
    torch.save(net.state_dict(), path)
    config = tiny_config(seeds=(3,), architectures=("fc:0.25",), checkpoints={"fc:0.25": str(path)})
    with torch_threads(1):
        entry = run(config)["runs"][0]
    assert entry["trained"]["status"] == "loaded"
    init, trained = entry["init"], entry["trained"]
    assert init["output"] == trained["output"]
    assert init["layers"] == trained["layers"]
    assert init["test_error"] == trained["test_error"]
    # the draws matter: another seed's measurement of the same network differs
    other = tiny_config(seeds=(4,), architectures=("fc:0.25",), checkpoints={"fc:0.25": str(path)})
    with torch_threads(1):
        moved = run(other)["runs"][0]["trained"]["output"]
    assert [s["D"] for s in moved] != [s["D"] for s in trained["output"]]


def test_checkpoints_are_loaded_not_trained(tmp_path, tiny_record):
    net = build_classifier("lenet", (1, 16, 16), 10, width=0.5, seed=7)
    path = tmp_path / "lenet.pt"
    torch.save(net.state_dict(), path)
    config = tiny_config(seeds=(0,), checkpoints={"lenet:0.5": str(path)})
    record = run(config)
    entry = next(r for r in record["runs"] if r["architecture"] == "lenet:0.5")
    assert entry["trained"]["status"] == "loaded" and entry["trained"]["source"] == str(path)
    assert "train_loss" not in entry["trained"]
    fc = next(r for r in record["runs"] if r["architecture"] == "fc:0.25")
    assert fc == tiny_record["runs"][0]  # the other network is untouched


def test_cli_writes_figures_and_summary(tmp_path, capsys):
    from symscape.cli.stability import stability

    out = tmp_path / "out"
    args = [
        "--protocol", "quick", "--arch", "fc:0.25", "--arch", "lenet:0.5", "--image-size", "16",
        "--P", "200",
        "--n-test", "100", "--epochs", "1", "--seeds", "0", "--delta", "0.5", "--delta", "1",
        "--n-points", "60", "--n-bootstrap", "10", "--out", str(out), "--json",
    ]  # fmt: skip
    stability.main(args, standalone_mode=False)
    summary = json.loads(capsys.readouterr().out)
    assert [row["architecture"] for row in summary["rows"]] == ["fc:0.25", "lenet:0.5"]
    record = json.loads((out / "stability.json").read_text())
    assert record["config"]["data"] == {"image_size": 16, "P": 200, "n_test": 100}
    # one seed: R_f's interval is that network's bootstrap interval over the test points
    for row, entry in zip(record["summary"], record["runs"], strict=True):
        assert row["R_init_interval"] == entry["init"]["output"][1]["R_interval"]
    names = {p.split("/")[-1] for p in summary["figures"]}
    for stem in ("error_vs_stability", "sensitivity_curves", "layers", "gallery"):
        for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
            assert f"stability_{stem}{suffix}" in names
            assert (out / f"stability_{stem}{suffix}").read_bytes().startswith(magic)
    text = markdown_section(summary)
    assert "| fc:0.25 |" in text and "0.2 √R_f" in text
    # the store OUT/stability.db holds the networks: a rerun trains none and prints describe()
    from symscape.sweep import Store

    with Store(out / "stability.db", create=False) as store:
        rows = [(r["key"], r["finished"]) for r in store.rows()]
    assert len(rows) == 2
    stability.main([a for a in args if a != "--json"], standalone_mode=False)
    printed = capsys.readouterr().out
    assert "R_f at initialisation, fc:0.25" in printed and f"written to {out}/" in printed
    with Store(out / "stability.db", create=False) as store:
        assert [(r["key"], r["finished"]) for r in store.rows()] == rows


def test_cli_runs_on_the_store_and_executor_given(tmp_path, monkeypatch):
    """--db and --executor make the Runner that run gets (nothing trains here)."""
    import symscape.experiments.stability as module

    class Stop(Exception):
        pass

    runners = []

    def keep(config, runner):
        runners.append(runner)
        raise Stop

    monkeypatch.setattr(module, "run", keep)
    from symscape.cli.stability import stability

    out = tmp_path / "out"
    with pytest.raises(Stop):
        stability.main(["--out", str(out)], standalone_mode=False)
    argv = ["--out", str(out), "--db", str(tmp_path / "s.db"), "--executor", "pool"]
    with pytest.raises(Stop):
        stability.main(argv, standalone_mode=False)
    assert [(r.store, r.executor) for r in runners] == [
        (out / "stability.db", "inprocess"),
        (tmp_path / "s.db", "pool"),
    ]


def test_cli_errors_are_symscape_errors(tmp_path):
    from symscape.cli.stability import stability

    with pytest.raises(InvalidOptionError, match="is not ARCH=PATH"):
        stability.main(["--load", "lenet"], standalone_mode=False)
    with pytest.raises(InvalidOptionError, match="both given"):
        stability.main(["--delta", "1", "--temperature", "0.001"], standalone_mode=False)
    with pytest.raises(InvalidOptionError, match="'labels' is set by the"):
        stability.main(["--labels", "parity"], standalone_mode=False)


@pytest.mark.slow
def test_quick_protocol(tmp_path):
    """The quick section: every net learns MNIST (chance is 0.9; measured 0.02 to 0.07),
    starts at R_f ≈ 1 (measured 0.89 to 1.05; ResNet-18 0.22 while its batch norms were the
    identity at initialisation), and every row beside a paper value has its verdict."""
    from symscape.experiments.stability import stability_section

    summary = stability_section("quick", tmp_path / "figures", tmp_path)
    rows = {row["architecture"]: row for row in summary["rows"]}
    assert all(row["test_error"] < 0.15 for row in rows.values())
    assert 0.8 < rows["fc-ntk:0.125"]["R_init"] < 1.25
    assert all(0.5 < row["R_init"] < 2 for row in rows.values())
    assert summary["fit"]["a"] is not None
    assert (tmp_path / "figures" / "stability_gallery.pdf").exists()
    part = describe(summary)
    assert all(c.kind in VERDICTS for c in part.comparisons if c.reported != "—")
