"""Maximum-entropy diffeomorphisms: fields, temperatures, resampling, noise, errors."""

import math
import warnings

import numpy as np
import pytest
import torch

from symscape import diffeo
from symscape.diffeo import (
    RandomDiffeo,
    TemperatureWarning,
    deform,
    displacement_field,
    mode_mask,
    number_of_modes,
    remap,
    same_norm_noise,
    sample_coefficients,
    temperature_from_displacement,
    temperature_range,
    typical_displacement,
)
from symscape.errors import InvalidOptionError, UnknownNameError

F64 = torch.float64


def kept(c, cutoff="authors"):
    """The modes (i, j) a cut-off keeps, by brute force: the authors' code keeps
    i, j = 1 … c with i² + j² < (c + ½)², the papers' prose i² + j² ≤ c²."""
    k = int(c) + 1
    inside = {
        "authors": lambda r2: r2 < (c + 0.5) ** 2,
        "paper": lambda r2: r2 <= c * c,
    }[cutoff]
    return [(i, j) for i in range(1, k) for j in range(1, k) if inside(i * i + j * j)]


def mode_sum(c, cutoff="authors"):
    """Σ 1/(i² + j²) over the modes the cut-off keeps."""
    return sum(1 / (i * i + j * j) for i, j in kept(c, cutoff))


def reference_remap(x, d, nearest=False):
    """out(p) = x(p − d(p)), coordinates clamped, one pixel at a time (numpy loops)."""
    x, d = x.numpy(), d.numpy()
    B, _, H, W = x.shape
    out = np.empty_like(x)
    for b in range(B):
        for h in range(H):
            for w in range(W):
                px = min(max(w - d[b, 0, h, w], 0.0), W - 1.0)
                py = min(max(h - d[b, 1, h, w], 0.0), H - 1.0)
                if nearest:
                    out[b, :, h, w] = x[b, :, int(np.rint(py)), int(np.rint(px))]
                    continue
                x0, y0 = math.floor(px), math.floor(py)
                x1, y1 = min(x0 + 1, W - 1), min(y0 + 1, H - 1)
                a, e = px - x0, py - y0
                out[b, :, h, w] = (
                    (1 - a) * (1 - e) * x[b, :, y0, x0]
                    + a * (1 - e) * x[b, :, y0, x1]
                    + (1 - a) * e * x[b, :, y1, x0]
                    + a * e * x[b, :, y1, x1]
                )
    return torch.from_numpy(out)


def jacobian_determinant(coefficients, size, points=65):
    """det of p ↦ p − d(p) (pixel map), analytically, on a fine grid of the square."""
    H, W = size
    m_u, m_v = coefficients.shape[2:]
    s = torch.linspace(0, 1, points, dtype=F64)
    i = torch.arange(1, m_u + 1, dtype=F64)
    j = torch.arange(1, m_v + 1, dtype=F64)
    sin_u, dsin_u = (
        torch.sin(math.pi * s[:, None] * i),
        math.pi * i * torch.cos(math.pi * s[:, None] * i),
    )
    sin_v, dsin_v = (
        torch.sin(math.pi * s[:, None] * j),
        math.pi * j * torch.cos(math.pi * s[:, None] * j),
    )

    def field(k, a, b):  # Σ coef[k, i, j] a[u, i] b[v, j] → [batch, v, u]
        return torch.einsum("bij,ui,vj->bvu", coefficients[:, k], a, b)

    # d_x(p) = W τ_u(p_x/(W−1), p_y/(H−1)), d_y(p) = H τ_v(...)
    dxx = W / (W - 1) * field(0, dsin_u, sin_v)
    dxy = W / (H - 1) * field(0, sin_u, dsin_v)
    dyx = H / (W - 1) * field(1, dsin_u, sin_v)
    dyy = H / (H - 1) * field(1, sin_u, dsin_v)
    return (1 - dxx) * (1 - dyy) - dxy * dyx


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(diffeo, "_WARNED", set())


