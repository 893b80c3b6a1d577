"""The loss landscape (symscape.measure.landscape): paths, slices, directions, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symscape.errors import InvalidOptionError, UnknownNameError
from symscape.measure import landscape_eval
from symscape.measure.landscape import (
    barrier_heights,
    interpolate,
    member,
    random_direction,
    slice_1d,
    slice_2d,
)
from symscape.nets import ConvNet, FullyConnected

DT = torch.float64


def mse(out, y):
    return ((out - y) ** 2).mean()


def mlp(seed=0, bias=True, d=4, h=8, k=1):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, h, bias=bias), torch.nn.ReLU(), torch.nn.Linear(h, k, bias=bias)
    ).to(DT)
    return net


def value(t):
    return float(t.detach())


def regression(P=12, d=4, k=1, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(P, d, generator=g, dtype=DT), torch.randn(P, k, generator=g, dtype=DT)


# ---- the origin of a slice, the ends of a path -----------------------------------------


def test_the_slice_at_the_origin_is_the_loss_at_the_weights():
    net, (x, y) = mlp(), regression()
    direction = random_direction(dict(net.named_parameters()), seed=3)
    line = slice_1d(net, mse, (x, y), None, direction, points=[-1.0, 0.0, 0.5])
    expected = float(mse(net(x), y).detach())
    assert line.loss[1] == pytest.approx(expected, rel=1e-13)
    assert line.loss[0] != pytest.approx(expected, rel=1e-3)  # the slice does move
    d2 = random_direction(dict(net.named_parameters()), seed=4)
    plane = slice_2d(net, mse, (x, y), None, direction, d2, grid=5)
    assert plane.loss.shape == (5, 5)
    assert plane.loss[2, 2] == pytest.approx(expected, rel=1e-13)
    # the plane's axis β = 0 is the line along d1
    np.testing.assert_allclose(
        plane.loss[:, 2], slice_1d(net, mse, (x, y), None, direction, 5).loss, rtol=1e-13
    )


def test_the_slice_of_an_ensemble_network_at_the_origin():
    net = FullyConnected(input_shape=(4,), depth=2, width=8, bias=True)
    ensemble = net.initialize([0, 1, 2])
    x, y = regression()
    w = member(ensemble, 2)
    cut = slice_1d(net, mse, (x, y), w, random_direction(w, 0), points=3)
    assert cut.loss[1] == pytest.approx(float(mse(net.apply(ensemble, x)[2], y)), rel=1e-13)


def test_the_ends_of_the_path_are_the_two_networks_losses():
    net = FullyConnected(input_shape=(4,), depth=2, width=8)
    ensemble = net.initialize([0, 1])
    x, y = regression()
    out = net.apply(ensemble, x)
    path = interpolate(net, mse, (x, y), member(ensemble, 0), member(ensemble, 1), points=9)
    assert path.loss_a == pytest.approx(float(mse(out[0], y)), rel=1e-13)
    assert path.loss_b == pytest.approx(float(mse(out[1], y)), rel=1e-13)
    np.testing.assert_allclose(path.loss[[0, -1]], [path.loss_a, path.loss_b], rtol=1e-13)
    assert path.error is None and path.error_barrier is None  # real targets
    # the same two networks as nn.Modules: the same path
    a, b = mlp(0), mlp(1)
    x, y = regression()
    path = interpolate(a, mse, (x, y), dict(a.named_parameters()), dict(b.named_parameters()))
    assert path.loss_a == pytest.approx(value(mse(a(x), y)), rel=1e-13)
    assert path.loss_b == pytest.approx(value(mse(b(x), y)), rel=1e-13)


# ---- a quadratic loss: the exact parabola ----------------------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_quadratic_loss_along_the_path_is_the_exact_parabola(sign):
    x, y = regression(P=10, d=5, k=1)
    y = y[:, 0]
    g = torch.Generator().manual_seed(7)
    wa, wb = (torch.randn(5, generator=g, dtype=DT) for _ in range(2))

    def f(p, x):
        return x @ p["w"]

    def loss(out, y):
        return sign * mse(out, y)

    path = interpolate(f, loss, (x, y), {"w": wa}, {"w": wb}, points=41, t_range=(-0.5, 1.5))
    # L(t) = sign (a t² + b t + c), from the residual r = X w_a − y and the step s = X Δ
    r, s = (x @ wa - y).numpy(), (x @ (wb - wa)).numpy()
    a, b, c = (s @ s) / 10, 2 * (r @ s) / 10, (r @ r) / 10
    t = path.t
    np.testing.assert_allclose(path.loss, sign * (a * t**2 + b * t + c), rtol=1e-12, atol=1e-12)
    # the barriers, in closed form: above the chord, sign·a·(t² − t) peaks at t = ½ when
    # the parabola is concave (sign < 0), and at the ends (0) when it is convex
    expected_linear = a / 4 if sign < 0 else 0.0
    assert path.barrier_linear == pytest.approx(expected_linear, abs=1e-12)
    ends = sign * c, sign * (a + b + c)
    inside = (t >= 0) & (t <= 1)
    top = max(ends + tuple(sign * (a * t[inside] ** 2 + b * t[inside] + c)))
    assert path.barrier == pytest.approx(top - max(ends), abs=1e-12)
    if sign > 0:  # a convex path never rises above its higher end
        assert path.barrier == 0.0


def test_barrier_heights_are_measured_from_the_ends_within_the_unit_interval():
    # a point beyond t = 1 does not count; the ends always do
    assert barrier_heights([0.5, 2.0], [1.0, 10.0], 0.0, 2.0) == (0.0, 0.0)
    assert barrier_heights([0.25], [4.0], 2.0, 0.0) == (2.0, 2.5)


# ---- filter-normalised directions ------------------------------------------------------


def conv_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(12, 2)
    ).to(DT)


def test_filter_normalised_directions_have_the_norms_of_the_filters():
    params = {n: p.detach() for n, p in conv_net().named_parameters()}
    d = random_direction(params, seed=5)
    for name, w in params.items():
        assert d[name].shape == w.shape and d[name].dtype == w.dtype
        if w.dim() >= 2:  # a filter: an output channel of the conv, a row of the linear
            torch.testing.assert_close(
                torch.linalg.vector_norm(d[name].flatten(1), dim=1),
                torch.linalg.vector_norm(w.flatten(1), dim=1),
                rtol=1e-12,
                atol=0,
            )
            assert not torch.allclose(d[name] / d[name].norm(), w / w.norm())  # not w itself
        else:
            assert torch.equal(d[name], torch.zeros_like(w))
    kept = random_direction(params, seed=5, biases="keep")
    assert kept["0.bias"].norm() == pytest.approx(float(params["0.bias"].norm()), rel=1e-12)
    layer = random_direction(params, seed=5, normalization="layer")
    assert layer["0.weight"].norm() == pytest.approx(float(params["0.weight"].norm()), rel=1e-12)
    raw = random_direction(params, seed=5, normalization="none")
    assert raw["0.weight"].norm() != pytest.approx(float(params["0.weight"].norm()), rel=1e-3)
    assert torch.equal(random_direction(params, seed=5)["3.weight"], d["3.weight"])
    assert not torch.equal(random_direction(params, seed=6)["3.weight"], d["3.weight"])


def test_filter_normalised_slices_are_invariant_to_rescaling_a_relu_layer():
    """Scaling the first layer's filters by c > 0 and the second layer by 1/c leaves a ReLU
    network unchanged; the filter-normalised direction scales with the filters, so the
    slice is the same. A raw direction's slice is not."""
    net, (x, y) = mlp(bias=False, h=6), regression()
    w = {n: p.detach() for n, p in net.named_parameters()}
    c_filters = torch.tensor([0.5, 2.0, 3.0, 0.25, 1.0, 7.0], dtype=DT)
    per_filter = {"0.weight": w["0.weight"] * c_filters[:, None], "2.weight": w["2.weight"]}
    d, d_scaled = random_direction(w, 9), random_direction(per_filter, 9)
    torch.testing.assert_close(d_scaled["0.weight"], d["0.weight"] * c_filters[:, None])

    c = 4.0
    rescaled = {"0.weight": w["0.weight"] * c, "2.weight": w["2.weight"] / c}
    torch.testing.assert_close(net(x), torch.func.functional_call(net, rescaled, (x,)))
    for normalization, invariant in (("filter", True), ("layer", True), ("none", False)):
        before = slice_1d(net, mse, (x, y), w, random_direction(w, 9, normalization), 7)
        after = slice_1d(
            net, mse, (x, y), rescaled, random_direction(rescaled, 9, normalization), 7
        )
        assert np.allclose(before.loss, after.loss, rtol=1e-10) is invariant, normalization


