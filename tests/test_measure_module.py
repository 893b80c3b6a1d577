"""The boundary of ``symscape.measure`` for a user's own model: one line for each bad input."""

from __future__ import annotations

import pytest
import torch

from symscape.errors import InvalidOptionError
from symscape.measure.module import as_functional, batches, check_data, scalar_loss


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def test_the_functional_is_the_module_at_any_parameters():
    net = _net()
    f, params = as_functional(net)
    x = torch.randn(6, 3)
    moved = {name: p + 0.1 for name, p in params.items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1)
    torch.testing.assert_close(f(moved, x), net(x), rtol=0, atol=0)
    assert all(not p.requires_grad for p in params.values())  # detached starting point


def test_frozen_parameters_are_not_variables():
    net = _net()
    net[0].bias.requires_grad_(False)
    _, params = as_functional(net)
    assert sorted(params) == ["0.weight", "2.bias", "2.weight"]


def test_bad_models_and_params_get_one_line():
    net = _net()
    net.requires_grad_(False)
    with pytest.raises(InvalidOptionError, match="no parameter that requires gradients"):
        as_functional(net)
    with pytest.raises(InvalidOptionError, match="missing"):
        as_functional(_net(), {"0.weight": torch.zeros(4, 3)})
    with pytest.raises(InvalidOptionError, match="has shape"):
        as_functional(_net(), {n: torch.zeros(1) for n, _ in _net().named_parameters()})
    with pytest.raises(InvalidOptionError, match="needs its params"):
        as_functional(lambda p, x: x)
    with pytest.raises(InvalidOptionError, match="cannot be measured"):
        as_functional(3)


def test_data_on_another_dtype_or_not_finite_gets_one_line():
    _, params = as_functional(_net())
    check_data(params, torch.randn(2, 3), torch.tensor([0, 1]))  # integer targets pass
    with pytest.raises(InvalidOptionError, match=r"torch.float64, the parameters torch.float32"):
        check_data(params, torch.randn(2, 3, dtype=torch.float64))
    with pytest.raises(InvalidOptionError, match="non-finite"):
        check_data(params, torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(InvalidOptionError, match="not a tensor"):
        check_data(params, [[0.0, 1.0, 2.0]])


def test_a_loss_that_is_not_a_scalar_gets_one_line():
    assert scalar_loss(torch.tensor([2.0])).shape == ()
    with pytest.raises(InvalidOptionError, match=r"returned \(3,\), not a scalar"):
        scalar_loss(torch.ones(3))
    with pytest.raises(InvalidOptionError, match="not a scalar"):
        scalar_loss(1.0)
    with pytest.raises(InvalidOptionError, match=r"torch\.int64"):
        scalar_loss(torch.tensor(1))


def test_batches_from_tensors_or_a_loader():
    x, y = torch.randn(10, 3), torch.randn(10)
    assert [len(b[0]) for b in batches((x, y))] == [10]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    assert [len(b[0]) for b in batches(loader)] == [4, 4, 2]
    with pytest.raises(InvalidOptionError, match="x has 10 points and y 9"):
        list(batches((x, y[:9])))
    with pytest.raises(InvalidOptionError, match="holds no batch"):
        list(batches([]))
    with pytest.raises(InvalidOptionError, match="neither"):
        list(batches(3))
