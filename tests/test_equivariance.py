"""The equivariance measure: exact symmetries give rounding errors, broken ones do not."""

from __future__ import annotations

import json
import math

import pytest
import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure.equivariance import (
    IMAGE_TRANSFORMATIONS,
    TRANSFORMATIONS,
    invariance_errors,
    random_rotations,
)


def by_name(records):
    return {(r.transformation, r.dtype): r for r in records}


# --------------------------------------------------------------------------- images


def images(seed=0, shape=(6, 2, 8, 8)):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_global_average_pooling_is_exactly_invariant():
    head = torch.nn.Linear(2, 3, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), head)
    records = invariance_errors(model, images(), n_samples=5)
    assert [(r.transformation, r.dtype) for r in records] == [
        (t, d) for t in IMAGE_TRANSFORMATIONS for d in ("float32", "float64")
    ]
    for r in records:
        bound = 1e-6 if r.dtype == "float32" else 1e-14
        assert r.relative < bound, r
    assert by_name(records)["rotation", "float32"].n_samples == 3  # 90, 180, 270 degrees
    assert by_name(records)["flip", "float32"].n_samples == 4  # the reflections of a square
    assert by_name(records)["translation", "float32"].n_samples == 5
    assert model[2].weight.dtype == torch.float64  # the model measured is a copy


def test_fully_connected_model_is_not_invariant():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(128, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)
    )
    for r in invariance_errors(model, images()):
        assert r.relative > 1e-2, r


