"""Seconds per training epoch of the graph tasks, and each regularizer's overhead over ``none``.

For every graph task whose Planetoid files are present (``$REGBENCH_DATA``), every target it exposes
and every regularizer acting on that target, the task runs ``--epochs`` epochs; an epoch's time is
the gap between two of the task's per-epoch reports (training step and validation). Printed: the
median, that of ``none`` run just before it on the same task (on weights for a posterior), and their
ratio. All runs share this one process (on a busy machine, ``OMP_NUM_THREADS=1`` avoids the
threads' contention):
    python benchmarks/graph.py [--epochs 20] [--device cpu] [--tasks cora_node cora_link]
"""
import argparse
import statistics
import time

import torch

from regbench import REGULARIZERS, WEIGHTS, create_regularizer, create_task
from regbench.errors import RegbenchError
from regbench.tasks._base import RunContext

TASKS = ["cora_node", "citeseer_node", "pubmed_node", "cora_link", "citeseer_link", "pubmed_link"]


def seconds_per_epoch(task: str, reg: str, target: str, epochs: int, device: str) -> float:
    stamps = []
    ctx = RunContext(seed=0, device=torch.device(device), quiet=True,
                     report=lambda step, metrics: stamps.append(time.perf_counter()))
    create_task(task, epochs=epochs, target=target).run(create_regularizer(reg).to(device), ctx)
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    args = parser.parse_args()
    print(f"{'task':<14} {'target':<10} {'regularizer':<12} {'s/epoch':>9} {'none':>9} "
          f"{'ratio':>6}")
    for task in args.tasks:
        try:
            seconds_per_epoch(task, "none", WEIGHTS, 2, args.device)
        except RegbenchError as exc:  # a dataset that is not there
            print(f"{task:<14} skipped: {exc}")
            continue
        for target in create_task(task).supports:
            base_target = target if target in REGULARIZERS.get("none").targets else WEIGHTS
            for name in REGULARIZERS.names():
                if name == "none" or target not in REGULARIZERS.get(name).targets:
                    continue
                base = seconds_per_epoch(task, "none", base_target, args.epochs, args.device)
                seconds = seconds_per_epoch(task, name, target, args.epochs, args.device)
                print(f"{task:<14} {target:<10} {name:<12} {seconds:>9.4f} {base:>9.4f} "
                      f"{seconds / base:>6.2f}", flush=True)

if __name__ == "__main__":
    main()