# --------------------------------------------------------------------------- temperatures


@pytest.mark.parametrize(("c", "T_min", "T_max"), [(3, 2.83e-4, 1.30e-2), (5, 1.93e-4, 3.21e-3)])
def test_temperature_range_matches_the_paper_for_n_32(c, T_min, T_max):
    lo, hi = temperature_range(32, c)
    assert f"{lo:.2e} {hi:.2e}" == f"{T_min:.2e} {T_max:.2e}"  # the three digits quoted
    # T_min is "half a pixel" in the papers' convention
    assert typical_displacement(lo, c, 32) == pytest.approx(0.5)


def test_range_is_empty_beyond_2n_over_pi():
    temperature_range(32, 20)  # 2·32/π = 20.4
    with pytest.raises(InvalidOptionError, match=r"c=21 is too large .* 20\.4"):
        temperature_range(32, 21)
    with pytest.raises(InvalidOptionError, match="c=21"):
        deform(torch.rand(1, 1, 32, 32), T=1e-3, c=21)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("n", [32, (24, 40)])
def test_temperature_from_displacement_inverts_typical_displacement(exact, n):
    for delta in (0.3, 1.0, 2.5):
        T = temperature_from_displacement(delta, 3, n, exact=exact)
        assert typical_displacement(T, 3, n, exact=exact) == pytest.approx(delta, rel=1e-12)
    assert temperature_from_displacement(1, 3, 32) == pytest.approx(
        4 / (math.pi * 32**2 * math.log(3))
    )


# --------------------------------------------------------------------------- fields


@pytest.mark.parametrize("c", [3, 5, 10])
@pytest.mark.parametrize("cutoff", ["authors", "paper"])
def test_the_cut_off_keeps_the_modes_of_the_authors_code_or_of_the_prose(c, cutoff):
    expected = kept(c, cutoff)
    mask = mode_mask(c, cutoff)
    assert int(mask.sum()) == len(expected)
    assert sorted((int(i) + 1, int(j) + 1) for i, j in torch.nonzero(mask)) == expected
    # the coefficients are non-zero exactly on those modes
    coef = sample_coefficients(3, 1e-3, c, generator=0, dtype=F64, cutoff=cutoff)
    assert torch.equal(coef[0, 0] != 0, mask)


def test_the_default_cut_off_is_the_authors_six_modes_at_c_3():
    assert int(mode_mask(3).sum()) == 6  # (1,1) (1,2) (2,1) (2,2) (1,3) (3,1)
    assert int(mode_mask(3, "paper").sum()) == 4  # without (1,3), (3,1): 10 > 9
    assert sample_coefficients(2, 1e-3, 3, generator=0).shape == (2, 2, 3, 3)
    assert repr(RandomDiffeo(delta=1.0)).endswith(
        "c=3, cutoff='authors', interpolation='bilinear')"
    )
    with pytest.raises(UnknownNameError, match=r"unknown cut-off .*'prose'.*authors, paper"):
        mode_mask(3, "prose")


def test_coefficients_keep_the_modes_inside_the_cut_off():
    assert [number_of_modes(c, "paper") for c in (2, 2.5, 3, 5, 5.1)] == [1, 2, 2, 4, 5]
    assert [number_of_modes(c) for c in (2, 2.5, 3, 5, 5.1)] == [2, 2, 3, 5, 5]
    T = 0.02
    coef = sample_coefficients(20000, T, 5, generator=0, dtype=F64, cutoff="paper")
    assert coef.shape == (20000, 2, 4, 4)
    i = torch.arange(1, 5, dtype=F64)
    r2 = i[:, None] ** 2 + i[None, :] ** 2
    outside = r2 > 25  # only (4, 4): (3, 4) is kept, 9 + 16 = 25
    assert outside.sum() == 1 and outside[3, 3]
    assert torch.all(coef[:, :, outside] == 0)
    variance = coef.var(dim=0)[:, ~outside]
    expected = (T / r2[~outside]).expand_as(variance)
    assert torch.allclose(variance, expected, rtol=0.05)


