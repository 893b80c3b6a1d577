"""The classifier zoo: shapes, training, named stages, seeds, and loading state-dict files."""

import pickle

import pytest
import torch

from symscape.errors import DataFormatError, DataNotFoundError, InvalidOptionError, UnknownNameError
from symscape.nets.zoo import (
    CLASSIFIERS,
    build_classifier,
    load_model,
    n_parameters,
    parse_classifier,
)
from symscape.train.config import torch_threads

SMALL = {"fc": 0.25, "fc-ntk": 0.25, "lenet": 0.5, "vgg": 0.125, "resnet18": 0.125}


@pytest.mark.parametrize("name", CLASSIFIERS)
@pytest.mark.parametrize(("shape", "k"), [((1, 28, 28), 10), ((3, 32, 32), 3), ((2, 16, 20), 5)])
def test_every_net_maps_images_to_k_logits(name, shape, k):
    net = build_classifier(name, shape, k, width=SMALL[name], seed=1)
    x = torch.randn(4, *shape)
    out = net(x)
    assert out.shape == (4, k)
    assert torch.isfinite(out).all()
    net.eval()
    assert net(x).shape == (4, k)


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread, as symscape runs by default (two stall on a busy 2-core machine)."""
    with torch_threads(1):
        yield


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_net_fits_a_tiny_batch(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 1, 16, 16, generator=g)
    y = torch.arange(16) % 4
    net = build_classifier(name, (1, 16, 16), 4, width=SMALL[name], seed=0)
    lr = 0.1 if name == "fc-ntk" else 3e-3  # weights N(0, 1): Adam's steps scale with them
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::8]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_stages_are_named_modules_run_once_in_depth_order(name):
    net = build_classifier(name, (3, 32, 32), 10, width=SMALL[name]).eval()
    modules = dict(net.named_modules())
    assert net.stages[-1] == "classifier"
    seen = []
    handles = [
        modules[stage].register_forward_hook(lambda m, i, o, s=stage: seen.append((s, o.shape)))
        for stage in net.stages
    ]
    net(torch.zeros(2, 3, 32, 32))
    for h in handles:
        h.remove()
    assert [s for s, _ in seen] == list(net.stages)  # each once, in order
    assert all(shape[0] == 2 for _, shape in seen)
    assert seen[-1][1] == (2, 10)


def test_batch_norm_where_the_architectures_have_it():
    def has_bn(name):
        net = build_classifier(name, (1, 28, 28), 10, width=SMALL[name])
        return any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())

    assert [has_bn(n) for n in CLASSIFIERS] == [False, False, False, True, True]


def test_seed_fixes_the_weights_and_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    a = build_classifier("lenet", (1, 28, 28), 10, seed=3).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    b = build_classifier("lenet", (1, 28, 28), 10, seed=3).state_dict()
    c = build_classifier("lenet", (1, 28, 28), 10, seed=4).state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not torch.equal(a["block1.0.weight"], c["block1.0.weight"])


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_width_multiplies_the_layers(name):
    narrow = build_classifier(name, (3, 32, 32), 10, width=0.25)
    wide = build_classifier(name, (3, 32, 32), 10, width=0.5)
    assert n_parameters(wide) > 2 * n_parameters(narrow)


def test_dtype_and_reference_sizes():
    net = build_classifier("resnet18", (3, 32, 32), 10, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    assert n_parameters(net) == 11_173_962  # the CIFAR ResNet-18 at width 1
    assert n_parameters(build_classifier("lenet", (1, 28, 28), 10)) == 61_706  # LeNet-5


def test_parse_classifier():
    assert parse_classifier("vgg") == ("vgg", 1.0)
    assert parse_classifier("resnet18:0.25") == ("resnet18", 0.25)
    with pytest.raises(InvalidOptionError, match="'x' is not a number"):
        parse_classifier("fc:x")
    with pytest.raises(InvalidOptionError, match=r"width=-1\.0"):
        parse_classifier("fc:-1")
    with pytest.raises(UnknownNameError, match="did you mean 'resnet18'"):
        parse_classifier("resnet:1")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "vgg16"}, UnknownNameError, "unknown classifier 'vgg16'"),
        ({"input_shape": (28, 28)}, InvalidOptionError, "not an image shape"),
        ({"input_shape": (1, 0, 28)}, InvalidOptionError, "not an image shape"),
        ({"name": "vgg", "input_shape": (1, 8, 8)}, InvalidOptionError, "at least 16×16"),
        ({"name": "lenet", "input_shape": (1, 8, 8)}, InvalidOptionError, "image_size=28"),
        ({"k": 0}, InvalidOptionError, "k=0"),
        ({"width": 0}, InvalidOptionError, "width=0"),
        ({"width": float("nan")}, InvalidOptionError, "width=nan"),
        ({"seed": -1}, InvalidOptionError, "seed=-1"),
    ],
)
def test_build_classifier_validates(kwargs, error, message):
    args = {"name": "fc", "input_shape": (1, 28, 28), "k": 10, **kwargs}
    with pytest.raises(error, match=message):
        build_classifier(args.pop("name"), args.pop("input_shape"), **args)


def test_fc_accepts_small_images():
    assert build_classifier("fc", (1, 8, 8), 10)(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


# --------------------------------------------------------------------------- loading


@pytest.fixture
def trained_vgg(tmp_path):
    net = build_classifier("vgg", (3, 16, 16), 5, width=0.125, seed=2)
    net.train()
    net(torch.randn(8, 3, 16, 16))  # moves the batch-norm running statistics
    path = tmp_path / "vgg.pt"
    torch.save(net.state_dict(), path)
    return net.eval(), path


def test_load_model_round_trips_a_state_dict(trained_vgg):
    net, path = trained_vgg
    loaded = load_model(path, "vgg", (3, 16, 16), 5, width=0.125)
    assert not loaded.training
    x = torch.randn(6, 3, 16, 16)
    assert torch.equal(loaded(x), net(x))
    assert torch.equal(loaded.stage1[1].running_mean, net.stage1[1].running_mean)


def test_load_model_accepts_nested_and_data_parallel_state_dicts(trained_vgg, tmp_path):
    net, _ = trained_vgg
    x = torch.randn(2, 3, 16, 16)
    nested = tmp_path / "nested.pt"
    torch.save({"epoch": 3, "state_dict": net.state_dict()}, nested)
    parallel = tmp_path / "parallel.pt"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, parallel)
    for path in (nested, parallel):
        assert torch.equal(load_model(path, "vgg", (3, 16, 16), 5, width=0.125)(x), net(x))


def test_load_model_missing_file_and_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope.pt", "fc", (1, 8, 8))
    with pytest.raises(DataNotFoundError, match="is a folder"):
        load_model(tmp_path, "fc", (1, 8, 8))


def test_load_model_refuses_a_pickled_module(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(build_classifier("fc", (1, 8, 8), 10), path)  # a whole model, not weights
    with pytest.raises(DataFormatError, match=r"weights_only=True") as info:
        load_model(path, "fc", (1, 8, 8))
    assert "state_dict()" in str(info.value)


def test_load_model_refuses_files_that_are_not_state_dicts(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a torch file at all")
    with pytest.raises(DataFormatError, match="cannot be read as a state dict"):
        load_model(garbage, "fc", (1, 8, 8))
    plain_pickle = tmp_path / "plain.pkl"
    plain_pickle.write_bytes(pickle.dumps({"layer1.0.weight": [1.0, 2.0]}, protocol=2))
    with pytest.raises(DataFormatError, match="cannot be read as a state dict"):
        load_model(plain_pickle, "fc", (1, 8, 8))
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(DataFormatError, match="holds a Tensor, not a state dict"):
        load_model(tensor, "fc", (1, 8, 8))
    numbers = tmp_path / "numbers.pt"
    torch.save({"a": 1, "b": torch.zeros(2)}, numbers)
    with pytest.raises(DataFormatError, match="not all tensors"):
        load_model(numbers, "fc", (1, 8, 8))


def test_load_model_names_the_offending_keys(trained_vgg, tmp_path):
    net, path = trained_vgg
    with pytest.raises(DataFormatError) as info:  # saved at width 0.125, built at 0.25
        load_model(path, "vgg", (3, 16, 16), 5, width=0.25)
    message = str(info.value)
    assert "stage1.0.weight (8, 3, 3, 3) vs (16, 3, 3, 3)" in message
    assert "(+" in message  # more than five: the rest are counted, not listed
    state = net.state_dict()
    del state["classifier.bias"]
    state["extra.weight"] = torch.zeros(1)
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    with pytest.raises(DataFormatError, match=r"missing keys classifier\.bias") as info:
        load_model(broken, "vgg", (3, 16, 16), 5, width=0.125)
    assert "unexpected keys extra.weight" in str(info.value)
    with pytest.raises(DataFormatError, match="does not fit lenet"):
        load_model(path, "lenet", (3, 16, 16), 5)


def test_the_ntk_fully_connected_net_is_fc_with_its_weights_rescaled():
    """fc-ntk computes relu(x W/√fan_in + b) and a readout x W/fan_in: the zoo's fc with the
    weights Wᵀ/√fan_in (Wᵀ/fan_in for the readout, no bias) computes the same function."""
    ntk = build_classifier("fc-ntk", (1, 8, 8), 3, width=0.125, seed=0)
    fc = build_classifier("fc", (1, 8, 8), 3, width=0.125, seed=1)
    with torch.no_grad():
        for name in ("layer1", "layer2", "layer3"):
            source, target = getattr(ntk, name)[0], getattr(fc, name)[0]
            target.weight.copy_(source.weight.T / source.weight.shape[0] ** 0.5)
            target.bias.copy_(source.bias)
        fc.classifier.weight.copy_(ntk.classifier.weight.T / ntk.classifier.weight.shape[0])
        fc.classifier.bias.zero_()
        x = torch.randn(5, 1, 8, 8)
        torch.testing.assert_close(ntk(x), fc(x))
    assert ntk.classifier.bias is None
    assert float(ntk.layer1[0].weight.detach().std()) == pytest.approx(1, abs=0.05)  # N(0, 1)
