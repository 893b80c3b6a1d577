"""Losses, gaps and N_Δ on known numbers and limits."""

import math

import pytest
import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.train.losses import LOSSES, errors, gaps, loss_per_point, n_delta


def test_binary_losses_on_known_gaps():
    out = torch.tensor([[[3.0], [1.0], [0.0], [-2.0]]], dtype=torch.float64)
    y = torch.ones(4, dtype=torch.float64)
    gap = gaps(out, y, kappa=1.0)
    assert gap.tolist() == [[-2.0, 0.0, 1.0, 3.0]]
    assert n_delta(gap).tolist() == [2]  # Δ = 0 is satisfied
    assert loss_per_point("hinge", out, y).tolist() == [[0.0, 0.0, 1.0, 3.0]]
    assert loss_per_point("quadratic_hinge", out, y).tolist() == [[0.0, 0.0, 0.5, 4.5]]
    assert loss_per_point("mse", out, y).tolist() == [[2.0, 0.0, 0.5, 4.5]]
    logistic = [math.log1p(math.exp(g)) for g in gap[0].tolist()]
    assert torch.allclose(
        loss_per_point("cross_entropy", out, y)[0], torch.tensor(logistic, dtype=torch.float64)
    )
    assert errors(out, y).tolist() == [0.5]  # y f <= 0 is an error


def test_soft_hinge_tends_to_hinge():
    out = torch.linspace(-3, 3, 25, dtype=torch.float64).reshape(1, -1, 1)
    y = torch.ones(25, dtype=torch.float64)
    hinge = loss_per_point("hinge", out, y)
    for beta, tol in [(10.0, 0.07), (1000.0, 7e-4)]:
        soft = loss_per_point("soft_hinge", out, y, beta=beta)
        assert (soft - hinge).abs().max() <= tol
        assert (soft >= hinge).all()


def test_multiclass_gaps_and_cross_entropy():
    out = torch.tensor([[[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    assert gaps(out, y, kappa=1.0).tolist() == [[1.0 - 1.5, 1.0 - (1.0 - 3.0)]]
    ce = loss_per_point("cross_entropy", out, y, kappa=0.0)
    expected = torch.nn.functional.cross_entropy(out[0], y, reduction="none")
    assert torch.allclose(ce[0], expected)
    assert errors(out, y).tolist() == [0.5]


def test_losses_reject_mismatched_shapes_and_names():
    with pytest.raises(InvalidOptionError, match="one output"):
        gaps(torch.zeros(1, 3, 2), torch.ones(3))
    with pytest.raises(InvalidOptionError, match="do not fit"):
        gaps(torch.zeros(1, 3, 1), torch.ones(4))
    with pytest.raises(UnknownNameError, match="unknown loss"):
        loss_per_point("l1", torch.zeros(1, 3, 1), torch.ones(3))
    assert len(LOSSES) == 5


def test_a_diverged_output_is_an_error_never_a_correct_prediction():
    from symscape.train.losses import error_rate

    nan = float("nan")
    binary = torch.tensor([[[1.0], [nan], [-2.0], [float("inf")]]], dtype=torch.float64)
    y = torch.tensor([1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    assert errors(binary, y).tolist() == [0.5]  # NaN and +inf both wrong, though y·inf > 0
    # argmax picks the NaN class: without the check the NaN row would count as correct
    multi = torch.tensor([[[nan, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    assert errors(multi, torch.tensor([0, 1])).tolist() == [0.5]
    # one predictor's outputs, as a list, an array or a tensor: the same rule, in float64
    assert error_rate([0.5, -2.0, nan], [1.0, 1.0, 1.0]) == pytest.approx(2 / 3, abs=1e-15)
    assert error_rate([[nan, 0.0], [0.0, 1.0]], [0, 1]) == 0.5


def test_misclassified_is_errors_before_the_mean_over_points():
    from symscape.train.losses import misclassified

    torch.manual_seed(0)
    binary = torch.randn(3, 50, 1, dtype=torch.float64)
    binary[1, 7, 0] = float("nan")
    y = torch.sign(torch.randn(50, dtype=torch.float64))
    wrong = misclassified(binary, y)
    assert wrong.shape == (3, 50) and set(wrong.unique().tolist()) <= {0.0, 1.0}
    assert wrong.mean(-1).tolist() == errors(binary, y).tolist()
    assert wrong[1, 7] == 1.0  # a diverged output errs
    assert misclassified(binary[..., 0].numpy(), y.numpy()).tolist() == wrong.tolist()
    multi = torch.randn(2, 40, 3, dtype=torch.float64)
    labels = torch.randint(0, 3, (40,))
    assert misclassified(multi, labels).mean(-1).tolist() == errors(multi, labels).tolist()