# ---- batched equals one at a time ------------------------------------------------------


class WithItem(torch.nn.Module):
    """A module vmap cannot batch (``.item()``): the landscape falls back to a loop."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 1).to(DT)

    def forward(self, x):
        return self.lin(x) * (1.0 + 0.0 * self.lin.weight.sum().item())


@pytest.mark.parametrize("which", ["fc", "cnn", "module", "no-vmap"])
def test_batched_equals_one_point_at_a_time(which, monkeypatch):
    x, y = regression()
    if which == "fc":
        model = FullyConnected(input_shape=(4,), depth=2, width=8, bias=True)
        params = member(model.initialize([0]), 0)
    elif which == "cnn":
        model = ConvNet(input_shape=(1, 5, 5), depth=2, width=3)
        params = member(model.initialize([0]), 0)
        x = torch.randn(6, 1, 5, 5, dtype=DT, generator=torch.Generator().manual_seed(0))
        y = y[:6]
    else:
        model = mlp() if which == "module" else WithItem()
        params = {n: p.detach() for n, p in model.named_parameters()}
    d1, d2 = random_direction(params, 1), random_direction(params, 2)
    slow = slice_2d(model, mse, (x, y), params, d1, d2, grid=4, batched=False)
    chunks = _record_chunks(monkeypatch)
    fast = slice_2d(model, mse, (x, y), params, d1, d2, grid=4)
    assert chunks == [16]  # the 16 points of the grid in one computation
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-12)
    # a smaller budget: several chunks, joined into the same slice
    memory = 1 << 20
    while chunks[0] > 5:
        memory //= 2
        chunks.clear()
        chunked = slice_2d(model, mse, (x, y), params, d1, d2, grid=4, memory=memory)
    assert len(chunks) >= 4 and sum(chunks) == 16
    np.testing.assert_allclose(chunked.loss, slow.loss, rtol=1e-12)


def _record_chunks(monkeypatch) -> list[int]:
    """The number of points of every batched evaluation, as the landscape makes them."""
    sizes = []
    many = landscape_eval._Model.many

    def recording(self, stacked, x):
        sizes.append(len(next(iter(stacked.values()))))
        return many(self, stacked, x)

    monkeypatch.setattr(landscape_eval._Model, "many", recording)
    return sizes


def test_a_data_loader_gives_the_loss_over_the_whole_data_set():
    net, (x, y) = mlp(), regression(P=10)
    d = random_direction(dict(net.named_parameters()), 0)
    whole = slice_1d(net, mse, (x, y), None, d, 5)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    np.testing.assert_allclose(slice_1d(net, mse, loader, None, d, 5).loss, whole.loss, rtol=1e-12)


def test_the_classification_error_is_measured_beside_the_loss():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3)).to(DT)
    x = torch.randn(30, 4, dtype=DT)
    labels = torch.randint(0, 3, (30,))
    cross_entropy = torch.nn.functional.cross_entropy
    d = random_direction(dict(net.named_parameters()), 0, biases="keep")
    cut = slice_1d(net, cross_entropy, (x, labels), None, d, [0.0, 1.0])
    assert cut.error[0] == pytest.approx(value((net(x).argmax(1) != labels).double().mean()))
    # ±1 labels with one output: the sign
    f = torch.nn.Linear(4, 1).to(DT)
    signs = torch.where(x[:, 0] > 0, 1.0, -1.0).to(DT)[:, None]
    other = torch.nn.Linear(4, 1).to(DT)
    path = interpolate(
        f, mse, (x, signs), dict(f.named_parameters()), dict(other.named_parameters())
    )
    assert path.error_a == pytest.approx(value(((f(x) * signs) <= 0).double().mean()))
    # a given error function replaces the default
    cut = slice_1d(net, cross_entropy, (x, labels), None, d, 3, error_fn=lambda o, y: o.sum())
    assert cut.error[1] == pytest.approx(value(net(x).sum()), rel=1e-12)


# ---- bad input: one line each ----------------------------------------------------------


def test_bad_input_is_one_line_naming_the_fix():
    net, (x, y) = mlp(), regression()
    w = {n: p.detach() for n, p in net.named_parameters()}
    d = random_direction(w, 0)
    wrong = dict(d, **{"0.weight": torch.zeros(3, 3, dtype=DT)})
    with pytest.raises(InvalidOptionError, match=r"direction\['0.weight'\] has shape \(3, 3\)"):
        slice_1d(net, mse, (x, y), w, wrong, 5)
    with pytest.raises(InvalidOptionError, match=r"d2\['0.weight'\] has shape \(3, 3\), the"):
        slice_2d(net, mse, (x, y), w, d, wrong, 3)
    with pytest.raises(InvalidOptionError, match=r"params_b\['0.weight'\] has shape \(3, 3\)"):
        interpolate(net, mse, (x, y), None, wrong)
    with pytest.raises(InvalidOptionError, match=r"y is torch.float32, the parameters"):
        interpolate(net, mse, (x, y.float()), None, w)
    with pytest.raises(InvalidOptionError, match=r"missing \['2.bias'\]"):
        slice_1d(net, mse, (x, y), w, {k: v for k, v in d.items() if k != "2.bias"}, 5)
    with pytest.raises(InvalidOptionError, match="points=1: a landscape needs at least 2"):
        slice_1d(net, mse, (x, y), w, d, 1)
    with pytest.raises(InvalidOptionError, match="grid=1: a landscape needs at least 2"):
        slice_2d(net, mse, (x, y), w, d, d, grid=1)
    with pytest.raises(InvalidOptionError, match=r"the loss returned \(12, 1\), not a scalar"):
        slice_1d(net, lambda o, y: (o - y) ** 2, (x, y), w, d, 3)
    with pytest.raises(
        InvalidOptionError, match=r"x is torch.float32, the parameters torch.float64"
    ):
        slice_1d(net, mse, (x.float(), y), w, d, 3)
    with pytest.raises(InvalidOptionError, match="memory budget 100 bytes is too small"):
        slice_1d(net, mse, (x, y), w, d, 3, memory=100)
    with pytest.raises(InvalidOptionError, match="span"):
        slice_1d(net, mse, (x, y), w, d, 3, span=(1, -1))
    with pytest.raises(UnknownNameError, match="unknown normalization 'filters'"):
        random_direction(w, 0, normalization="filters")
    arch = FullyConnected(input_shape=(4,), depth=1, width=8)
    ensemble = arch.initialize([0, 1])
    with pytest.raises(InvalidOptionError, match=r"one member of FullyConnected.*member\(params"):
        interpolate(arch, mse, (x, y), ensemble, ensemble)


# ---- figures ---------------------------------------------------------------------------


def test_the_figures_are_returned_objects_that_save_as_png_and_pdf(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    from symscape.measure.landscape_figures import (
        interpolation_figure,
        slice_1d_figure,
        slice_2d_figure,
    )

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3)).to(DT)
    x, labels = torch.randn(20, 4, dtype=DT), torch.randint(0, 3, (20,))
    ce = torch.nn.functional.cross_entropy
    w = {n: p.detach() for n, p in net.named_parameters()}
    other = {n: torch.randn_like(p) for n, p in w.items()}
    d1, d2 = random_direction(w, 0, biases="keep"), random_direction(w, 1, biases="keep")
    open_before = plt.get_fignums()
    path = interpolation_figure(interpolate(net, ce, (x, labels), w, other, points=7))
    line = slice_1d_figure(slice_1d(net, ce, (x, labels), w, d1, 7))
    # a regression fitted to 1e-3: the loss spans decades over the plane
    fitted = torch.nn.Linear(4, 1, bias=False).to(DT)
    targets = (fitted(x) + 1e-3 * torch.randn(20, 1, dtype=DT)).detach()
    v = {n: p.detach() for n, p in fitted.named_parameters()}
    e1, e2 = random_direction(v, 0), random_direction(v, 1)
    plane = slice_2d(fitted, mse, (x, targets), v, e1, e2, grid=5)
    contour = slice_2d_figure(plane)
    assert plt.get_fignums() == open_before  # no pyplot state
    assert all(isinstance(f, Figure) for f in (path, line, contour))
    assert len(path.axes) == 2  # the loss, and the error on its twin
    no_error = slice_1d(net, ce, (x, labels), w, d1, 7, error_fn=False)
    assert no_error.error is None and len(slice_1d_figure(no_error).axes) == 1
    assert len(line.axes) == 2
    # log levels when the loss spans decades, linear ones when it does not
    assert np.log10(plane.loss.max() / plane.loss.min()) > 2
    assert isinstance(contour.axes[0].collections[0].norm, LogNorm)
    flat = slice_2d_figure(slice_2d(net, ce, (x, labels), w, d1, d2, grid=5))
    assert not isinstance(flat.axes[0].collections[0].norm, LogNorm)
    for suffix in ("png", "pdf"):
        contour.savefig(tmp_path / f"slice.{suffix}")
        assert (tmp_path / f"slice.{suffix}").stat().st_size > 1000
