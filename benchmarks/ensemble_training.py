"""Ensemble training: symscape's batched engine against one ``nn.Module`` per network.

The baseline is what published code does: E separate ``torch.nn`` networks,
each trained in a Python loop with ``torch.optim.SGD``. symscape trains the
same E networks (same initial weights, same α-centred model and loss) as
one batched computation with ``symscape.train.fit``. Both run full-batch
SGD for the same number of steps in the same process and thread count; the
final weights are checked equal. Printed per size: both times, their ratio
(baseline / symscape), and the achieved GFLOP/s next to this machine's
dense-matmul rate measured in the same run.

    python benchmarks/ensemble_training.py [--quick] [--threads 1 2] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from symscape.data import load
from symscape.nets import FullyConnected
from symscape.train import SGD, CenteredNetwork, LossSpec, StopRules, fit


def learning_rate(h: float) -> float:
    """A step that is stable at every width (the tangent kernel grows like h here)."""
    return 0.4 / h


def matmul_gflops(dtype, device, n=1024, repeats=5) -> float:
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    best = math.inf
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def baseline(arch, params0, ds, steps, lr):
    """One nn.Module per member, trained in a Python loop with torch.optim.SGD."""
    E = params0["w0"].shape[0]
    nets = []
    for e in range(E):
        layers = []
        for i, layer in enumerate(arch.layers()):
            linear = torch.nn.Linear(layer.shape[1], layer.shape[0], bias=False)
            linear.to(dtype=params0["w0"].dtype, device=params0["w0"].device)
            with torch.no_grad():
                linear.weight.copy_(params0[layer.name][e])
            layers.append(linear)
            if i < len(arch.layers()) - 1:
                layers.append(_ScaledReLU())
        nets.append(torch.nn.Sequential(*layers))
    with torch.no_grad():
        f0 = [net(ds.x_train)[:, 0] for net in nets]
    start = time.perf_counter()
    for net, base in zip(nets, f0, strict=True):
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            out = net(ds.x_train)[:, 0] - base
            loss = 0.5 * torch.relu(1 - ds.y_train * out).pow(2).mean()
            loss.backward()
            opt.step()
    _sync(ds.x_train.device)
    elapsed = time.perf_counter() - start
    weights = {
        f"w{i}": torch.stack([net[2 * i].weight.detach() for net in nets])
        for i in range(len(arch.layers()))
    }
    return elapsed, weights


class _ScaledReLU(torch.nn.Module):
    def forward(self, x):
        return math.sqrt(2.0) * torch.relu(x)


def symscape_run(arch, params0, ds, steps, lr):
    model = CenteredNetwork(arch, params0, ds, 1.0, LossSpec("quadratic_hinge"))
    _sync(ds.x_train.device)
    start = time.perf_counter()
    traj = fit(
        model, SGD(lr=lr), StopRules(max_steps=steps, stop_when_fitted=False), record_points=2
    )
    _sync(ds.x_train.device)
    return time.perf_counter() - start, traj.params


def case(E, d, depth, h, P, dtype, device, steps, max_flops):
    ds = load("random", P=P, n_test=100, d=d, dtype=dtype, device=device, seed=0)
    arch = FullyConnected(input_shape=(d,), depth=depth, width=h, parametrization="standard")
    # large cases run fewer steps so that each side costs about max_flops (but at least
    # 20, so that the one evaluation a run starts with weighs little, as in a real run)
    steps = max(min(20, steps), min(steps, int(max_flops / (6.0 * P * arch.n_weights * E))))
    params0 = arch.initialize(list(range(E)), dtype=dtype, device=device)
    lr = learning_rate(h)
    t_sym, w_sym = symscape_run(arch, params0, ds, steps, lr)
    t_base, w_base = baseline(arch, params0, ds, steps, lr)
    diff = max(float((w_sym[n] - w_base[n]).abs().max()) for n in w_base)
    flops = 6.0 * P * arch.n_weights * E * steps  # forward 2PN, backward 4PN
    return {
        "E": E,
        "d": d,
        "depth": depth,
        "h": h,
        "P": P,
        "dtype": dtype,
        "steps": steps,
        "baseline_s": round(t_base, 4),
        "symscape_s": round(t_sym, 4),
        "ratio": round(t_base / t_sym, 2),
        "gflops": round(flops / t_sym / 1e9, 2),
        "max_weight_difference": diff,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and cases")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument(
        "--max-flops",
        type=float,
        default=2e11,
        help="cap on the floating-point work of one side of one case",
    )
    args = parser.parse_args()
    steps = 20 if args.quick else 200
    E, d, depth = 64, 64, 3
    sizes = [(h, 1000) for h in (8, 32, 128, 512)]
    sizes += [(h, P) for h in (8, 32) for P in (100, 10_000)]
    if args.quick:
        sizes = [(8, 100), (32, 1000), (128, 1000)]
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for dtype in args.dtypes:
            peak = matmul_gflops(getattr(torch, dtype), args.device)
            print(f"\n{threads} thread(s), {dtype}: dense matmul {peak:.1f} GFLOP/s")
            print(
                f"{'h':>5} {'P':>6} {'steps':>5} {'baseline s':>11} {'symscape s':>11} "
                f"{'ratio':>7} {'GFLOP/s':>8} {'% matmul':>9} {'max |Δw|':>9}"
            )
            for h, P in sizes:
                row = case(E, d, depth, h, P, dtype, args.device, steps, args.max_flops)
                row.update(threads=threads, device=args.device, matmul_gflops=round(peak, 2))
                results.append(row)
                print(
                    f"{h:>5} {P:>6} {row['steps']:>5} {row['baseline_s']:>11.3f} "
                    f"{row['symscape_s']:>11.3f} {row['ratio']:>6.2f}x {row['gflops']:>8.2f} "
                    f"{100 * row['gflops'] / peak:>8.1f}% {row['max_weight_difference']:>9.1e}"
                )
    print(json.dumps({"benchmark": "ensemble_training", "results": results}))


if __name__ == "__main__":
    main()
