"""A picture of a few inputs of a data set, to see what a model will see."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from symscape.data.dataset import Dataset

__all__ = ["preview_figure", "save_preview"]


def preview_figure(ds: Dataset, n: int = 16):
    """A matplotlib figure of the first ``n`` training inputs with their labels.

    Images are drawn as images (colour for 3 channels), signals as curves,
    vectors as a scatter of their first two coordinates coloured by label.
    """
    from matplotlib.figure import Figure

    x = ds.x_train.detach().to("cpu").double().numpy()
    y = ds.y_train.detach().to("cpu").numpy()
    n = min(n, len(x))
    if ds.input_kind == "image":
        cols = min(n, 8)
        rows = max(1, math.ceil(n / cols))
        fig = Figure(figsize=(1.3 * cols, 1.45 * rows), layout="constrained")
        for i in range(rows * cols):
            ax = fig.add_subplot(rows, cols, i + 1)
            ax.set_axis_off()
            if i >= n:
                continue
            img = x[i]
            low, high = img.min(), img.max()
            img = (img - low) / (high - low) if high > low else np.zeros_like(img)
            if img.shape[0] == 3:
                ax.imshow(np.transpose(img, (1, 2, 0)), interpolation="nearest")
            else:
                ax.imshow(img[0], cmap="gray", interpolation="nearest")
            ax.set_title(f"y={y[i]:g}", fontsize=8)
    elif ds.input_kind == "signal":
        fig = Figure(figsize=(8, 4), layout="constrained")
        ax = fig.add_subplot()
        for i in range(min(n, 8)):
            ax.plot(x[i].reshape(-1) + 3.0 * i, lw=1)
            ax.text(len(x[i].reshape(-1)), 3.0 * i, f" y={y[i]:g}", fontsize=8, va="center")
        ax.set_yticks([])
        ax.set_xlabel("position")
    else:
        fig = Figure(figsize=(5, 4.5), layout="constrained")
        ax = fig.add_subplot()
        flat = x.reshape(len(x), -1)
        second = flat[:, 1] if flat.shape[1] > 1 else np.zeros(len(flat))
        points = ax.scatter(flat[:, 0], second, c=y, s=8, cmap="coolwarm")
        fig.colorbar(points, ax=ax, label="label")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    fig.suptitle(f"{ds.name}: {len(x)} training inputs of shape {ds.input_shape}", fontsize=10)
    return fig


def save_preview(ds: Dataset, path: str | Path, n: int = 16) -> Path:
    """Write :func:`preview_figure` to ``path`` (PNG, or any format matplotlib knows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    preview_figure(ds, n).savefig(path, dpi=110)
    return path
