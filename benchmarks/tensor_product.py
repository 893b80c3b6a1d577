"""e3nn tensor products, eager against compiled (and cuEquivariance on a CUDA GPU).

Cases: the fully connected product ``32x0e+32x1o+32x2e ⊗ 0e+1o+2e →
32x0e+32x1o+32x2e`` (shared weights) on 10,000 edges; an l_max = 3 product
of the same form with multiplicity 16; the channel-wise ("uvu", per-edge
weights) convolution product of symscape's network at l_max = 3. Each is
timed forward and forward+backward, eager e3nn against
``FastTensorProduct(tp, "compile")`` (and ``"cuequivariance"`` with
``--device cuda`` when cuequivariance-torch is installed); the outputs and
gradients are checked equal first. Then a full training step (forward,
backward, Adam step) of :class:`~symscape.equivariant.EquivariantNetwork` on
random point clouds with a rotation-invariant target, eager against
``accelerate(net, "compile")``: the target is a ratio of at least 1.5 on CPU.

Compilation is timed apart (the first call, minus a steady one). Inductor
keeps its FX graphs and AOT-autograd graphs on disk (``$TORCHINDUCTOR_CACHE_DIR``,
by default ``/tmp/torchinductor_$USER``), so a second run compiles much
faster; the cache hits are reported. Implementations alternate call by call
and every timing is repeated ``--runs`` times: the table shows the range of
the medians (the machine is shared, so single numbers are noisy).

    python benchmarks/tensor_product.py [--quick] [--threads 1] [--runs 3] [--device cpu]

Ends with one JSON line ``{"benchmark": "tensor_product", "results": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from e3nn import o3

from symscape.equivariant import EquivariantNetwork
from symscape.equivariant.fast import FastTensorProduct, accelerate, cuequivariance_available
from symscape.equivariant.network import channelwise_tensor_product


def inductor_cache_hits() -> dict:
    """Inductor's and AOT autograd's on-disk cache counters so far."""
    from torch._dynamo.utils import counters

    keys = ("fxgraph_cache_hit", "fxgraph_cache_miss", "autograd_cache_hit", "autograd_cache_miss")
    merged = {**counters["inductor"], **counters["aot_autograd"]}
    return {k: int(merged.get(k, 0)) for k in keys}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_ms(functions, repeats, device):
    """Median time of each function in ms; the calls alternate, so load hits them alike."""
    times = [[] for _ in functions]
    for _ in range(repeats):
        for fn, t in zip(functions, times, strict=True):
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            t.append(time.perf_counter() - start)
    return [1e3 * statistics.median(t) for t in times]


def timed_first_call(fn, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def difference(a, b) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1)).item()


# --------------------------------------------------------------------------- tensor products


def tensor_product_cases(quick: bool):
    edges = 2_000 if quick else 10_000
    sh2, sh3 = o3.Irreps.spherical_harmonics(2), o3.Irreps.spherical_harmonics(3)
    node2 = o3.Irreps("32x0e + 32x1o + 32x2e")
    node3 = o3.Irreps("16x0e + 16x1o + 16x2e + 16x3o")
    hidden3 = o3.Irreps("8x0e + 8x0o + 8x1o + 8x1e + 8x2e + 8x2o + 8x3o + 8x3e")
    targets = {ir for _, ir in hidden3}
    full = o3.FullyConnectedTensorProduct
    return [
        ("issue: 32x(0e+1o+2e) x sh(2), shared", edges, full(node2, sh2, node2)),
        ("l_max=3: 16x(0e..3o) x sh(3), shared", edges, full(node3, sh3, node3)),
        (
            "l_max=3: network uvu, per-edge weights",
            edges,
            channelwise_tensor_product(hidden3, sh3, targets),
        ),
    ]


def run_tensor_product(name, edges, tp, args, device):
    torch.manual_seed(0)
    tp = tp.to(device)
    x = tp.irreps_in1.randn(edges, -1, device=device)
    y = tp.irreps_in2.randn(edges, -1, device=device)
    w = None if tp.internal_weights else torch.randn(edges, tp.weight_numel, device=device)
    leaves = [t.requires_grad_() for t in (x, w) if t is not None]
    leaves += list(tp.parameters())
    paths = {"eager": FastTensorProduct(tp, "eager"), "compile": FastTensorProduct(tp, "compile")}
    skipped = {}
    if device.type == "cuda":
        available, why = cuequivariance_available(tp)
        try:
            if available:
                paths["cuequivariance"] = FastTensorProduct(tp, "cuequivariance")
            else:
                skipped["cuequivariance"] = why
        except Exception as err:  # e.g. the CUDA kernels (cuequivariance-ops) are missing
            skipped["cuequivariance"] = f"{type(err).__name__}: {err}"

    def forward(f):
        with torch.no_grad():
            return f(x, y, w)

    def forward_backward(f):
        out = f(x, y, w)
        return out, torch.autograd.grad(out.pow(2).sum(), leaves)

    before = inductor_cache_hits()
    compile_s = {}
    for label, f in paths.items():
        if label == "eager":
            continue
        first_forward = timed_first_call(lambda f=f: forward(f), device)
        first_backward = timed_first_call(lambda f=f: forward_backward(f), device)
        compile_s[label] = first_forward + first_backward
    reference, reference_grads = forward_backward(paths["eager"])
    errors = {}
    for label, f in paths.items():
        out, grads = forward_backward(f)
        errors[label] = max(
            difference(out, reference),
            *(difference(g, r) for g, r in zip(grads, reference_grads, strict=True)),
        )
    timings = {label: {"forward": [], "forward_backward": []} for label in paths}
    functions = [lambda f=f: forward(f) for f in paths.values()]
    functions_fb = [lambda f=f: forward_backward(f) for f in paths.values()]
    for _ in range(args.runs):
        for kind, fns in (("forward", functions), ("forward_backward", functions_fb)):
            for label, ms in zip(paths, median_ms(fns, args.repeats, device), strict=True):
                timings[label][kind].append(ms)
    for label in compile_s:  # one steady forward and forward+backward were part of the first calls
        steady_ms = sum(statistics.median(timings[label][k]) for k in timings[label])
        compile_s[label] = max(compile_s[label] - 1e-3 * steady_ms, 0.0)
    after = inductor_cache_hits()
    return {
        "case": name,
        "edges": edges,
        "paths": len(tp.instructions),
        "weights": tp.weight_numel,
        "device": str(device),
        "threads": args.threads,
        "ms": {
            label: {k: [round(min(v), 2), round(max(v), 2)] for k, v in t.items()}
            for label, t in timings.items()
        },
        "compile_s": {k: round(v, 1) for k, v in compile_s.items()},
        "max_difference": errors,
        "equal": all(e <= 1e-5 for e in errors.values()),
        "cache": {k: after[k] - before[k] for k in after},
        "skipped": skipped,
    }


# --------------------------------------------------------------------------- training step


def run_training_step(args, device):
    """Adam steps of the network on random clouds, eager against compiled (same parameters)."""
    clouds, points = (16, 8) if args.quick else (32, 12)
    net = EquivariantNetwork(irreps_out="0e", l_max=2, layers=3, multiplicity=8, device=device)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(clouds, points, 3, generator=g).to(device) for _ in range(8)]
    targets = [b.norm(dim=2).mean(1, keepdim=True) for b in batches]  # rotation-invariant
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    compiled = accelerate(net, "compile")
    counter = iter(range(10**9))

    def step(model):
        i = next(counter) % len(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = (model(batches[i]) - targets[i]).pow(2).mean()
        loss.backward()
        optimizer.step()

    before = inductor_cache_hits()
    compile_s = timed_first_call(lambda: step(compiled), device)
    with torch.no_grad():
        diff = max(difference(compiled(b), net(b)) for b in batches)
    eager_ms, compiled_ms = [], []
    for _ in range(args.runs):
        e, c = median_ms([lambda: step(net), lambda: step(compiled)], args.repeats, device)
        eager_ms.append(e)
        compiled_ms.append(c)
    ratios = [e / c for e, c in zip(eager_ms, compiled_ms, strict=True)]
    return {
        "case": f"training step: {clouds} clouds x {points} points, l_max=2, 3 layers, 8x",
        "device": str(device),
        "threads": args.threads,
        "eager_ms": [round(min(eager_ms), 2), round(max(eager_ms), 2)],
        "compiled_ms": [round(min(compiled_ms), 2), round(max(compiled_ms), 2)],
        "ratio": [round(min(ratios), 2), round(max(ratios), 2)],
        "target_ratio": 1.5,
        "target_met": min(ratios) >= 1.5,
        "compile_s": round(compile_s, 1),
        "max_difference": diff,
        "equal": diff <= 1e-5,
        "cache": {k: inductor_cache_hits()[k] - before[k] for k in before},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 edges, smaller clouds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--runs", type=int, default=3, help="timing runs (ranges over them)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per run")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-products", action="store_true", help="training step only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.repeats = args.repeats or (5 if args.quick else 9)
    device = torch.device(args.device)
    print(f"device={device} threads={args.threads} runs={args.runs} repeats={args.repeats}")
    results = []
    if not args.skip_products:
        for name, edges, tp in tensor_product_cases(args.quick):
            r = run_tensor_product(name, edges, tp, args, device)
            results.append(r)
            print(f"\n{name}  ({edges} edges, {r['paths']} paths, {r['weights']} weights)")
            columns = ("forward ms", "fwd+bwd ms", "compile s", "max|diff|")
            print(
                f"  {'path':<16}"
                + "".join(f"{c:>16}" for c in columns[:2])
                + "".join(f"{c:>11}" for c in columns[2:])
            )
            for label, t in r["ms"].items():
                f, fb = t["forward"], t["forward_backward"]
                c = r["compile_s"].get(label)
                print(
                    f"  {label:<16}{f[0]:>8.1f}-{f[1]:<7.1f}{fb[0]:>8.1f}-{fb[1]:<7.1f}"
                    f"{'' if c is None else f'{c:.1f}':>11}{r['max_difference'][label]:>11.1e}"
                )
            eager = r["ms"]["eager"]
            for label in r["ms"]:
                if label != "eager":
                    lo = eager["forward_backward"][0] / r["ms"][label]["forward_backward"][1]
                    hi = eager["forward_backward"][1] / r["ms"][label]["forward_backward"][0]
                    print(f"  eager / {label} (fwd+bwd): {lo:.2f}-{hi:.2f}x   cache {r['cache']}")
    r = run_training_step(args, device)
    results.append(r)
    print(f"\n{r['case']}")
    print(
        f"  eager {r['eager_ms'][0]:.1f}-{r['eager_ms'][1]:.1f} ms, compiled "
        f"{r['compiled_ms'][0]:.1f}-{r['compiled_ms'][1]:.1f} ms, ratio "
        f"{r['ratio'][0]:.2f}-{r['ratio'][1]:.2f}x (target >= 1.5: "
        f"{'met' if r['target_met'] else 'NOT met'}), compile {r['compile_s']:.1f} s, "
        f"max|diff| {r['max_difference']:.1e}, cache {r['cache']}"
    )
    print(json.dumps({"benchmark": "tensor_product", "results": results}))


if __name__ == "__main__":
    main()
