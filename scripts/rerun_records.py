"""Re-run recorded runs and compare their metrics with the record: does a store still reproduce?

    python scripts/rerun_records.py results/digits_latent --seed 0 [--reg eccentric,none] [--task T]

Each selected ok record (the latest of each run) is executed again from its task, regularizer,
hyperparameters and seed; prints, per run, the largest absolute difference over its scalar metrics
and the metric where it occurs. Exit status 1 when any differs by more than ``--tol``.
"""
import argparse
import math
import sys

from regbench.registry import REGULARIZERS  # noqa: F401  (built-ins registered on first lookup)
from regbench.record import RunConfig
from regbench.runner import execute
from regbench.store import ResultsStore


def largest_difference(recorded: dict, rerun: dict) -> tuple[float, str]:
    worst, where = 0.0, ""
    for name, value in recorded.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        other = rerun.get(name)
        if not isinstance(other, (int, float)):
            return math.inf, f"{name} (missing)"
        gap = 0.0 if (math.isnan(value) and math.isnan(other)) else abs(value - other)
        if gap > worst or math.isnan(gap):
            worst, where = gap, name
    return worst, where


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reg", default="")
    parser.add_argument("--task", default="")
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    regs, tasks = set(filter(None, args.reg.split(","))), set(filter(None, args.task.split(",")))
    latest = {}
    for record in ResultsStore(args.store).records():
        if record["status"] == "ok" and record["seed"] == args.seed and \
                (not regs or record["reg"] in regs) and (not tasks or record["task"] in tasks):
            latest[record["run_key"]] = record
    failed = 0
    for record in latest.values():
        config = RunConfig(record["task"], record["reg"], record["task_params"], record["reg_params"],
                           record["seed"])
        rerun = execute(config)
        gap, where = largest_difference(record["metrics"], rerun["metrics"])
        failed += gap > args.tol or rerun["status"] != "ok"
        print(f"{record['task']:14} {record['reg']:10} {config.config_key}  seed {record['seed']}  "
              f"{rerun['status']}  largest |Δ| {gap:.3g} ({where or '-'})", flush=True)
    print(f"{len(latest)} runs re-run, {failed} differ by more than {args.tol:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
