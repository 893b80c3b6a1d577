r"""The figure of a Hessian's spectrum: pure, object-oriented matplotlib.

:func:`density_figure` draws the smoothed density ``ρ_σ(λ)`` of
:func:`~symscape.measure.curvature.spectral_density` on logarithmic axes in
both directions:

* the eigenvalue axis is *symmetric-logarithmic*: linear within ``±σ`` (the
  Gaussian width of the estimate, below which it resolves nothing) and
  logarithmic in ``|λ|`` beyond, on both signs — away from a minimum the
  Hessian has negative eigenvalues, and the bulk near zero and the outliers
  decades above it are both visible;
* the density axis is logarithmic, cut ``DYNAMIC_RANGE`` decades below its
  peak (the tails of the Gaussians fall to zero and would squash the plot).

The extreme eigenvalues computed separately (Lanczos to convergence,
:func:`~symscape.measure.curvature.eigenvalues`) are marked as vertical
lines: the ``top`` ones solid, the ``bottom`` ones dashed. The figure is
returned, never shown or saved (``fig.savefig(path)`` writes PNG or PDF).

>>> import numpy as np
>>> from symscape.measure.curvature import SpectralDensity
>>> grid = np.linspace(-1, 10, 200)
>>> rho = SpectralDensity(grid, np.exp(-grid**2), np.zeros((1, 1)), np.ones((1, 1)), 0.1)
>>> fig = density_figure(rho, top=[9.0, 7.5])
>>> ax = fig.axes[0]
>>> ax.get_xscale(), ax.get_yscale(), len(ax.lines)
('symlog', 'log', 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symscape.measure.curvature.spectrum import SpectralDensity

__all__ = ["DYNAMIC_RANGE", "density_figure"]

DYNAMIC_RANGE = 8.0  # decades of density shown below the peak


def density_figure(
    density: SpectralDensity,
    top: Sequence[float] = (),
    bottom: Sequence[float] = (),
    title: str = "Hessian spectral density",
):
    """``ρ_σ(λ)`` on a symmetric-log λ axis and a log density axis, the ``top`` and ``bottom``
    eigenvalues marked (module docstring)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.8))
    ax = fig.subplots()
    rho = np.asarray(density.density, dtype=np.float64)
    peak = float(rho.max()) if rho.size and rho.max() > 0 else 1.0
    floor = peak * 10.0**-DYNAMIC_RANGE
    ax.plot(density.grid, np.clip(rho, floor, None), color="C0", lw=1.2, label="density ρ(λ)")
    for i, value in enumerate(top):
        label = f"top {len(top)} eigenvalues" if i == 0 else None
        ax.axvline(value, color="C3", lw=0.8, label=label)
    for i, value in enumerate(bottom):
        label = f"bottom {len(bottom)} eigenvalues" if i == 0 else None
        ax.axvline(value, color="C2", lw=0.8, ls="--", label=label)
    ax.set_xscale("symlog", linthresh=density.sigma)
    ax.set_xticks(_ticks(density.sigma, float(np.abs(density.grid).max())))
    ax.set_yscale("log")
    ax.set_ylim(floor, peak * 3)
    ax.axvspan(-density.sigma, density.sigma, color="0.93", zorder=0)
    ax.set(
        xlabel=f"eigenvalue λ   (linear within ±σ = {density.sigma:.2g}, log beyond)",
        ylabel="density",
        title=title,
    )
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _ticks(sigma: float, largest: float) -> list[float]:
    """0 and ``±10^k`` for the decades from the first beyond ``σ`` to the one above ``largest``
    (none inside the linear region, where their labels would overlap)."""
    low = int(np.ceil(np.log10(sigma)))
    high = max(int(np.ceil(np.log10(max(largest, sigma)))), low)
    powers = [10.0**k for k in range(low, high + 1)]
    return [-p for p in reversed(powers)] + [0.0] + powers
