"""Batched diffeomorphisms against the published one-image-at-a-time approach.

The baseline, written here from its description: every call builds its sine
matrices and draws its own field (a three-factor einsum), and the images are
deformed one at a time in a Python loop, each by four advanced-indexing
gathers (the four bilinear corners). symscape draws every field in one call,
builds them separably (two matrix products) and resamples the whole batch
with one ``grid_sample``. Both run in the same process with the same number
of threads; both deform the images by the same coefficients once, to check
that they agree.

    python benchmarks/diffeo.py [--quick] [--threads 1] [--repeats 7]

Ends with one JSON line ``{"benchmark": "diffeo", "results": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

from symscape.diffeo import deform, sample_coefficients, temperature_from_displacement


def published_deform(image, T, c, coefficients=None, generator=None):
    """The baseline: one image ``[C, n, n]``, its own field, four gathers."""
    n = image.shape[-1]
    dtype = image.dtype
    if coefficients is None:
        m = int(c)
        k = torch.arange(1, m + 1, dtype=dtype)
        r = (k[:, None] ** 2 + k[None, :] ** 2).sqrt()
        std = (r <= c) / r * math.sqrt(T)
        C = torch.randn(m, m, dtype=dtype, generator=generator) * std
        D = torch.randn(m, m, dtype=dtype, generator=generator) * std
    else:
        C, D = coefficients[0], coefficients[1]
    k = torch.arange(1, C.shape[0] + 1, dtype=dtype)
    u = torch.linspace(0, 1, n, dtype=dtype)
    s = torch.sin(math.pi * u[:, None] * k[None, :])  # rebuilt at every call
    dx = n * torch.einsum("ij,xi,yj->yx", C, s, s)
    dy = n * torch.einsum("ij,xi,yj->yx", D, s, s)
    rows, cols = torch.meshgrid(
        torch.arange(n, dtype=dtype), torch.arange(n, dtype=dtype), indexing="ij"
    )
    xs = (cols - dx).clamp(0, n - 1)
    ys = (rows - dy).clamp(0, n - 1)
    x0, y0 = xs.floor().long(), ys.floor().long()
    x1, y1 = xs.ceil().long(), ys.ceil().long()
    wx, wy = xs - x0, ys - y0
    return (
        (1 - wy) * (1 - wx) * image[..., y0, x0]
        + (1 - wy) * wx * image[..., y0, x1]
        + wy * (1 - wx) * image[..., y1, x0]
        + wy * wx * image[..., y1, x1]
    )


def published_batch(x, T, c, coefficients=None, generator=None):
    """The baseline over a batch: a Python loop, one image at a time."""
    if coefficients is None:
        return torch.stack([published_deform(img, T, c, generator=generator) for img in x])
    return torch.stack(
        [published_deform(img, T, c, co) for img, co in zip(x, coefficients, strict=True)]
    )


def median_ms(functions, repeats):
    """Median time of each function in ms; their runs alternate, so load hits them alike."""
    for fn in functions:
        fn()  # warm-up: caches, allocator
    times = [[] for _ in functions]
    for _ in range(repeats):
        for fn, t in zip(functions, times, strict=True):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [1e3 * statistics.median(t) for t in times]


def run_case(batch, channels, n, repeats, c=3, delta=1.0):
    x = torch.rand(batch, channels, n, n, generator=torch.Generator().manual_seed(0))
    T = temperature_from_displacement(delta, c, n)
    coefficients = sample_coefficients(batch, T, c, generator=1)
    diff = (published_batch(x, T, c, coefficients) - deform(x, coefficients=coefficients)).abs()
    x64, co64 = x[:8].double(), coefficients[:8].double()  # same check, without float32 rounding
    diff64 = (published_batch(x64, T, c, co64) - deform(x64, coefficients=co64)).abs()
    g_base, g_sym = torch.Generator().manual_seed(2), torch.Generator().manual_seed(3)
    base, ours = median_ms(
        [
            lambda: published_batch(x, T, c, generator=g_base),
            lambda: deform(x, T, c, generator=g_sym),
        ],
        repeats,
    )
    return {
        "case": f"{batch}x{channels}x{n}x{n}",
        "T": T,
        "c": c,
        "baseline_ms": round(base, 3),
        "symscape_ms": round(ours, 3),
        "ratio": round(base / ours, 2),
        "max_abs_diff": diff.max().item(),
        "max_abs_diff_float64": diff64.max().item(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 9)
    cases = [(100, 3, 32), (16, 3, 224)] if args.quick else [(500, 3, 32), (64, 3, 224)]
    results = []
    print(f"threads={args.threads} repeats={repeats} (median times, float32, CPU)")
    header = ("case", "baseline ms", "symscape ms", "ratio", "max|diff|", "(float64)")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (16, 12, 12, 7, 10, 10), strict=True)))
    for batch, channels, n in cases:
        r = run_case(batch, channels, n, repeats)
        r["threads"] = args.threads
        results.append(r)
        print(
            f"{r['case']:>16} {r['baseline_ms']:>12.2f} {r['symscape_ms']:>12.2f} "
            f"{r['ratio']:>6.1f}x {r['max_abs_diff']:>10.2e} {r['max_abs_diff_float64']:>10.2e}"
        )
    print(json.dumps({"benchmark": "diffeo", "results": results}))


if __name__ == "__main__":
    main()
