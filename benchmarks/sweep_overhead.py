"""Sweep machinery: per-run overhead of each executor, and what packing seeds saves.

Part 1 runs N trivial runs (the ``probe`` experiment, nothing to compute)
through ``symscape.sweep.run_sweep`` with each executor, into a fresh store
each time, and prints the wall time per run: spec expansion, store inserts,
scheduling, transport, serialisation and one committed transaction per run.
The executor's start-up (worker processes, a Ray instance) is timed on a
one-run sweep and reported apart.

Part 2 is a 64-seed sweep of small networks (one config, 64 seeds) three
ways, side by side: packed into one ensemble by the sweep (symscape), the
same runs unpacked (one computation per run, same pool), and the published
way: one ``python -m symscape train`` process per run, as many at once as
there are cores. The final test errors are checked equal across the three.

Part 3 is a search's pattern: K small sweeps one after another (one ensemble
each, MNIST-5k parity on 10 PCA components, as jamming's bisections train),
with the pool's workers kept warm between sweeps (symscape) against a fresh
pool per sweep (the baseline: spawn, import torch, parse the data set each
time). The stored results are checked equal.

    python benchmarks/sweep_overhead.py [--quick] [--runs 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from symscape.results import load
from symscape.sweep import parse_spec, run_sweep

NET = {
    "dataset": "random",
    "data": {"P": 100, "n_test": 200, "d": 10},
    "depth": 2,
    "width": 16.0,
    "dynamics": "sgd",
    "lr": 0.5,
    "max_steps": 300,
    "stop_when_fitted": False,
}


def probe_spec(runs: int) -> str:
    values = ", ".join(str(float(v)) for v in range(runs))
    return f'experiment = "probe"\n[grid]\nvalue = [{values}]\n'


def timed_sweep(text: str, folder: Path, name: str, executor: str, workers: int, **options):
    db = folder / f"{name}.db"
    started = time.perf_counter()
    report = run_sweep(
        parse_spec(text), db, executor=executor, workers=workers, executor_options=options
    )
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"{name}: {report.summary()} {report.failures[:1]}")
    return elapsed, db


def overhead(folder: Path, runs: int, workers: int) -> list[dict]:
    rows = []
    cases = [("inprocess", {}), ("pool", {})]
    try:
        import ray

        cases.append(("ray", {}))
    except ImportError:
        print("ray not installed: skipped (pip install 'symscape[ray]')")
    try:
        import submitit  # noqa: F401

        # one process per job: jobs of 50 runs, as one would on a cluster for tiny runs
        cases.append(("slurm", {"cluster": "local", "runs_per_job": max(1, runs // 20)}))
    except ImportError:
        print("submitit not installed: skipped (pip install 'symscape[slurm]')")
    for executor, options in cases:
        if executor == "ray":  # one instance for both sweeps; its start-up is timed apart
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            ray_start = time.perf_counter() - started
        startup, _ = timed_sweep(
            probe_spec(1), folder, f"start-{executor}", executor, workers, **options
        )
        if executor == "ray":
            startup += ray_start
        total, db = timed_sweep(
            probe_spec(runs), folder, f"runs-{executor}", executor, workers, **options
        )
        if executor == "ray":
            total += ray_start
            ray.shutdown()
        assert (load(db)["status"] == "done").sum() == runs
        row = {
            "executor": executor if executor != "slurm" else "submitit-local",
            "runs": runs,
            "total_s": total,
            "startup_s": startup,
            "ms_per_run": 1e3 * total / runs,
            "ms_per_run_after_startup": 1e3 * max(total - startup, 0.0) / runs,
        }
        rows.append(row)
        print(
            f"{row['executor']:>15}: {runs} runs in {total:6.2f} s = "
            f"{row['ms_per_run']:7.2f} ms/run"
            f" ({row['ms_per_run_after_startup']:6.2f} ms/run after {startup:.2f} s start-up)"
        )
    return rows


def seed_sweep(folder: Path, seeds: int, workers: int) -> dict:
    fixed = "\n".join(
        f"{k} = {json.dumps(v) if not isinstance(v, dict) else _inline(v)}" for k, v in NET.items()
    )
    text = f'experiment = "train"\nseeds = "0-{seeds - 1}"\n[fixed]\n{fixed}\n'
    packed_s, packed_db = timed_sweep(text, folder, "packed", "pool", workers)
    unpacked_s, unpacked_db = timed_sweep(
        text + "[pack]\nenabled = false\n", folder, "unpacked", "pool", workers
    )
    # the published way: one OS process per run, `workers` at a time
    started = time.perf_counter()
    errors = {}
    pending = list(range(seeds))
    running: list[tuple[int, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < workers:
            seed = pending.pop(0)
            running.append(
                (seed, subprocess.Popen(_train_command(seed), stdout=subprocess.PIPE, text=True))
            )
        seed, process = running.pop(0)
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"one-process run of seed {seed} failed")
        errors[seed] = json.loads(out)["final"]["test_error"][0]
    process_s = time.perf_counter() - started

    packed = load(packed_db).sort_values("seed")
    unpacked = load(unpacked_db).sort_values("seed")
    reference = np.array([errors[s] for s in range(seeds)])
    same = np.allclose(packed["final.test_error"], reference) and np.allclose(
        unpacked["final.test_error"], reference
    )
    row = {
        "seeds": seeds,
        "packed_s": packed_s,
        "unpacked_s": unpacked_s,
        "one_process_per_run_s": process_s,
        "speedup_vs_processes": process_s / packed_s,
        "speedup_vs_unpacked": unpacked_s / packed_s,
        "same_test_errors": bool(same),
    }
    print(
        f"{seeds}-seed sweep: packed {packed_s:.2f} s, unpacked {unpacked_s:.2f} s, one process "
        f"per run {process_s:.2f} s -> packing is {row['speedup_vs_processes']:.1f}x faster than "
        f"one process per run, {row['speedup_vs_unpacked']:.1f}x faster than unpacked; "
        f"same test errors: {same}"
    )
    return row


def successive_sweeps(folder: Path, sweeps: int, workers: int) -> dict:
    from symscape.sweep.executors import local

    def spec(i: int) -> str:
        return (
            'experiment = "train"\nseeds = [0, 1]\n[fixed]\ndataset = "mnist-5k"\n'
            'data = { P = 40, n_test = 10, labels = "parity", pca = 10 }\n'
            f"depth = 2\nwidth = {2.0 + i}\nmax_steps = 200\n"
        )

    times = {}
    for name, warm in (("fresh", False), ("warm", True)):
        local._stop_warm()
        started = time.perf_counter()
        for i in range(sweeps):
            if not warm:
                local._stop_warm()  # the baseline: no worker outlives its sweep
            timed_sweep(spec(i), folder, f"successive-{name}", "pool", workers)
        times[name] = time.perf_counter() - started
    local._stop_warm()
    fresh = load(folder / "successive-fresh.db").sort_values("key")
    warm = load(folder / "successive-warm.db").sort_values("key")
    same = bool(np.array_equal(fresh["final.test_error"], warm["final.test_error"]))
    row = {
        "sweeps": sweeps,
        "fresh_pool_s": times["fresh"],
        "warm_pool_s": times["warm"],
        "speedup": times["fresh"] / times["warm"],
        "same_results": same,
    }
    print(
        f"{sweeps} successive sweeps: a fresh pool each {times['fresh']:.2f} s, warm workers "
        f"{times['warm']:.2f} s -> {row['speedup']:.1f}x faster "
        f"({1e3 * (times['fresh'] - times['warm']) / sweeps:.0f} ms saved per sweep); "
        f"same results: {same}"
    )
    return row


def _inline(table: dict) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def _train_command(seed: int) -> list[str]:
    command = [sys.executable, "-m", "symscape", "train", "--json", "--seeds", str(seed)]
    command += ["--dataset", NET["dataset"]]
    for key, value in NET["data"].items():
        command += [f"--{key.replace('_', '-')}" if key != "P" else "--P", str(value)]
    for key, value in NET.items():
        if key in ("dataset", "data"):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            command.append(flag if value else f"--no-{key.replace('_', '-')}")
        else:
            command += [flag, str(value)]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--sweeps", type=int, default=12, help="successive sweeps (part 3)")
    parser.add_argument("--quick", action="store_true", help="200 runs, 16 seeds, 6 sweeps")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seeds, args.sweeps = 200, 16, 6
    with tempfile.TemporaryDirectory() as folder:
        rows = overhead(Path(folder), args.runs, args.workers)
        packing = seed_sweep(Path(folder), args.seeds, args.workers)
        successive = successive_sweeps(Path(folder), args.sweeps, args.workers)
    print(
        json.dumps(
            {
                "benchmark": "sweep_overhead",
                "results": rows,
                "packing": packing,
                "successive": successive,
            }
        )
    )


if __name__ == "__main__":
    main()
