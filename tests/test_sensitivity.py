"""D_f, G_f, R_f: limiting models, layers by hooks, bootstrap, geometric means, errors."""

import itertools
import json
import math
import warnings

import numpy as np
import pytest
import torch

from symscape.diffeo import TemperatureWarning, temperature_from_displacement
from symscape.errors import InvalidOptionError
from symscape.measure import geometric_mean, sensitivities
from symscape.measure.sensitivity import _lower_median, _pair_lower_median, _pair_mean

F64 = torch.float64


def images(n=40, size=16, channels=1, seed=0):
    """Smooth-ish random images with different brightness, float64."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size // 4, size // 4, dtype=F64, generator=g)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear")
    return x + torch.rand(n, 1, 1, 1, dtype=F64, generator=g)


def small_cnn(seed=0):
    torch.manual_seed(seed)
    return (
        torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3),
            torch.nn.ReLU(),
            torch.nn.Conv2d(4, 4, 3),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(4 * 12 * 12, 3),
        )
        .double()
        .eval()
    )


@pytest.mark.parametrize("estimator", ["median", "mean"])
def test_constant_model_has_zero_sensitivities_and_undefined_ratio(estimator):
    x = images()
    [s] = sensitivities(
        lambda z: torch.ones(len(z), 3, dtype=z.dtype), x, deltas=1.0, estimator=estimator,
        n_bootstrap=20,
    )  # fmt: skip
    assert s.D == 0 and s.G == 0
    assert math.isnan(s.R)  # documented: R_f = 0/0 is reported as nan
    assert s.D_interval == (0.0, 0.0)
    d = s.as_dict()
    assert d["R"] is None and d["R_interval"] == [None, None]
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("estimator", ["median", "mean"])
def test_identity_has_R_equal_to_one_by_construction(estimator):
    """‖η‖ = ‖τx − x‖ per image: the two numerators agree point by point."""
    x = images()
    [s] = sensitivities(lambda z: z, x, deltas=1.0, estimator=estimator, n_bootstrap=50)
    assert s.D > 1e-3
    assert math.isclose(s.D, s.G, rel_tol=1e-12)
    assert math.isclose(s.R, 1.0, rel_tol=1e-12)
    assert s.R_interval == pytest.approx((1.0, 1.0), rel=1e-12)


def test_averaging_model_is_far_more_stable_to_noise_than_the_identity():
    x = images(n=48, size=16, channels=2)
    [mean_model] = sensitivities(lambda z: z.mean((1, 2, 3)), x, deltas=1.0, n_bootstrap=0)
    [identity] = sensitivities(lambda z: z, x, deltas=1.0, n_bootstrap=0)
    assert mean_model.G < 1e-2
    assert mean_model.G < identity.G / 100


def test_a_model_reading_a_corner_pixel_does_not_see_diffeomorphisms():
    """The border never moves, so f(x) = corner pixel has D_f = 0 while G_f > 0."""
    x = images(n=30)
    [s] = sensitivities(lambda z: z[:, :, 0, 0], x, deltas=1.0, estimator="mean", n_bootstrap=0)
    assert s.D < 1e-20
    assert s.G > 1e-4


def _low_pass(size, modes=3):
    """``[modes², size²]`` orthonormal rows: the smoothest cosine images (a low-pass projection)."""
    k = torch.arange(size, dtype=F64)
    cos = torch.stack([torch.cos(math.pi * a * (k + 0.5) / size) for a in range(modes)])
    rows = torch.einsum("ah,bw->abhw", cos, cos).reshape(modes * modes, -1)
    return torch.linalg.qr(rows.T).Q.T


def test_D_and_G_of_a_linear_map_are_the_mean_ratios_and_the_closed_form():
    """f(x) = W vec(x), W a low-pass projection. D_f and G_f with the mean estimator,
    re-implemented on the very τx and x + η that ``sensitivities`` feeds f (recorded:
    the deformation leaves the border unchanged, the noise does not); and G_f's
    closed form for isotropic noise of fixed norm, E‖Wη‖² = ‖η‖² tr(WᵀW) / n, within
    4 standard errors (Var ‖Wu‖² = 2(n tr A² − (tr A)²) / (n²(n + 2)), u uniform on
    the sphere, A = WᵀW). Noise that were not isotropic — e.g. along τx − x, which is
    smooth — would put ~10× more of its norm through the low-pass W."""
    x = images(n=200, size=16)
    n = x[0].numel()
    W = _low_pass(16)
    seen = []

    def f(z):
        seen.append(z.clone())
        return z.flatten(1) @ W.T

    [s] = sensitivities(f, x, deltas=1.0, estimator="mean", n_bootstrap=0, seed=2)
    assert sum(torch.equal(z, x) for z in seen) == 1 and len(seen) == 3

    def still_border(z):  # to rounding: grid_sample's coordinates are not exact integers
        def edge(a):
            return torch.cat([a[..., 0, :], a[..., -1, :], a[..., :, 0], a[..., :, -1]], -1)

        return bool((edge(z) - edge(x)).abs().max() < 1e-12)

    [moved] = [z for z in seen if not torch.equal(z, x) and still_border(z)]
    [noisy] = [z for z in seen if not still_border(z)]

    def squared(a, b):
        return ((a - b).flatten(1) @ W.T).pow(2).sum(1)

    i, j = torch.triu_indices(len(x), len(x), offset=1)
    denominator = squared(x[i], x[j]).mean()  # the N(N − 1)/2 pairs of distinct points
    assert math.isclose(s.D, squared(moved, x).mean() / denominator, rel_tol=1e-12)
    assert math.isclose(s.G, squared(noisy, x).mean() / denominator, rel_tol=1e-12)
    norms = (moved - x).flatten(1).pow(2).sum(1)  # ‖η‖² = ‖τx − x‖², point by point
    assert torch.allclose((noisy - x).flatten(1).pow(2).sum(1), norms, rtol=1e-12)
    A = W.T @ W
    mean = A.trace() / n
    sd = (2 * (n * (A @ A).trace() - A.trace() ** 2) / (n**2 * (n + 2))).sqrt()
    expected = float((norms * mean).mean() / denominator)
    standard_error = float(sd * norms.pow(2).sum().sqrt() / len(x) / denominator)
    assert abs(s.G - expected) < 4 * standard_error
    assert s.D > 5 * s.G  # the deformation moves the smooth components, the noise hardly


def test_D_f_is_proportional_to_T_at_small_T():
    """One seed draws the same Gaussian coefficients at every T, scaled by √T: the
    displacement d is ∝ √T, and for sub-pixel d the bilinear τx − x = −(d·∇)x +
    O(d²), so ‖τx − x‖² ∝ T (1 + O(δ/ℓ)), δ the typical displacement and ℓ ≳ 4
    pixels the images' scale. Between δ = 0.01 and 0.1 pixel (T ≪ T_min ≪ T_max)
    the slope of ln D_f against ln T is 1 to O(0.1/4/ln 100) ≈ 0.005: ±0.02 allowed."""
    x = images(n=20, size=16)
    temperatures = [temperature_from_displacement(d, 3, 16) for d in (0.01, 0.1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemperatureWarning)  # below T_min, on purpose
        D = [
            sensitivities(lambda z: z, x, temperatures=T, estimator="mean", n_bootstrap=0)[0].D
            for T in temperatures
        ]
    slope = math.log(D[1] / D[0]) / math.log(temperatures[1] / temperatures[0])
    assert slope == pytest.approx(1, abs=0.02)


def test_layers_measured_in_one_pass_equal_the_truncated_models():
    x = images(n=24)
    model = small_cnn()
    kwargs = {"temperatures": [2e-3, 6e-3], "n_bootstrap": 100, "seed": 3, "batch_size": 10}
    records = sensitivities(model, x, layers=["1", "3", "output"], **kwargs)
    assert [(r.layer, r.temperature) for r in records] == list(
        itertools.product(["1", "3", "output"], [2e-3, 6e-3])
    )
    by_layer = {name: [r for r in records if r.layer == name] for name in ("1", "3", "output")}
    for name, truncated in (("1", model[:2]), ("3", model[:4]), ("output", model)):
        direct = sensitivities(truncated, x, **kwargs)
        for a, b in zip(by_layer[name], direct, strict=True):
            assert (a.D, a.G, a.R) == (b.D, b.G, b.R)
            assert (a.D_interval, a.R_interval) == (b.D_interval, b.R_interval)
    # and the layers do differ
    assert by_layer["1"][0].D != by_layer["output"][0].D


@pytest.mark.parametrize("estimator", ["median", "mean"])
def test_bootstrap_interval_contains_the_estimate_and_is_seeded(estimator):
    x = images(n=40)
    model = small_cnn(seed=1)
    kwargs = {"deltas": [0.5, 1.5], "estimator": estimator, "n_bootstrap": 200, "seed": 5}
    records = sensitivities(model, x, **kwargs)
    for s in records:
        for value, (lo, hi) in ((s.D, s.D_interval), (s.G, s.G_interval), (s.R, s.R_interval)):
            assert lo <= value <= hi
            assert lo < hi
    assert sensitivities(model, x, **kwargs) == records
    assert sensitivities(model, x, **{**kwargs, "seed": 6}) != records
    # the intervals measure the sampling error over test points: 4x the points, about half
    # the width (1/sqrt(n)); a width that ignores n gives 1, one that shrinks as 1/n gives 4
    more = sensitivities(model, images(n=160), **kwargs)
    for s, m in zip(records, more, strict=True):
        for a, b in ((s.D_interval, m.D_interval), (s.G_interval, m.G_interval)):
            assert 1.4 < (a[1] - a[0]) / (b[1] - b[0]) < 3.2
    # larger displacements: larger D_f
    assert records[1].D > records[0].D
    assert records[0].delta == pytest.approx(0.5)
    assert records[0].temperature == pytest.approx(temperature_from_displacement(0.5, 3, 16))


def test_weighted_statistics_equal_the_explicit_resample():
    """Bootstrap counts w: same as listing each point w_i times (pairs of one point left out)."""
    rng = np.random.default_rng(0)
    n = 9
    points = rng.normal(size=(n, 3))
    dist = torch.from_numpy(((points[:, None] - points[None]) ** 2).sum(-1))
    values = torch.from_numpy(rng.random(n))
    counts = torch.from_numpy(rng.multinomial(n, np.full(n, 1 / n), size=30)).to(torch.int32)
    lower_median = lambda v: np.sort(v)[(len(v) - 1) // 2]  # noqa: E731
    for row, w in enumerate(counts.numpy()):
        listed = np.repeat(np.arange(n), w)
        pairs = [dist[a, b].item() for a, b in itertools.combinations(listed, 2) if a != b]
        assert _lower_median(values, counts)[row] == lower_median(values.numpy()[listed])
        assert _pair_lower_median(dist, counts)[row] == lower_median(np.array(pairs))
        assert _pair_mean(dist, counts)[row].item() == pytest.approx(np.mean(pairs), rel=1e-12)


def test_geometric_mean():
    assert geometric_mean([1e-2, 1e-4]) == pytest.approx(1e-3)
    assert geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert geometric_mean([0.0, 5.0]) == 0.0
    assert math.isnan(geometric_mean([1.0, math.nan]))
    with pytest.raises(InvalidOptionError, match="no values"):
        geometric_mean([])
    with pytest.raises(InvalidOptionError, match=r"negative values \[-1.0\]"):
        geometric_mean([-1.0, 2.0])


def test_model_with_dropout_in_training_mode_warns():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5))
    with pytest.warns(UserWarning, match=r"model.eval\(\)"):
        sensitivities(model, images(n=4), deltas=1.0, n_bootstrap=0)


class Twice(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.act = torch.nn.ReLU()
        self.pair = PairOut()

    def forward(self, x):
        self.pair(x)
        return self.act(self.act(x) - 1)


class PairOut(torch.nn.Module):
    def forward(self, x):
        return x, x


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda x: sensitivities(lambda z: z, x[0], deltas=1),
            r"\[N, C, H, W\], got \(1, 16, 16\)",
        ),
        (lambda x: sensitivities(lambda z: z, x[:1], deltas=1), "x has 1 test point"),
        (lambda x: sensitivities(lambda z: z, x), "exactly one of temperatures and deltas"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, temperatures=1e-3), "exactly one"),
        (lambda x: sensitivities(lambda z: z, x, deltas=[]), "deltas is empty"),
        (lambda x: sensitivities(lambda z: z, x, temperatures=[-1]), "T=-1.0"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, c=11), "c=11 is too large"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, estimator="mode"), "'mode'"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, n_bootstrap=-1), "n_bootstrap=-1"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, confidence=1.5), "confidence=1.5"),
        (lambda x: sensitivities("f", x, deltas=1), "f='f' is not callable"),
        (lambda x: sensitivities(lambda z: z, x, deltas=1, layers=["0"]), "plain callable"),
        (
            lambda x: sensitivities(small_cnn(), x, deltas=1, layers=["9", "1"]),
            r"unknown layers \['9'\]; this model has: output, 0, 1, 2, 3, 4, 5",
        ),
        (lambda x: sensitivities(Twice().eval(), x, deltas=1, layers=["act"]), "ran 2 times"),
        (lambda x: sensitivities(Twice().eval(), x, deltas=1, layers=["pair"]), "is tuple"),
        (lambda x: sensitivities(lambda z: z.sum(), x, deltas=1), r"f's output is \(\)"),
    ],
)
def test_bad_inputs_are_clear_errors(call, match):
    with pytest.raises(InvalidOptionError, match=match):
        call(images(n=6))