@pytest.mark.parametrize("size", [(16, 16), (12, 20)])
def test_field_is_the_sine_series_and_zero_on_the_border(size):
    H, W = size
    coef = sample_coefficients(3, 0.01, 4, generator=1, dtype=F64)
    d = displacement_field(coef, size)
    assert d.shape == (3, 2, H, W)
    # the series, term by term, at every pixel (u = w/(W−1), v = h/(H−1))
    m = coef.shape[-1]
    expected = torch.zeros_like(d)
    for h in range(H):
        for w in range(W):
            u, v = w / (W - 1), h / (H - 1)
            for i in range(1, m + 1):
                for j in range(1, m + 1):
                    basis = math.sin(i * math.pi * u) * math.sin(j * math.pi * v)
                    expected[:, 0, h, w] += W * coef[:, 0, i - 1, j - 1] * basis
                    expected[:, 1, h, w] += H * coef[:, 1, i - 1, j - 1] * basis
    assert torch.allclose(d, expected, atol=1e-13)
    for border in (d[..., 0, :], d[..., -1, :], d[..., :, 0], d[..., :, -1]):
        assert torch.all(border == 0)
    assert d.abs().max() > 0.1


def test_border_pixels_do_not_move_even_at_large_temperature():
    x = torch.rand(4, 3, 20, 14, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemperatureWarning)
        y = deform(x, T=0.5, c=4, generator=3)
    for a, b in ((y[..., 0, :], x[..., 0, :]), (y[..., -1, :], x[..., -1, :])):
        assert torch.allclose(a, b, atol=1e-12)
    for a, b in ((y[..., 0], x[..., 0]), (y[..., -1], x[..., -1])):
        assert torch.allclose(a, b, atol=1e-12)
    assert (y - x)[..., 1:-1, 1:-1].abs().max() > 0.1


@pytest.mark.parametrize(("c", "size"), [(3, (32, 32)), (5, (32, 32)), (3, (24, 40))])
def test_rms_displacement_is_the_exact_typical_displacement(c, size):
    """δ(exact) = RMS of ‖d‖ in pixels over the image and the draws.

    On the pixel grid (pixel k at k/(n − 1)) the mean of sin² is (n − 1)/(2n), not 1/2,
    so the grid average of d² is smaller by (1 − 1/H)(1 − 1/W): checked to 2%.
    """
    H, W = size
    T = temperature_range(size, c)[0] * 10
    d = displacement_field(sample_coefficients(4000, T, c, generator=2, dtype=F64), size)
    grid = (1 - 1 / H) * (1 - 1 / W)
    rms = d.pow(2).sum(1).mean().sqrt().item()
    assert rms == pytest.approx(
        typical_displacement(T, c, size, exact=True) * math.sqrt(grid), rel=0.02
    )
    # each axis in its own length: E[d_x²] ∝ W², E[d_y²] ∝ H²
    S = mode_sum(c)  # the authors' cut-off, the default
    for k, side in ((0, W), (1, H)):
        assert d[:, k].pow(2).mean().item() == pytest.approx(side**2 * T * S / 4 * grid, rel=0.03)
    # the papers' formula overestimates it by √((π/2) ln c / S): 19% at c = 3, 16% at c = 5
    # (30% and 21% with the papers' cut-off)
    ratio = typical_displacement(T, c, size) / typical_displacement(T, c, size, exact=True)
    assert ratio == pytest.approx(math.sqrt(math.pi / 2 * math.log(c) / S), rel=1e-12)
    assert ratio > 1.15
    prose = typical_displacement(T, c, size, exact=True, cutoff="paper")
    assert typical_displacement(T, c, size) / prose == pytest.approx(
        math.sqrt(math.pi / 2 * math.log(c) / mode_sum(c, "paper")), rel=1e-12
    )


