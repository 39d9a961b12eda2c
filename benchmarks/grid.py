"""Overhead of `regbench grid` per trial, and the leaderboard's build time.

1. The same tiny trials (``sphere``, n = 20, 5 steps, one seed each) run directly with
   ``runner.execute`` and through Ray Tune on a local Ray instance with ``--cpus`` CPUs (default 1,
   so that trials run one after another), records written to a temporary results store. Printed:
   median direct trial time, the grid's wall time per trial (Ray start excluded; Tune set-up and
   worker start-up amortised over the trials), their ratio, and the median record append.
2. The leaderboard (summary statistics with paired tests, markdown and CSV) of ``--records``
   synthetic records (default 100,000).

    python benchmarks/grid.py [--trials 20] [--cpus 1] [--records 100000]
"""
import argparse
import os
import random
import statistics
import tempfile
import time

from regbench.cluster import ray_session
from regbench.leaderboard import to_csv, to_markdown
from regbench.runner import execute, prepare
from regbench.store import ResultsStore


def trials(count: int):
    return [prepare("sphere", "eccentric", {"n": 20, "steps": 5}, seed) for seed in range(count)]


def direct_seconds(configs) -> float:
    times = []
    for config in configs:
        start = time.perf_counter()
        execute(config)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid_seconds(configs, cpus: int, directory: str) -> float:
    with ray_session(quiet=True, num_cpus=cpus, object_store_memory=100 * 2**20):
        from regbench.scheduler import run_grid
        start = time.perf_counter()
        run_grid(configs, store=ResultsStore(directory), name="bench", quiet=True,
                 resources={"cpu": 1, "gpu": 0})
        return (time.perf_counter() - start) / len(configs)


def append_seconds(record: dict, directory: str, repeats: int = 50) -> float:
    store, times = ResultsStore(directory), []
    for _ in range(repeats):
        start = time.perf_counter()
        store.append(record)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_records(count: int) -> list[dict]:
    """digits_ae records: 10 regularizers × 100 configurations × seeds, 5 metrics each."""
    rng = random.Random(0)
    regs = ["none", "eccentric", "mmd_imq", "coulomb", "mhe", "kl_gauss", "vmf", "r1", "r2", "r3"]
    return [{"task": "digits_ae", "reg": regs[i % 10], "seed": i // 1000, "status": "ok",
             "config_hash": f"{i:016x}", "task_params": {"d": 8, "lam": 10.0 ** -(i // 10 % 100)},
             "reg_params": {}, "metrics": {m: rng.random() for m in (
                 "test_mse", "val_mse", "cov_trace_per_d", "eccentricity", "knn_error")},
             "versions": {"git_commit": "x", "torch": "t"}, "device": "cpu", "host": "h"}
            for i in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    configs = trials(args.trials)
    direct = direct_seconds(configs)
    with tempfile.TemporaryDirectory() as directory:
        through_ray = grid_seconds(configs, args.cpus, directory)
        record = next(ResultsStore(directory).records())
        append = append_seconds(record, os.path.join(directory, "appends"))
    print(f"{args.trials} trials of sphere × eccentric (n=20, 5 steps), "
          f"{args.cpus} CPU(s) for Ray:")
    print(f"  direct execute: median {direct * 1e3:.1f} ms per trial")
    print(f"  regbench grid:  {through_ray * 1e3:.1f} ms per trial ({through_ray / direct:.1f}× "
          f"direct; harness overhead {(through_ray - direct) * 1e3:.1f} ms per trial)")
    print(f"  record append (flock + fsync): median {append * 1e3:.2f} ms")
    records = synthetic_records(args.records)
    for name, build in (("markdown", to_markdown), ("csv", to_csv)):
        start = time.perf_counter()
        text = build(records)
        seconds = time.perf_counter() - start
        print(f"leaderboard {name} of {len(records):,} records: {seconds:.2f} s "
              f"({len(text.splitlines()):,} lines)")


if __name__ == "__main__":
    main()
