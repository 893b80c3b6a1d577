"""The jamming minimiser against the published protocol: evaluations and time to a decision.

Both minimise the quadratic hinge loss of the same networks (same data,
same initial weights, float64, members of one ensemble batched together):

* the published protocol (SCIENCE.md §1): full-batch Adam, lr 1e-4 divided
  by 10 every 250k steps (floor 1e-7); a member stops when N_Δ = 0
  (*fitted*) or when its loss stops moving (*plateau*: a relative decrease
  below ``--plateau-tol`` over ``--plateau-window`` steps; called jammed);
* symscape's ``dynamics="lbfgs"``: batched L-BFGS with a per-member line
  search, which stops a member when N_Δ = 0 or when it has stalled at a
  minimum with N_Δ > 0 (*jammed*).

Printed per network: each method's decision (fitted / jammed / undecided
at the step budget), gradient evaluations and final N_Δ; then, per width,
the fraction of nets each method fitted and their mean N_Δ (what N* is
computed from); then the total evaluations and wall time of each method and
their ratios, and on how many networks the decisions agree.

Near the transition a ReLU net's outcome depends on the path, not only on
the net: two dynamics from the same initial weights can reach different
minima (one fitted, one jammed), and a gentler L-BFGS (shorter steps)
changes which nets differ, not how many. The per-width fractions are the
comparison that decides N*.

    python benchmarks/jamming_minimiser.py [--quick] [--activation relu swish]
"""

from __future__ import annotations

import argparse
import json
import time

from symscape.train import TrainConfig, train


def decide(status: str) -> str:
    return {"fitted": "fitted", "jammed": "jammed", "plateau": "jammed"}.get(status, "undecided")


def run(args, activation: str, width: float) -> list[dict]:
    base = dict(
        dataset="random",
        data={"P": args.P, "n_test": 10, "d": args.d},
        depth=args.depth,
        width=width,
        activation=activation,
        seeds=tuple(range(args.seeds)),
        record_points=10,
    )
    started = time.perf_counter()
    fast = train(TrainConfig(**base, dynamics="lbfgs", max_steps=args.lbfgs_steps))
    fast_time = time.perf_counter() - started
    started = time.perf_counter()
    slow = train(
        TrainConfig(
            **base,
            dynamics="adam",
            lr=1e-4,
            decay_every=250_000,
            lr_min=1e-7,
            max_steps=args.adam_steps,
            plateau_window=args.plateau_window,
            plateau_tol=args.plateau_tol,
        )
    )
    slow_time = time.perf_counter() - started
    rows = []
    for i, seed in enumerate(base["seeds"]):
        rows.append(
            {
                "activation": activation,
                "width": width,
                "N": fast["n_weights"],
                "seed": seed,
                "lbfgs": decide(fast["status"][i]),
                "lbfgs_evaluations": int(fast["stop_step"][i]) + 1,
                "lbfgs_n_delta": fast["final"]["n_delta"][i],
                "adam": decide(slow["status"][i]),
                "adam_evaluations": int(slow["stop_step"][i]) + 1,
                "adam_n_delta": slow["final"]["n_delta"][i],
                # an ensemble's wall time, shared out evenly among its members
                "lbfgs_s": fast_time / len(base["seeds"]),
                "adam_s": slow_time / len(base["seeds"]),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--P", type=int, default=100)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--widths", type=float, nargs="+", default=[2.0, 3.0, 4.0, 8.0])
    parser.add_argument("--activation", nargs="+", default=["swish", "relu"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--lbfgs-steps", type=int, default=50_000)
    parser.add_argument("--adam-steps", type=int, default=600_000)
    parser.add_argument("--plateau-window", type=int, default=20_000)
    parser.add_argument("--plateau-tol", type=float, default=1e-3)
    parser.add_argument("--quick", action="store_true", help="swish, widths 3 and 8, 2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.widths, args.activation, args.seeds = [3.0, 8.0], ["swish"], 2
        args.adam_steps = 200_000
    rows = []
    for activation in args.activation:
        for width in args.widths:
            for row in run(args, activation, width):
                rows.append(row)
                agree = "same" if row["lbfgs"] == row["adam"] else "DIFFERENT"
                print(
                    f"{activation:>6} h={width:<4g} N={row['N']:<4} seed {row['seed']}: "
                    f"lbfgs {row['lbfgs']:>9} in {row['lbfgs_evaluations']:>6} evaluations "
                    f"(N_Δ={row['lbfgs_n_delta']:>3}), adam {row['adam']:>9} in "
                    f"{row['adam_evaluations']:>7} (N_Δ={row['adam_n_delta']:>3})  {agree}",
                    flush=True,
                )
    widths = sorted({(r["activation"], r["width"]) for r in rows})
    for activation, width in widths:
        group = [r for r in rows if (r["activation"], r["width"]) == (activation, width)]
        share = {m: sum(r[m] == "fitted" for r in group) / len(group) for m in ("lbfgs", "adam")}
        mean = {m: sum(r[f"{m}_n_delta"] for r in group) / len(group) for m in ("lbfgs", "adam")}
        print(
            f"{activation:>6} h={width:<4g}: fitted L-BFGS {share['lbfgs']:.2f}, Adam "
            f"{share['adam']:.2f}; mean N_Δ L-BFGS {mean['lbfgs']:.1f}, Adam {mean['adam']:.1f}"
        )
    fast_evals = sum(r["lbfgs_evaluations"] for r in rows)
    slow_evals = sum(r["adam_evaluations"] for r in rows)
    fast_s = sum(r["lbfgs_s"] for r in rows)
    slow_s = sum(r["adam_s"] for r in rows)
    same = sum(r["lbfgs"] == r["adam"] for r in rows)
    summary = {
        "networks": len(rows),
        "same_decision": same,
        "lbfgs_evaluations": fast_evals,
        "adam_evaluations": slow_evals,
        "evaluation_ratio": slow_evals / fast_evals,
        "lbfgs_s": fast_s,
        "adam_s": slow_s,
        "time_ratio": slow_s / fast_s,
    }
    print(
        f"total: L-BFGS {fast_evals} evaluations in {fast_s:.1f} s, Adam protocol {slow_evals} "
        f"in {slow_s:.1f} s -> {summary['evaluation_ratio']:.0f}x fewer evaluations, "
        f"{summary['time_ratio']:.0f}x less time; same decision on {same}/{len(rows)} networks"
    )
    print(json.dumps({"benchmark": "jamming_minimiser", "results": rows, "summary": summary}))


if __name__ == "__main__":
    main()
