"""The suite's overhead: how much of ``regbench suite``'s wall time is spent outside its trials
(Ray's start, scheduling, recording, the choice, the leaderboards and the report), beside the same
trials run directly one after the other in one process (``runner.execute``).

A small suite (the digits autoencoder and MLP, free points on the sphere; 3 factors, 1 selection seed,
4 evaluation seeds) runs in a fresh store; printed: its wall time, the trials' own wall times
summed (``wall_time_s`` of the records) and divided by the trials at once, the share of the suite's
time outside trials, and the direct run's time. Goal: < 5 % outside trials on a suite of hours;
a suite of a minute pays Ray's start (a few seconds) in full, so ``--scale`` lengthens every trial:

    OMP_NUM_THREADS=1 python benchmarks/suite_overhead.py [--scale 1]

A suite already run (``--recorded STORE START END``, the driver's start and end in ISO 8601) is
measured from its store instead: its trials are the records started in between, run ``--at-once``
at a time (the machine's count by default):

    python benchmarks/suite_overhead.py --recorded results/suite_cpu 2026-12-07T08:54:53+00:00 2026-12-07T10:18:18+00:00
"""
import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

from regbench.runner import execute, prepare
from regbench.store import ResultsStore
from regbench.suite import load_suite, workers
from regbench.suite_run import run_suite

SUITE = """
[suite]
name = "overhead"
factors = [0.1, 1.0, 10.0]
selection_seeds = [100]
evaluation_seeds = 4

[family.codes]
regularizers = ["none", "eccentric", "uniformity"]
coefficients = ["lam"]
tasks = ["digits_ae"]
sanity = ["sphere"]

[family.weights]
regularizers = ["none", "orthogonal", "mhs"]
coefficients = ["lam_hidden", "lam_final"]
tasks = ["digits_mlp"]

[task.sphere]
metric = "norm_std"
params = {{ n = 200, steps = {steps} }}

[task.digits_ae]
metric = "test_mse"
select = "val_mse"
params = {{ epochs = {epochs}, figures = false }}

[task.digits_mlp]
metric = "test_error"
select = "val_error"
params = {{ epochs = {epochs} }}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every trial's length")
    parser.add_argument("--recorded", nargs=3, metavar=("STORE", "START", "END"),
                        help="measure a suite run already made, from its store")
    parser.add_argument("--at-once", type=int, default=workers({"cpu": 1, "gpu": 0}),
                        help="trials the recorded run ran at once")
    args = parser.parse_args()
    if args.recorded:
        store, start, end = args.recorded
        start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
        records = [r for r in map(json.loads, Path(store, "records.jsonl").read_text().splitlines())
                   if start <= datetime.fromisoformat(r["started_at"]) <= end]
        overhead(records, (end - start).total_seconds(), args.at_once)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "suite.toml")
        path.write_text(SUITE.format(steps=int(300 * args.scale), epochs=max(1, int(30 * args.scale))))
        suite = load_suite(path)
        store = ResultsStore(Path(tmp, "store"))
        started = time.perf_counter()
        run_suite(suite, store)
        suite_wall = time.perf_counter() - started
        records = [json.loads(line) for line in store.path.read_text().splitlines()]
        started = time.perf_counter()
        for record in records:  # the same trials, directly
            execute(prepare(record["task"], record["reg"], {
                **{f"task.{k}": v for k, v in record["task_params"].items()},
                **{f"reg.{k}": v for k, v in record["reg_params"].items()}}, record["seed"]))
        direct = time.perf_counter() - started
    overhead(records, suite_wall, workers(suite.resources))
    print(f"the trials run directly    {direct:8.1f} s  (one after the other, one process)")


def overhead(records: list[dict], suite_wall: float, parallel: int) -> None:
    """Print the suite's wall time against its trials' own (their ``wall_time_s``, ``parallel`` at once)."""
    inside = sum(r["wall_time_s"] for r in records) / parallel
    print(f"{len(records)} trials, {parallel} at once")
    print(f"suite wall time            {suite_wall:8.1f} s")
    print(f"trials' own time / {parallel}       {inside:8.1f} s")
    print(f"outside trials             {suite_wall - inside:8.1f} s  "
          f"({100 * (suite_wall - inside) / suite_wall:.1f} % of the suite)")


if __name__ == "__main__":
    main()
