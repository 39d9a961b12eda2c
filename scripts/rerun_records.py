"""Re-run recorded runs and compare their metrics with the record: does a store still reproduce?

    python scripts/rerun_records.py results/graph_link --seed 0-9 [--config KEY] [--reg vmf]
                                    [--task T] [--tol 0.05]

Each selected ok record (the latest of each run) is executed again on one thread, as a grid
trial runs, from its task, regularizer, hyperparameters and seed. On the platform it was recorded
on (the same CPU model, instruction set, BLAS, torch and thread count) it must give every scalar
metric exactly. On another (or one the record does not name) the BLAS kernels round differently
and training amplifies the last bits, so the task's declared metrics must agree within ``--tol``,
as |Δ| / max(1, |recorded|). Prints per run the largest difference; per configuration with
several seeds re-run, the seeds' mean and standard deviation, recorded and re-run. Exit status 1
when a run fails or differs by more than allowed.
"""
import argparse
import math
import statistics
import sys

import torch

from regbench.registry import REGULARIZERS  # noqa: F401  (built-ins registered on first lookup)
from regbench.record import RunConfig, hardware, versions
from regbench.runner import execute
from regbench.store import ResultsStore

TIMINGS = ("train_time_s", "wall_time_s")  # scalars of older records that are not results


def seeds(text: str) -> set[int]:
    """``0``, ``0,3`` or ``0-9``."""
    found = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return found


def same_platform(record: dict, here: dict) -> bool:
    """Whether ``record`` ran on this platform: its hardware and torch are ``here``'s."""
    return record.get("hardware") == here["hardware"] and \
        (record.get("versions") or {}).get("torch") == here["torch"]


def largest_difference(recorded: dict, rerun: dict, names, relative: bool) -> tuple[float, str]:
    """The largest |Δ| (or |Δ| / max(1, |recorded|)) over ``names`` and where it occurs."""
    worst, where = 0.0, ""
    for name in names:
        value = recorded[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        other = rerun.get(name)
        if not isinstance(other, (int, float)):
            return math.inf, f"{name} (missing)"
        gap = 0.0 if (math.isnan(value) and math.isnan(other)) else abs(value - other)
        gap = gap / max(1.0, abs(value)) if relative else gap
        if gap > worst or math.isnan(gap):
            worst, where = gap, name
    return worst, where


def seed_spread(pairs: list[tuple[float, float]]) -> str:
    """Recorded and re-run mean ± std over seeds, and |Δ| of the means in seeds' stds."""
    recorded, rerun = zip(*pairs)
    std = statistics.stdev(recorded)
    gap = abs(statistics.fmean(recorded) - statistics.fmean(rerun))
    per_seed = sorted(abs(a - b) for a, b in pairs)
    return (f"mean {statistics.fmean(recorded):.6f} ± {std:.6f} recorded, "
            f"{statistics.fmean(rerun):.6f} ± {statistics.stdev(rerun):.6f} re-run; "
            f"|Δ mean| {gap:.2g} ({gap / std if std else math.inf:.2f} std); per seed |Δ| median "
            f"{statistics.median(per_seed):.2g}, max {per_seed[-1]:.2g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--seed", type=seeds, default={0}, help="0, 0,3 or 0-9")
    parser.add_argument("--config", default="", help="config keys, comma-separated")
    parser.add_argument("--reg", default="")
    parser.add_argument("--task", default="")
    parser.add_argument("--tol", type=float, default=0.05,
                        help="relative tolerance of the declared metrics on another platform")
    args = parser.parse_args(argv)
    chosen = [set(filter(None, text.split(","))) for text in (args.reg, args.task, args.config)]
    latest = {}
    for record in ResultsStore(args.store).records():
        if record["status"] == "ok" and record["seed"] in args.seed and all(
                not wanted or record[field] in wanted
                for field, wanted in zip(("reg", "task", "config_key"), chosen)):
            latest[record["run_key"]] = record
    torch.set_num_threads(1)
    here = {"hardware": hardware(), "torch": versions()["torch"]}
    failed, by_config = 0, {}
    for record in sorted(latest.values(), key=lambda r: (r["config_key"], r["seed"])):
        config = RunConfig(record["task"], record["reg"], record["task_params"], record["reg_params"],
                           record["seed"])
        rerun = execute(config)
        exact = same_platform(record, here)
        names = [name for name in record["metrics"] if name not in TIMINGS] if exact else \
            [name for name, _ in record["directions"] if name in record["metrics"]]
        gap, where = largest_difference(record["metrics"], rerun["metrics"], names, not exact)
        failed += gap > (0.0 if exact else args.tol) or rerun["status"] != "ok"
        compared = "exact (same platform)" if exact else \
            f"declared metrics, relative, tol {args.tol:g} ({_platform(record)})"
        print(f"{record['task']:14} {record['reg']:10} {config.config_key}  seed {record['seed']}  "
              f"{rerun['status']}  largest |Δ| {gap:.3g} ({where or '-'}); {compared}", flush=True)
        if rerun["status"] == "ok":
            for name, _ in record["directions"]:
                if isinstance(record["metrics"].get(name), (int, float)):
                    by_config.setdefault((config.config_key, name), []).append(
                        (record["metrics"][name], rerun["metrics"][name]))
    for (config_key, name), pairs in by_config.items():
        if len(pairs) > 2:
            print(f"{config_key} {name}, {len(pairs)} seeds: {seed_spread(pairs)}")
    print(f"{len(latest)} runs re-run on {here['hardware']['cpu']} ({here['hardware']['isa']}, "
          f"{here['hardware']['blas']}, torch {here['torch']}), {failed} differ by more than allowed")
    return 1 if failed else 0


def _platform(record: dict) -> str:
    found = record.get("hardware")
    return f"recorded on {found['cpu']}, {found['isa']}, {found['blas']}" if found else \
        "the record names no CPU"


if __name__ == "__main__":
    sys.exit(main())
