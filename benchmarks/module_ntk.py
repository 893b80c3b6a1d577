"""The NTK of a user's nn.Module: symscape's per-layer path against torch.func's vmap(jacrev).

The module is a plain ``nn.Sequential`` MLP (784 → 512 → 512 → 10, ReLU,
biases; float32). The baseline is the recipe of PyTorch's "Neural Tangent
Kernels" tutorial: ``functional_call``, per-sample Jacobians
``vmap(jacrev(...))`` over the points, one ``einsum`` per parameter tensor,
summed. symscape is ``symscape.measure.ntk(model, x)``, which takes the
per-layer Gram formula (hooks, one backward per output; no per-sample
Jacobian) and, before trusting it, checks it on x[0] against one backward
pass (counted in its time).

Each measurement runs in its own process, so that the peak memory is that
method's alone: the wall time of one call after a warm-up call on 8 points,
and the increase of the peak resident set size (``VmHWM`` after resetting
it, minus ``VmRSS`` before the call) — the process's real peak, not an
analytic count. The two kernels are checked equal to float32 rounding.

    python benchmarks/module_ntk.py            # P = 128
    python benchmarks/module_ntk.py --quick    # P = 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from ntk import measure, timed  # benchmarks/ntk.py: one process per measurement


def build(width: int, k: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, k),
    )


def baseline_kernel(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The tutorial's recipe: ``[P, k, P, k]`` from per-sample Jacobians."""
    from torch.func import functional_call, jacrev, vmap

    params = {name: p.detach() for name, p in model.named_parameters()}

    def single(values, point):
        return functional_call(model, values, (point.unsqueeze(0),)).squeeze(0)

    jac = vmap(jacrev(single), (None, 0))(params, x)
    jac = [j.flatten(2) for j in jac.values()]
    return torch.stack([torch.einsum("Naf,Mbf->NaMb", j, j) for j in jac]).sum(0)


def child(args) -> None:
    from symscape.measure import ntk

    torch.set_num_threads(args.threads)
    model = build(args.width, args.k)
    x = torch.randn(args.P, 784, generator=torch.Generator().manual_seed(0))

    def compute(points):
        if args.method == "baseline":
            return baseline_kernel(model, points)
        return ntk(model, points)

    timed(compute, x, args.save)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--P", type=int, default=None, help="points (default 128, quick 64)")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="symscape", help=argparse.SUPPRESS)
    parser.add_argument("--save", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.P is None:
        args.P = 64 if args.quick else 128
    if args.child:
        child(args)
        return
    case = dict(P=args.P, width=args.width, k=args.k)
    print(f"NTK of nn.Sequential 784-{args.width}-{args.width}-{args.k} (ReLU, bias), float32,")
    print(f"P = {args.P} points, {args.threads} thread(s); peak = increase of the peak RSS")
    with tempfile.TemporaryDirectory() as tmp:
        slow = measure(case, "baseline", args.threads, Path(tmp) / "slow.npy", __file__)
        fast = measure(case, "symscape", args.threads, Path(tmp) / "fast.npy", __file__)
        a, b = np.load(Path(tmp) / "slow.npy"), np.load(Path(tmp) / "fast.npy")
    error = float(np.abs(a - b).max() / np.abs(a).max())
    assert error < 1e-4, f"kernels differ: {error:.2e}"
    print("                      | time s    peak MB")
    print(f"vmap(jacrev) baseline | {slow['seconds']:<9.3f} {slow['peak_mb']:<8.0f}")
    print(f"symscape layers path  | {fast['seconds']:<9.3f} {fast['peak_mb']:<8.0f}")
    print(
        f"ratio                 | {slow['seconds'] / fast['seconds']:<.1f}× faster, "
        f"{fast['peak_mb'] / max(slow['peak_mb'], 1e-9):.4f} of the peak memory; "
        f"max relative difference {error:.1e}"
    )
    result = {**case, "baseline": slow, "symscape": fast, "max_rel_diff": error}
    print(json.dumps({"benchmark": "module_ntk", "threads": args.threads, "results": [result]}))


if __name__ == "__main__":
    main()