def test_papers_formula_is_the_rms_displacement_at_large_cut_off():
    """δ ≈ (n/2)√(πT ln c) is the RMS displacement once Σ 1/r² → (π/2) ln c (large c)."""
    n, c = 128, 60
    T = temperature_range(n, c)[0] * 4
    d = displacement_field(sample_coefficients(200, T, c, generator=4, dtype=F64), n)
    rms = d.pow(2).sum(1).mean().sqrt().item()
    assert rms == pytest.approx(typical_displacement(T, c, n), rel=0.10)


def fold_fractions(coefficients, points=65):
    """``(fraction of fields that fold, fraction of the area folded)`` for the map
    ``s ↦ s − τ(s)`` of the unit square: ``det(1 − ∇τ) ≤ 0``, with ∇τ by central
    differences of :func:`displacement_field` on a grid of ``points²`` (τ = d / n)."""
    d = displacement_field(coefficients, points) / points
    spacing = 1 / (points - 1)
    du_dv, du_du = torch.gradient(d[:, 0], spacing=spacing, dim=(1, 2))  # rows are v
    dv_dv, dv_du = torch.gradient(d[:, 1], spacing=spacing, dim=(1, 2))
    folded = (1 - du_du) * (1 - dv_dv) - du_dv * dv_du <= 0
    return folded.flatten(1).any(1).double().mean().item(), folded.double().mean().item()


@pytest.mark.parametrize("cutoff", ["authors", "paper"])
def test_T_max_is_where_the_deformations_start_to_fold(cutoff):
    """The papers' meaning of the range: visible from T_min, typically no fold up to T_max
    (T_max makes the gradient of τ of order 1). At n = 32, c = 3: no field folds at T_min;
    at T_max a minority of the fields fold somewhere, on a small fraction of the area
    (the onset: about a third with the authors' six modes, an eighth with the prose's
    four, on ~1 % of the square); at 10 T_max nearly all do. A T_max 5× too large would
    put about 90 % of the fields or more past the 50 % bound at "T_max"; 5× too small, none would
    fold at "T_max" (under the 5 % floor) and about 80 % or less at "10 T_max"."""
    n, c = 32, 3
    T_min, T_max = temperature_range(n, c)
    fractions = {
        name: fold_fractions(sample_coefficients(400, T, c, generator=5, dtype=F64, cutoff=cutoff))
        for name, T in (("T_min", T_min), ("T_max", T_max), ("10 T_max", 10 * T_max))
    }
    assert fractions["T_min"] == (0.0, 0.0)
    assert 0.05 < fractions["T_max"][0] < 0.5
    assert fractions["T_max"][1] < 0.05
    assert fractions["10 T_max"][0] > 0.95


