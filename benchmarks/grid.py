"""Overhead of `regbench grid` per trial (the leaderboard's: ``benchmarks/leaderboard_scale.py``).

1. The same tiny trials (``sphere``, n = 20, 5 steps, one seed each) run directly with
   ``runner.execute`` and through Ray Tune on a local Ray instance with ``--cpus`` CPUs (default 1,
   so that trials run one after another), records written to a temporary results store. Printed:
   median direct trial time, the grid's wall time per trial (Ray start excluded; Tune set-up and
   worker start-up amortised over the trials), their ratio, and the median record append.

    python benchmarks/grid.py [--trials 20] [--cpus 1]
"""
import argparse
import os
import statistics
import tempfile
import time

from regbench.cluster import ray_session
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--cpus", type=int, default=1)
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


if __name__ == "__main__":
    main()
