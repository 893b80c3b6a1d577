"""The Hessian from its products: accuracy against the dense Hessian, and cost per product.

On a tanh MLP of a few thousand weights (float64, mean squared error over P
points), three comparisons side by side in one process:

* the top eigenvalue (``eigenvalues``, ARPACK Lanczos on exact products) and
  the spectral density (``spectral_density``, stochastic Lanczos quadrature)
  against ``torch.linalg.eigvalsh`` of the dense Hessian (``dense_hessian``):
  times, the top eigenvalue's relative error, the density's first two moments
  against the spectrum's, and the L1 distance between the SLQ density and the
  exact eigenvalues broadened by the same Gaussian;
* the cost of one Hessian-vector product: ``hvp`` (a torch vector) and the
  SciPy operator's ``matvec`` (numpy float64 in and out) against a plain
  double backward written by hand (``autograd.grad`` twice on the module's
  parameters) — the overhead target is ≤ 20 %; for information also
  forward-over-reverse (``torch.func.jvp`` of ``jacrev``) and, where
  ``curvlinops-for-pytorch`` is importable (it is not a symscape dependency),
  its ``HessianLinearOperator``. Every product is checked equal to the
  baseline's.

    python benchmarks/curvature.py --quick --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch

from symscape.measure.curvature import (
    dense_hessian,
    eigenvalues,
    flatten,
    hessian_operator,
    hvp,
    spectral_density,
    unflatten,
)

mse = torch.nn.functional.mse_loss


def model_and_data(widths: tuple[int, ...], P: int):
    torch.manual_seed(0)
    layers = []
    for a, b in itertools.pairwise(widths):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers[:-1]).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(P, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randn(P, widths[-1], generator=gen, dtype=torch.float64)
    return net, x, y


def timed(fn, repeats: int):
    """``(median seconds, last result)`` of ``repeats`` calls after one warm-up call
    (``repeats=0``: the one call, timed)."""
    if repeats == 0:
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out
    out = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def accuracy(net, x, y, n_probes: int, steps: int) -> dict:
    data = (x, y)
    t_dense, eig = timed(lambda: torch.linalg.eigvalsh(dense_hessian(net, mse, data)).numpy(), 0)
    t_top, top = timed(lambda: eigenvalues(net, mse, data, k=1)[0], 0)
    t_slq, sd = timed(lambda: spectral_density(net, mse, data, n_probes, steps), 0)
    exact = np.exp(-0.5 * ((sd.grid[:, None] - eig[None]) / sd.sigma) ** 2).sum(1)
    exact /= len(eig) * sd.sigma * np.sqrt(2 * np.pi)
    return {
        "N": len(eig),
        "P": len(x),
        "dense_s": t_dense,
        "top_s": t_top,
        "slq_s": t_slq,
        "top_rel_err": abs(top - eig[-1]) / abs(eig[-1]),
        "m1_exact": float(eig.mean()),
        "m1_slq": sd.moment(1),
        "m2_exact": float((eig**2).mean()),
        "m2_slq": sd.moment(2),
        "density_l1": float(np.trapezoid(np.abs(sd.density - exact), sd.grid)),
        "n_probes": n_probes,
        "steps": steps,
    }


def product_costs(net, x, y, repeats: int) -> list[dict]:
    params = list(net.parameters())
    named = {k: p.detach() for k, p in net.named_parameters()}
    v = torch.randn(sum(p.numel() for p in params), dtype=torch.float64)
    v_list = [t.contiguous() for t in unflatten(v, named).values()]

    def double_backward():
        loss = mse(net(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        return torch.cat([h.reshape(-1) for h in torch.autograd.grad(g, params, v_list)])

    def forward_over_reverse():
        def loss_of(w):
            return mse(torch.func.functional_call(net, w, (x,)), y)

        tangent = dict(zip(named, v_list, strict=True))
        return flatten(torch.func.jvp(torch.func.jacrev(loss_of), (named,), (tangent,))[1])

    op = hessian_operator(net, mse, (x, y))
    methods = {
        "double backward (baseline)": double_backward,
        "symscape hvp": lambda: hvp(net, mse, (x, y), v),
        "symscape operator.matvec": lambda: torch.as_tensor(op.matvec(v.numpy())),
        "torch.func jvp(jacrev)": forward_over_reverse,
    }
    try:
        from curvlinops import HessianLinearOperator

        H = HessianLinearOperator(
            net, torch.nn.MSELoss(), params, [(x, y)], check_deterministic=False
        )
        methods["curvlinops HessianLinearOperator"] = lambda: H @ v
    except ImportError:
        pass
    rows, base = [], None
    for name, fn in methods.items():
        seconds, out = timed(fn, repeats)
        if base is None:
            base, reference = seconds, out
        diff = float((out - reference).norm() / reference.norm())
        rows.append(
            {"method": name, "ms": 1e3 * seconds, "ratio": seconds / base, "rel_diff": diff}
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, kind, default, text in (
        ("--threads", int, 1, "torch threads"),
        ("--repeats", int, None, "timed products per method (default 50, --quick 20)"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=text)
    parser.add_argument("--quick", action="store_true", help="a smaller net and fewer repeats")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (20 if args.quick else 50)
    widths = (10, 32, 32, 1) if args.quick else (10, 64, 32, 1)
    P = 256 if args.quick else 512
    net, x, y = model_and_data(widths, P)
    print(f"threads={args.threads}, tanh MLP {widths}, float64, MSE over P={P} points")

    acc = accuracy(net, x, y, n_probes=10, steps=80 if args.quick else 100)
    print(f"\nN = {acc['N']}: dense (H + eigvalsh) against products")
    print(f"  {'':28}{'dense':>12}{'products':>12}{'ratio':>8}")
    print(
        f"  {'top eigenvalue, s':28}{acc['dense_s']:>12.2f}{acc['top_s']:>12.2f}"
        f"{acc['dense_s'] / acc['top_s']:>7.1f}x   rel. error {acc['top_rel_err']:.1e}"
    )
    print(
        f"  {'SLQ density, s':28}{acc['dense_s']:>12.2f}{acc['slq_s']:>12.2f}"
        f"{acc['dense_s'] / acc['slq_s']:>7.1f}x   ({acc['n_probes']} probes x "
        f"{acc['steps']} steps)"
    )
    print(f"  {'∫λρ (tr H / N)':28}{acc['m1_exact']:>12.4g}{acc['m1_slq']:>12.4g}")
    print(f"  {'∫λ²ρ (‖H‖²_F / N)':28}{acc['m2_exact']:>12.4g}{acc['m2_slq']:>12.4g}")
    print(f"  {'L1(ρ_SLQ, ρ_exact)':28}{'':>12}{acc['density_l1']:>12.3f}")

    rows = product_costs(net, x, y, repeats)
    print(f"\none Hessian-vector product (median of {repeats})")
    print(f"  {'method':36}{'ms':>9}{'ratio':>8}{'rel. diff':>11}")
    for r in rows:
        print(f"  {r['method']:36}{r['ms']:>9.2f}{r['ratio']:>7.2f}x{r['rel_diff']:>11.1e}")
    print(json.dumps({"benchmark": "curvature", "results": [acc, *rows]}))


if __name__ == "__main__":
    main()