def test_jacobian_helper_agrees_with_finite_differences():
    coef = sample_coefficients(2, 0.005, 3, generator=7, dtype=F64)
    H, W = 129, 65  # the analytic grid (129 points) falls on pixels of this image along v
    d = displacement_field(coef, (H, W))
    det = jacobian_determinant(coef, (H, W), points=129)[..., ::2]  # u on the W-pixel grid
    ddx = torch.gradient(d[:, 0], dim=(1, 2))  # (∂/∂row, ∂/∂col)
    ddy = torch.gradient(d[:, 1], dim=(1, 2))
    fd = (1 - ddx[1]) * (1 - ddy[0]) - ddx[0] * ddy[1]
    assert torch.allclose(det, fd, atol=2e-3)  # central differences: error O(h²) ≈ 1e-3


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_remap_equals_the_clamped_reference(interpolation):
    g = torch.Generator().manual_seed(8)
    x = torch.rand(3, 2, 7, 9, dtype=F64, generator=g)
    d = (torch.rand(3, 2, 7, 9, dtype=F64, generator=g) - 0.5) * 12  # far past the border
    out = remap(x, d, interpolation)
    assert torch.allclose(out, reference_remap(x, d, interpolation == "nearest"), atol=1e-12)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_deform_equals_the_reference_on_its_own_field(interpolation):
    x = torch.rand(4, 3, 10, 8, dtype=F64)
    coef = sample_coefficients(4, 0.2, 3, generator=9, dtype=F64)
    out = deform(x, coefficients=coef, interpolation=interpolation)
    ref = reference_remap(x, displacement_field(coef, (10, 8)), interpolation == "nearest")
    assert torch.allclose(out, ref, atol=1e-12)
    assert (out - x).abs().max() > 0.1


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
def test_batched_and_one_at_a_time_give_identical_images(dtype, size):
    x = torch.rand(9, 3, *size, dtype=dtype)
    coef = sample_coefficients(9, 1e-3, 3, generator=10, dtype=dtype)
    batched = deform(x, coefficients=coef)
    alone = torch.cat([deform(x[i : i + 1], coefficients=coef[i : i + 1]) for i in range(9)])
    assert batched.dtype == dtype
    assert torch.equal(batched, alone)


def test_each_image_gets_its_own_field():
    x = torch.rand(1, 1, 16, 16).expand(5, 1, 16, 16).contiguous()
    y = deform(x, T=5e-3, c=3, generator=11)
    assert all((y[i] - y[0]).abs().max() > 1e-3 for i in range(1, 5))


def test_gradients_flow_to_the_image():
    coef = sample_coefficients(2, 0.05, 3, generator=12, dtype=F64)
    x = torch.rand(2, 2, 5, 6, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: deform(z, coefficients=coef), (x,))
    assert torch.autograd.gradcheck(
        lambda z: deform(z, coefficients=coef, interpolation="nearest"), (x,)
    )


def test_same_seed_same_output():
    x = torch.rand(3, 1, 16, 16)
    a = deform(x, T=2e-3, generator=13)
    assert torch.equal(a, deform(x, T=2e-3, generator=13))
    assert not torch.equal(a, deform(x, T=2e-3, generator=14))
    g = torch.Generator().manual_seed(13)
    assert torch.equal(a, deform(x, T=2e-3, generator=g))


def test_delta_sets_the_temperature():
    x = torch.rand(2, 1, 20, 20, dtype=F64)
    T = temperature_from_displacement(1.0, 3, 20)
    assert torch.equal(deform(x, delta=1.0, generator=15), deform(x, T=T, generator=15))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_follows_the_input_and_matches_cpu():
    x = torch.rand(6, 3, 32, 24, dtype=F64)
    coef = sample_coefficients(6, 2e-3, 3, generator=16, dtype=F64)
    y = deform(x.cuda(), coefficients=coef.cuda())
    assert y.device.type == "cuda"
    assert torch.allclose(y.cpu(), deform(x, coefficients=coef), atol=1e-10)
    z = deform(x.cuda().float(), T=2e-3, generator=torch.Generator("cuda").manual_seed(0))
    assert z.device.type == "cuda" and z.dtype == torch.float32


# --------------------------------------------------------------------------- noise


def test_noise_has_exactly_the_norm_of_the_deformation():
    x = torch.rand(6, 3, 16, 16, dtype=F64)
    y = deform(x, T=3e-3, c=3, generator=17)
    eta = same_norm_noise(x, y, generator=18)
    assert torch.allclose(eta.flatten(1).norm(dim=1), (y - x).flatten(1).norm(dim=1), rtol=1e-12)
    assert torch.equal(eta, same_norm_noise(x, y, generator=18))
    # Gaussian, not the deformation itself: nearly orthogonal to it
    cosine = torch.nn.functional.cosine_similarity(eta.flatten(1), (y - x).flatten(1))
    assert cosine.abs().max() < 0.2
    # an image the deformation left as it was gets no noise
    y[0] = x[0]
    assert torch.all(same_norm_noise(x, y, generator=19)[0] == 0)


