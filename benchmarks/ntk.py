"""The empirical NTK: symscape's per-layer formula against the torch.func baseline.

The baseline is the Jacobian contraction of PyTorch's "Neural Tangent Kernels"
tutorial: an ``nn.Module`` (here the same fully connected ReLU network, built
from the same weights), ``functional_call``, per-sample Jacobians with
``vmap(jacrev(...))`` over the points, and one ``einsum`` per parameter
tensor, summed — once per member of the ensemble. symscape computes
``symscape.measure.ntk`` for every member at once from each layer's inputs and
backpropagated signals.

Unlike the other benchmarks, each measurement runs in its own process (so
that the peak memory is that method's alone): the wall time of one call
after a warm-up call on 8 points, and the peak resident memory it added.
The two kernels are checked equal (float64, relative 1e-10). Printed: one
row per case with both times, both memory increases and the ratios.

    python benchmarks/ntk.py            # P = 1024 (E = 1 and 4), and P = 4096
    python benchmarks/ntk.py --quick    # P = 256 only
    python benchmarks/ntk.py --large    # also P = 10,000, symscape alone (the
                                        # baseline would need about 23 GB)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def memory_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # Linux >= 4.0: VmHWM := VmRSS
        f.write("5")


def baseline_kernel(net, params, x: torch.Tensor) -> torch.Tensor:
    """The tutorial's Jacobian contraction, member by member: ``[E, P, k, P, k]``."""
    from torch.func import functional_call, jacrev, vmap

    per_member = []
    for e in range(next(iter(params.values())).shape[0]):
        layers = net.layers()
        modules = []
        for i, layer in enumerate(layers):
            lin = torch.nn.Linear(layer.shape[1], layer.shape[0], bias=False, dtype=x.dtype)
            modules.append(lin)
            if i < len(layers) - 1:
                modules.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*modules)
        gain = 2**0.5  # the normalised relu √2·max(0, z), folded into the next layer
        weights = {
            f"{2 * i}.weight": params[layer.name][e] * layer.scale * (gain if i else 1.0)
            for i, layer in enumerate(layers)
        }

        def single(w, point, model=model):
            return functional_call(model, w, (point.unsqueeze(0),)).squeeze(0)

        jac = vmap(jacrev(single), (None, 0))(weights, x)
        # ∂f/∂W_eff · ∂W_eff/∂W: scale the Jacobian back to the raw weights
        factors = [layer.scale * (gain if i else 1.0) for i, layer in enumerate(layers)]
        jac = [j.flatten(2) * c for j, c in zip(jac.values(), factors, strict=True)]
        kernel = torch.stack([torch.einsum("Naf,Mbf->NaMb", j, j) for j in jac]).sum(0)
        per_member.append(kernel)
    return torch.stack(per_member)


def child(args) -> None:
    from symscape.measure.ntk import ntk
    from symscape.nets import FullyConnected

    torch.set_num_threads(args.threads)
    net = FullyConnected(input_shape=(args.d,), depth=args.L, width=args.h)
    params = net.initialize(list(range(args.E)))
    x = torch.randn(args.P, args.d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def compute(points):
        if args.method == "baseline":
            return baseline_kernel(net, params, points)
        return ntk(net, params, points)

    timed(compute, x, args.save)


def timed(compute, x: torch.Tensor, save: str) -> None:
    """Print the time and the added peak memory of ``compute(x)`` (after a warm-up on 8
    points) as one JSON line, and save its result."""
    compute(x[:8])  # warm-up
    reset_peak()
    rss = memory_mb("VmRSS")
    started = time.perf_counter()
    kernel = compute(x)
    seconds = time.perf_counter() - started
    added = memory_mb("VmHWM") - rss
    np.save(save, kernel.numpy())
    print(json.dumps({"seconds": seconds, "peak_mb": added}))


def measure(case: dict, method: str, threads: int, save: Path, script: str = __file__) -> dict:
    """Run ``script --child`` for one case and method in its own process: its JSON line."""
    cmd = [sys.executable, script, "--child", "--method", method, "--threads", str(threads)]
    cmd += ["--save", str(save)] + [f"--{k}={v}" for k, v in case.items()]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="symscape", help=argparse.SUPPRESS)
    parser.add_argument("--save", default="", help=argparse.SUPPRESS)
    for name, default in (("P", 1024), ("E", 1), ("h", 256), ("L", 3), ("d", 64)):
        parser.add_argument(f"--{name}", type=int, default=default, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    cases = [dict(P=256, E=1, h=256, L=3, d=64)]
    if not args.quick:
        cases = [
            dict(P=1024, E=1, h=256, L=3, d=64),
            dict(P=1024, E=4, h=256, L=3, d=64),
            dict(P=4096, E=1, h=256, L=3, d=64),
        ]
    print(f"empirical NTK, fully connected ReLU, float64, {args.threads} thread(s)")
    header = "P     E  h    L  d   | baseline s  MB     | symscape s  MB     | speed-up  memory"
    print(header)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            slow = measure(case, "baseline", args.threads, Path(tmp) / "slow.npy")
            fast = measure(case, "symscape", args.threads, Path(tmp) / "fast.npy")
            a, b = np.load(Path(tmp) / "slow.npy"), np.load(Path(tmp) / "fast.npy")
            error = float(np.abs(a - b).max() / np.abs(a).max())
            assert error < 1e-10, f"kernels differ: {error:.2e}"
            (Path(tmp) / "slow.npy").unlink()
            results.append({**case, "baseline": slow, "symscape": fast, "max_rel_diff": error})
            print(
                f"{case['P']:<5} {case['E']:<2} {case['h']:<4} {case['L']:<2} {case['d']:<3} | "
                f"{slow['seconds']:<10.3f} {slow['peak_mb']:<6.0f} | "
                f"{fast['seconds']:<10.3f} {fast['peak_mb']:<6.0f} | "
                f"{slow['seconds'] / fast['seconds']:>6.1f}×  "
                f"{fast['peak_mb'] / max(slow['peak_mb'], 1e-9):.3f}   (max rel. diff {error:.1e})"
            )
        if args.large:
            case = dict(P=10_000, E=1, h=256, L=3, d=64)
            fast = measure(case, "symscape", args.threads, Path(tmp) / "fast.npy")
            print(
                f"{case['P']:<5} {case['E']:<2} {case['h']:<4} {case['L']:<2} {case['d']:<3} | "
                f"{'-':<10} {'-':<6} | {fast['seconds']:<10.3f} {fast['peak_mb']:<6.0f} |"
            )
            results.append({**case, "symscape": fast})
    print(json.dumps({"benchmark": "ntk", "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
