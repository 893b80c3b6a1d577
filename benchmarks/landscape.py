"""Loss-landscape slices: all points in one batched computation against one point at a time.

A 2D slice ``L(w + a d₁ + b d₂)`` on a ``grid × grid`` lattice, along
filter-normalised random directions, of a small fully connected ReLU network
(float64, mean squared error on P random points):

* symscape's ``FullyConnected``: the points stacked on its ensemble axis, one
  ``apply`` per chunk; the baseline evaluates them one at a time (the same
  weights, ``batched=False``: one ``apply`` per point);
* the same network as an ``nn.Sequential``: ``torch.func.vmap`` over
  ``functional_call``; the baseline, one ``functional_call`` per point (what a
  loop over ``load_state_dict`` does, without the copies).

Printed: one row per case, both times (the best of ``--repeat`` after a
warm-up), the speed-up, and the largest difference between the two slices
relative to the largest loss (rounding: ~1e-15).

    python benchmarks/landscape.py --quick --threads 1   # grid 21, P = 64, h = 16
    python benchmarks/landscape.py                       # also grid 41; P = 256, h = 32;
                                                         # P = 1024, h = 64
    python benchmarks/landscape.py --device cuda         # on a GPU machine

The batched slice costs about the arithmetic of its points; one point at a
time adds a fixed Python and dispatch cost per point (~0.2 ms on a CPU core),
so the speed-up is largest for small networks and few data points (the
target, ≥ 10×, is for those) and falls towards 1–2× on one CPU core once a
point's arithmetic outweighs that cost.
"""

from __future__ import annotations

import argparse
import functools
import json
import time

import numpy as np
import torch

from symscape.measure.landscape import member, random_direction, slice_2d
from symscape.nets import FullyConnected


def mse(out, y):
    return ((out - y) ** 2).mean()


def as_sequential(net: FullyConnected, w: dict) -> tuple[torch.nn.Module, dict]:
    """The same network as an ``nn.Sequential`` of bias-free linear layers, with the
    forward multipliers (and the normalised ReLU's gain) folded into its weights."""
    layers = net.layers()
    modules = []
    for i, layer in enumerate(layers):
        modules.append(torch.nn.Linear(layer.shape[1], layer.shape[0], bias=False).double())
        if i < len(layers) - 1:
            modules.append(torch.nn.ReLU())
    gain = 2**0.5
    weights = {
        f"{2 * i}.weight": w[layer.name] * layer.scale * (gain if i else 1.0)
        for i, layer in enumerate(layers)
    }
    return torch.nn.Sequential(*modules), weights


def best_time(fn, repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cases = [dict(grid=21, P=64, h=16, L=2, d=10)]
    if not args.quick:
        cases += [
            dict(grid=41, P=64, h=16, L=2, d=10),
            dict(grid=21, P=256, h=32, L=2, d=10),
            dict(grid=21, P=1024, h=64, L=2, d=10),
        ]
    print(f"2D loss slice, fully connected ReLU, float64, {device}, {args.threads} thread(s)")
    print(
        "model           grid  P     h   L | one at a time s  batched s | speed-up  max rel. diff"
    )
    results = []
    for case in cases:
        net = FullyConnected(input_shape=(case["d"],), depth=case["L"], width=case["h"])
        w = member(net.initialize([0], device=device), 0)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(case["P"], case["d"], dtype=torch.float64, generator=g).to(device)
        y = torch.randn(case["P"], 1, dtype=torch.float64, generator=g).to(device)
        module, mw = as_sequential(net, w)
        module = module.to(device)
        for name, model, params in (("FullyConnected", net, w), ("nn.Sequential", module, mw)):
            d1, d2 = random_direction(params, 1), random_direction(params, 2)

            cut = functools.partial(slice_2d, model, mse, (x, y), params, d1, d2, case["grid"])
            slow, a = best_time(lambda cut=cut: cut(batched=False).loss, args.repeat)
            fast, b = best_time(lambda cut=cut: cut(batched=True).loss, args.repeat)
            diff = float(np.abs(a - b).max() / np.abs(a).max())
            assert diff < 1e-10, f"slices differ: {diff:.2e}"
            results.append({"model": name, **case, "one_at_a_time": slow, "batched": fast})
            results[-1]["max_rel_diff"] = diff
            print(
                f"{name:<15} {case['grid']:<5} {case['P']:<5} {case['h']:<3} {case['L']:<1} | "
                f"{slow:<16.3f} {fast:<9.3f} | {slow / fast:>6.1f}×   {diff:.1e}"
            )
    summary = {"benchmark": "landscape", "device": str(device), "threads": args.threads}
    print(json.dumps({**summary, "results": results}))


if __name__ == "__main__":
    main()