# --------------------------------------------------------------------------- transform


def test_random_diffeo_on_one_image_and_on_a_batch():
    img = torch.rand(3, 28, 28)
    t = RandomDiffeo(delta=1.0, c=3, generator=20)
    out = t(img)
    assert out.shape == img.shape
    expected = deform(img[None], delta=1.0, c=3, generator=20)[0]
    assert torch.equal(out, expected)
    assert not torch.equal(t(img), out)  # the next call draws a new field
    pipeline = torch.nn.Sequential(RandomDiffeo(T=1e-3, generator=21), torch.nn.Flatten())
    assert pipeline(torch.rand(5, 1, 28, 28)).shape == (5, 784)
    assert "T=0.001" in repr(pipeline)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: temperature_range(32, 1), "c=1.0 is not a valid cut-off"),
        (lambda: temperature_range(32, 1.5), "c=1.5"),
        (lambda: temperature_range(32, math.nan), "c=nan"),
        (lambda: temperature_range(32, "3"), "c='3' is not a number"),
        (lambda: temperature_range(1, 3), "n=1 is not an image size"),
        (lambda: temperature_range((32, 0), 3), r"n=\(32, 0\)"),
        (lambda: typical_displacement(-1e-3, 3, 32), "T=-0.001 must be a finite positive"),
        (lambda: temperature_from_displacement(0, 3, 32), "delta=0.0"),
        (lambda: deform(torch.rand(2, 1, 8, 8), T=0), "T=0.0"),
        (lambda: deform(torch.rand(2, 1, 8, 8), T=math.inf), "T=inf"),
        (lambda: deform(torch.rand(2, 1, 8, 8), T=math.nan), "T=nan"),
        (lambda: deform(torch.rand(2, 1, 8, 8), T=1e-3, delta=1), "got T and delta"),
        (lambda: deform(torch.rand(2, 1, 8, 8)), "got none"),
        (lambda: deform(torch.rand(1, 8, 8), T=1e-3), r"\[B, C, H, W\], got \(1, 8, 8\)"),
        (lambda: deform(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), T=1e-3), "torch.uint8"),
        (lambda: deform(torch.rand(1, 1, 8, 8), T=1e-3, interpolation="bicubic"), "'bicubic'"),
        (lambda: deform(torch.rand(1, 1, 8, 8), T=1e-2, generator="x"), "generator='x'"),
        (
            lambda: deform(torch.rand(2, 1, 8, 8), coefficients=torch.zeros(3, 2, 2, 2)),
            r"\(3, 2, 2, 2\) are not \[2, 2, m, m\]",
        ),
        (lambda: remap(torch.rand(2, 1, 8, 8), torch.zeros(2, 2, 8, 7)), r"\(2, 2, 8, 7\)"),
        (lambda: same_norm_noise(torch.rand(2, 4), torch.rand(2, 5)), r"\(2, 4\)"),
        (lambda: RandomDiffeo(T=1e-3, delta=1.0), "exactly one of T and delta"),
        (lambda: RandomDiffeo(T=1e-3, c=0), "c=0.0"),
    ],
)
def test_bad_parameters_are_clear_errors(call, match):
    with pytest.raises(InvalidOptionError, match=match):
        call()


def test_temperatures_outside_the_range_warn_once_per_reason(fresh_warnings):
    x = torch.rand(2, 1, 32, 32)
    T_min, T_max = temperature_range(32, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deform(x, T=(T_min * T_max) ** 0.5)
        assert not caught
        for _ in range(3):
            deform(x, T=2 * T_max)
        for _ in range(2):
            deform(x, T=T_min / 2)
    messages = [str(w.message) for w in caught if issubclass(w.category, TemperatureWarning)]
    assert len(messages) == 2
    assert "above T_max" in messages[0] and "below T_min" in messages[1]
