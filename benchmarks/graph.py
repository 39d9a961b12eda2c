"""Seconds per training epoch of the graph tasks, and each regularizer's overhead over ``none``.

For every graph task whose Planetoid files are present (``$REGBENCH_DATA``), every target it exposes
and every regularizer acting on that target (``target=`` set for one that acts on several; λ the
task's default, resolved by ``regbench.runner.prepare`` as for ``regbench run``), the task runs
``--epochs`` epochs through ``Task.run``, i.e. the one training loop (``regbench.training.fit``);
an epoch's time is the gap between two of the loop's per-epoch reports (training step,
validation and model selection). Printed: the median, that of ``none`` (no term) run just before
it on the same task, and their ratio. All runs share this one process (on a busy machine,
``OMP_NUM_THREADS=1`` avoids the threads' contention):
    python benchmarks/graph.py [--epochs 20] [--device cpu] [--tasks cora_node cora_link]
"""
import argparse

from regbench import REGULARIZERS, create_task
from regbench.errors import RegbenchError
from timing import seconds_per_period

GRAPH_TASKS = ["cora_node", "citeseer_node", "pubmed_node", "cora_link", "citeseer_link", "pubmed_link"]


def seconds_per_epoch(task: str, reg: str, settings: dict, epochs: int, device: str) -> float:
    """Median seconds per epoch of ``task`` under ``reg`` for ``epochs`` epochs."""
    return seconds_per_period(task, reg, {**settings, "epochs": epochs}, device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tasks", nargs="+", default=GRAPH_TASKS)
    args = parser.parse_args()
    print(f"{'task':<14} {'target':<10} {'regularizer':<12} {'s/epoch':>9} {'none':>9} "
          f"{'ratio':>6}")
    for task in args.tasks:
        try:
            seconds_per_epoch(task, "none", {}, 2, args.device)
        except RegbenchError as exc:  # a dataset that is not there
            print(f"{task:<14} skipped: {exc}")
            continue
        for target in create_task(task).supports:
            for name in REGULARIZERS.names():
                cls = REGULARIZERS.get(name)
                if target not in cls.targets:  # none acts on nothing
                    continue
                settings = {"target": target} if "target" in cls.params() else {}
                base = seconds_per_epoch(task, "none", {}, args.epochs, args.device)
                seconds = seconds_per_epoch(task, name, settings, args.epochs, args.device)
                print(f"{task:<14} {target:<10} {name:<12} {seconds:>9.4f} {base:>9.4f} "
                      f"{seconds / base:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
