"""Batch norm while measuring: each batch's own statistics, or running statistics from data."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from symscape.nets.batchnorm import (
    batch_norm_layers,
    batch_statistics,
    estimate_running_statistics,
)
from symscape.nets.zoo import build_classifier


def _images(n, seed=0):
    return torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_batch_statistics_compute_as_training_mode_and_leave_the_model_as_it_was():
    net = build_classifier("resnet18", (1, 16, 16), 10, width=0.125, seed=0).eval()
    before = copy.deepcopy(net.state_dict())
    x = 3 + 2 * _images(40)
    reference = copy.deepcopy(net).train()  # training mode: normalised by the batch
    with torch.no_grad():
        with batch_statistics(net) as same:
            assert same is net
            inside = net(x)
        expected = reference(x)
        after = net(x)  # running statistics again: μ = 0, σ² = 1, batch norm the identity
    torch.testing.assert_close(inside, expected)
    assert not torch.allclose(after, inside, atol=1e-3)
    assert not any(m.training for m in net.modules())
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_batch_statistics_restore_a_layer_in_training_mode_even_after_an_error():
    bn = nn.BatchNorm2d(2).train()

    def fail_inside():
        with batch_statistics(bn):
            assert not bn.training
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail_inside()
    assert bn.training and bn.running_mean is not None and bn.running_var is not None


def test_running_statistics_are_the_mean_and_variance_of_the_images():
    bn = nn.Sequential(nn.BatchNorm2d(3))
    x = torch.randn(64, 3, 4, 4, generator=torch.Generator().manual_seed(1)) * 3 + 2
    model = estimate_running_statistics(bn, x, batch_size=64)
    [layer] = batch_norm_layers(model)
    flat = x.transpose(0, 1).reshape(3, -1)
    torch.testing.assert_close(layer.running_mean, flat.mean(1))
    torch.testing.assert_close(layer.running_var, flat.var(1))  # torch keeps it unbiased
    assert layer.momentum == 0.1 and not model.training
    # several batches: the average of the batches' statistics
    model = estimate_running_statistics(bn, x, batch_size=16)
    means = torch.stack([x[i : i + 16].mean((0, 2, 3)) for i in range(0, 64, 16)])
    torch.testing.assert_close(layer.running_mean, means.mean(0))


def test_a_model_without_batch_norm_is_unchanged():
    net = build_classifier("lenet", (1, 16, 16), 10, seed=0).eval()
    assert batch_norm_layers(net) == []
    x = _images(8)
    with torch.no_grad(), batch_statistics(net):
        inside = net(x)
    torch.testing.assert_close(inside, net(x).detach())
