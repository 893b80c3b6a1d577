"""Figures of the loss landscape: pure, object-oriented matplotlib.

Each function takes a result of :mod:`symscape.measure.landscape` and returns
a ``matplotlib.figure.Figure``; none opens a pyplot window, switches backend
or writes a file (``fig.savefig(path)`` does, for PNG or PDF). They sit in
``measure/`` beside the results they draw, as ``data.preview`` does for data
sets: matplotlib is a dependency of the package, and the layers constrain
only imports of symscape's own modules.

* :func:`interpolation_figure`: the loss along ``(1 − t) w_a + t w_b``, the
  error on a twin axis, the ends ``t = 0, 1`` marked and the barrier written;
* :func:`slice_1d_figure`: ``L(w + a d)`` (and the error on a twin axis);
* :func:`slice_2d_figure`: contours of ``L(w + a d₁ + b d₂)``, on logarithmic
  levels when the (positive) loss spans more than two decades.

>>> import numpy as np
>>> from symscape.measure.landscape import Slice2D
>>> a = np.linspace(-1, 1, 5)
>>> s = Slice2D(alpha=a, beta=a, loss=1e-3 + np.add.outer(a**2, a**2) ** 3, error=None)
>>> fig = slice_2d_figure(s)
>>> type(fig).__name__, fig.axes[0].get_xlabel()
('Figure', 'α (direction 1)')
"""

from __future__ import annotations

import numpy as np

from symscape.measure.landscape import Interpolation, Slice1D, Slice2D

__all__ = ["interpolation_figure", "slice_1d_figure", "slice_2d_figure"]

DECADES_FOR_LOG = 2.0


def _twin_error(ax, x, error, label: str = "error") -> None:
    if error is None:
        return
    twin = ax.twinx()
    twin.plot(x, error, color="C1", ls="--", marker=".", label=label)
    twin.set_ylabel(label, color="C1")
    twin.tick_params(axis="y", colors="C1")


def interpolation_figure(path: Interpolation, title: str = "Linear interpolation"):
    """The loss (and error, twin axis) along the straight path, with its barrier."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.plot(path.t, path.loss, "o-", color="C0", ms=3, label="loss")
    ax.plot([0, 1], [path.loss_a, path.loss_b], "s", color="k", ms=6, label="ends")
    ax.axvspan(0, 1, color="0.93", zorder=0)
    ax.set(
        xlabel="t   (w = (1 − t) w_a + t w_b)",
        ylabel="loss",
        title=f"{title}: barrier {path.barrier:.3g} (above chord {path.barrier_linear:.3g})",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="upper left")
    _twin_error(ax, path.t, path.error)
    fig.tight_layout()
    return fig


def slice_1d_figure(cut: Slice1D, title: str = "1D slice"):
    """``L(w + a d)`` against ``a`` (and the error on a twin axis), the weights at ``a = 0``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.plot(cut.alpha, cut.loss, "o-", color="C0", ms=3, label="loss")
    ax.axvline(0.0, color="0.6", lw=0.8, ls=":")
    if _decades(cut.loss) > DECADES_FOR_LOG:
        ax.set_yscale("log")
    ax.set(xlabel="α   (w + α d)", ylabel="loss", title=title)
    _twin_error(ax, cut.alpha, cut.error)
    fig.tight_layout()
    return fig


def _decades(values: np.ndarray) -> float:
    """``log₁₀(max / min)`` of finite positive values (0 when any is ≤ 0)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.min() <= 0:
        return 0.0
    return float(np.log10(finite.max() / finite.min()))


def slice_2d_figure(cut: Slice2D, title: str = "2D slice", levels: int = 20):
    """Contours of ``L(w + a d₁ + b d₂)`` over the plane (log levels when the loss spans
    more than two decades), the weights marked at the origin."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 4.0))
    ax = fig.subplots()
    loss = np.ma.masked_invalid(cut.loss.T)  # contour wants [beta, alpha]
    if _decades(cut.loss) > DECADES_FOR_LOG:
        finite = cut.loss[np.isfinite(cut.loss)]
        edges = np.geomspace(finite.min(), finite.max(), levels)
        filled = ax.contourf(cut.alpha, cut.beta, loss, levels=edges, norm=LogNorm())
        label = "loss (log levels)"
    else:
        filled = ax.contourf(cut.alpha, cut.beta, loss, levels=levels)
        label = "loss"
    ax.contour(cut.alpha, cut.beta, loss, levels=filled.levels, colors="k", linewidths=0.3)
    ax.plot([0], [0], "w+", ms=10)
    ax.set(xlabel="α (direction 1)", ylabel="β (direction 2)", title=title)
    fig.colorbar(filled, ax=ax, label=label)
    fig.tight_layout()
    return fig