def test_circular_convolution_is_invariant_to_cyclic_shifts_only():
    """Circular padding + global pooling: exact under torch.roll, not under rotations."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )
    errors = by_name(invariance_errors(model, images(), dtypes=[torch.float64]))
    assert errors["translation", "float64"].relative < 1e-13
    assert errors["rotation", "float64"].relative > 1e-3
    assert errors["flip", "float64"].relative > 1e-3


def test_rectangular_images_use_the_half_turn_and_two_flips():
    def upside_down_blind(x):  # invariant to the half turn and to both flips, not to shifts
        return (x + x.flip(-1) + x.flip(-2) + x.flip(-1).flip(-2)).flatten(1)

    errors = by_name(invariance_errors(upside_down_blind, images(shape=(3, 1, 4, 6))))
    assert errors["rotation", "float32"].n_samples == 1
    assert errors["flip", "float32"].n_samples == 2
    assert errors["rotation", "float32"].absolute < 1e-6
    assert errors["flip", "float32"].absolute < 1e-6
    assert errors["translation", "float32"].relative > 1e-2


def test_image_measure_rejects_bad_input():
    with pytest.raises(InvalidOptionError, match=r"\[B, C, H, W\]"):
        invariance_errors(lambda x: x, torch.rand(3, 8, 8))
    with pytest.raises(UnknownNameError, match="'shear'"):
        invariance_errors(lambda x: x.flatten(1), images(), transformations=["shear"])
    with pytest.raises(InvalidOptionError, match="one row per input"):
        invariance_errors(lambda x: x.sum(), images())
    with pytest.raises(InvalidOptionError, match="dtypes"):
        invariance_errors(lambda x: x.flatten(1), images(), dtypes=[torch.int64])
    with pytest.raises(InvalidOptionError, match="n_samples"):
        invariance_errors(lambda x: x.flatten(1), images(), n_samples=0)


def test_records_are_json():
    records = invariance_errors(lambda x: x.flatten(1), images(), dtypes=[torch.float32])
    for r in records:
        json.dumps(r.as_dict(), allow_nan=False)


# --------------------------------------------------------------------------- rotations


def test_random_rotations_are_rotations_and_reproducible():
    R = random_rotations(64, torch.Generator().manual_seed(3))
    eye = torch.eye(3, dtype=torch.float64)
    assert (R @ R.transpose(1, 2) - eye).abs().max() < 1e-14
    assert (torch.linalg.det(R) - 1).abs().max() < 1e-14
    assert torch.equal(R, random_rotations(64, torch.Generator().manual_seed(3)))


def test_random_rotations_are_haar_distributed():
    """Uniform on SO(3), against the moments of the Haar measure, each within 4.5 of its
    own standard errors over n draws. Each column is uniform on the sphere, so each entry
    is uniform on [−1, 1] (Archimedes): mean 0 (sd 1/√(3n)), mean square 1/3 (sd
    √(4/45n)). The trace χ = 1 + 2 cos θ is the character of the defining
    representation: E χ = 0 (sd 1/√n) and E χ² = 1 (its multiplicity of the trivial
    one in 1 ⊗ 1; sd √(2/n), E χ⁴ = 3). Uniform Euler angles or a uniform quaternion
    cube would fail the second moments."""
    n = 20_000
    R = random_rotations(n, torch.Generator().manual_seed(4))
    assert (R.mean(0).abs() < 4.5 / math.sqrt(3 * n)).all()
    assert ((R.square().mean(0) - 1 / 3).abs() < 4.5 * math.sqrt(4 / 45 / n)).all()
    chi = R.diagonal(dim1=1, dim2=2).sum(-1)
    assert abs(chi.mean().item()) < 4.5 / math.sqrt(n)
    assert abs(chi.square().mean().item() - 1) < 4.5 * math.sqrt(2 / n)


def test_representation_matrices_are_a_representation():
    pytest.importorskip("e3nn")
    from e3nn import o3

    from symscape.measure.equivariance import representation_matrix

    irreps = o3.Irreps("2x0e + 0o + 1o + 1e + 2e + 2o + 3o + 4e")
    g = torch.Generator().manual_seed(0)
    R1, R2 = random_rotations(2, g)
    D1, D2 = representation_matrix(irreps, R1), representation_matrix(irreps, R2)
    assert (representation_matrix(irreps, R1 @ R2) - D1 @ D2).abs().max() < 1e-13
    assert (D1 @ D1.T - torch.eye(irreps.dim, dtype=torch.float64)).abs().max() < 1e-13
    # e3nn's spherical harmonics (computed from polynomials, not 3j) transform by them
    sh = o3.Irreps.spherical_harmonics(4)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    Y = o3.spherical_harmonics(sh, x, normalize=True)
    Dsh = representation_matrix(sh, R1)
    assert (o3.spherical_harmonics(sh, x @ R1.T, normalize=True) - Y @ Dsh.T).abs().max() < 1e-13
    # inversion: each irrep by its parity
    parity = representation_matrix(irreps, -torch.eye(3)).diagonal()
    expected = [1, 1, -1] + [-1] * 3 + [1] * 3 + [1] * 5 + [-1] * 5 + [-1] * 7 + [1] * 9
    assert parity.tolist() == expected
    with pytest.raises(InvalidOptionError, match="orthogonal"):
        representation_matrix(irreps, 2 * torch.eye(3))


# --------------------------------------------------------------------------- point clouds


def clouds(batch=3, n=7, seed=0, dtype=torch.float64):
    return torch.randn(batch, n, 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def centred(positions):
    """Per point: its position relative to the centroid (a vector field, irreps 1o)."""
    return positions - positions.mean(1, keepdim=True)


def test_exact_functions_have_rounding_errors_only():
    pytest.importorskip("e3nn")
    from symscape.measure.equivariance import equivariance_errors

    def radius_of_gyration(positions):  # invariant, pooled
        return centred(positions).pow(2).sum((1, 2))[:, None]

    for f, irreps in ((radius_of_gyration, "0e"), (centred, "1o")):
        records = equivariance_errors(f, clouds(), irreps, n_samples=3)
        assert {r.transformation for r in records} == set(TRANSFORMATIONS)
        for r in records:
            bound = 1e-5 if r.dtype == "float32" else 1e-13
            assert r.relative < bound, (f.__name__, r)


def test_wrong_parity_is_caught():
    """The centred positions are a 1o field: claimed to be 1e, inversion flags them."""
    pytest.importorskip("e3nn")
    from symscape.measure.equivariance import equivariance_errors

    errors = by_name(equivariance_errors(centred, clouds(), "1e", dtypes=[torch.float64]))
    assert errors["rotation", "float64"].relative < 1e-13
    assert errors["inversion", "float64"].relative == pytest.approx(2.0)


def test_features_transform_with_their_irreps():
    pytest.importorskip("e3nn")
    from symscape.measure.equivariance import equivariance_errors

    def pooled(positions, features):  # sum of the features: equivariant with the same irreps
        return features.sum(1)

    features = torch.randn(3, 7, 5, dtype=torch.float64)
    for r in equivariance_errors(pooled, clouds(), "0o + 1e + 0e", features=features,
                                 irreps_in="0o + 1e + 0e"):  # fmt: skip
        assert r.relative < (1e-6 if r.dtype == "float32" else 1e-14), r
    # the same features read with the wrong irreps are not equivariant
    wrong = by_name(
        equivariance_errors(
            pooled, clouds(), "0o + 1e + 0e", features=features, irreps_in="0e + 1o + 0e"
        )
    )
    assert wrong["inversion", "float64"].relative > 0.1


def test_a_plain_mlp_is_not_equivariant():
    pytest.importorskip("e3nn")
    from symscape.measure.equivariance import equivariance_errors

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(21, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4)
    )
    for r in equivariance_errors(mlp, clouds(dtype=torch.float32), "0e + 1o"):
        assert r.relative > 1e-2, r
    assert mlp[1].weight.dtype == torch.float32  # measured on cast copies


def test_point_cloud_measure_rejects_bad_input():
    pytest.importorskip("e3nn")
    from symscape.measure.equivariance import equivariance_errors

    f = centred
    with pytest.raises(InvalidOptionError, match=r"\[B, n, 3\]"):
        equivariance_errors(f, torch.randn(7, 3), "1o")
    with pytest.raises(InvalidOptionError, match="'1x'"):
        equivariance_errors(f, clouds(), "1x")
    with pytest.raises(InvalidOptionError, match=r"irreps_out\.dim=1"):
        equivariance_errors(f, clouds(), "0e")
    with pytest.raises(InvalidOptionError, match="together"):
        equivariance_errors(f, clouds(), "1o", irreps_in="0e")
    with pytest.raises(InvalidOptionError, match="do not match"):
        equivariance_errors(f, clouds(), "1o", features=torch.randn(3, 7, 2), irreps_in="0e")
    with pytest.raises(UnknownNameError, match="'reflection'"):
        equivariance_errors(f, clouds(), "1o", transformations=["rotation", "reflection"])
    with pytest.raises(InvalidOptionError, match="seed"):
        equivariance_errors(f, clouds(), "1o", seed=-1)
