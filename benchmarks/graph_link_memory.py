"""Peak memory and seconds per epoch of the link tasks under recon=sampled and recon=full.

For cora_link, citeseer_link and pubmed_link (those whose Planetoid files are in ``$REGBENCH_DATA``)
and recon ∈ {sampled, full}, each in a fresh interpreter on one thread: ``--epochs`` epochs of
``Task.run`` under ``--reg`` (the one training loop: training step, validation, model selection;
λ and the rest as ``regbench run`` resolves them). Printed: the peak resident set size of that
interpreter (``ru_maxrss``: imports, data, model and training) and the median seconds between the
loop's per-epoch reports. Beside full stands ``dense``: the full loss as it was before, on N × N
matrices (``dense_full_loss`` below), for Cora and CiteSeer, and for PubMed with
``--dense-pubmed`` if its N × N matrices fit in the available memory. Goal: pubmed_link under
4 GiB with recon=full.

    OMP_NUM_THREADS=1 python benchmarks/graph_link_memory.py [--epochs 5] [--reg none] [--dense-pubmed]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

GOAL_MIB = 4096
DENSE_COPIES = 6  # N × N float32 matrices the dense loss held (A + I, z zᵀ, the terms, gradients)
LINK_TASKS = ["cora_link", "citeseer_link", "pubmed_link"]


def dense_full_loss(task, model, z):
    """The full loss before it ran in blocks: tkipf/gae's weighted cross-entropy on the N × N
    matrices of A + I and the logits s·z zᵀ, with each node's share (its row and column)."""
    import torch
    import torch.nn.functional as F
    if not hasattr(task, "dense_adjacency"):
        i, j = task.adjacency
        task.dense_adjacency = torch.eye(task.n, device=z.device)
        task.dense_adjacency[i, j] = task.dense_adjacency[j, i] = 1
    n2, edges = task.n ** 2, task.dense_adjacency.sum()
    terms = F.binary_cross_entropy_with_logits(model.decoder.scale * (z @ z.T),
                                               task.dense_adjacency, reduction="none",
                                               pos_weight=(n2 - edges) / edges)
    norm = n2 / (2 * (n2 - edges))

    def per_node():
        return norm / n2 * (terms.sum(0) + terms.sum(1) - terms.diagonal()).detach()
    return norm * terms.mean(), per_node


def measure(task: str, recon: str, reg: str, epochs: int) -> None:
    """Train ``task`` under ``reg`` (``recon``: sampled, full or dense); prints the peak RSS
    (bytes) and the median seconds per epoch."""
    import torch

    from regbench import REGULARIZERS, TASKS
    from regbench.runner import prepare
    from regbench.tasks._base import RunContext

    torch.set_num_threads(1)
    config = prepare(task, reg, {"epochs": epochs, "recon": "full" if recon == "dense" else recon})
    instance = TASKS.get(task)(**config.task_params)
    if recon == "dense":
        instance.full_loss = lambda model, z: dense_full_loss(instance, model, z)
    stamps = []
    ctx = RunContext(seed=0, quiet=True,
                     report=lambda step, metrics: stamps.append(time.perf_counter()))
    instance.run(REGULARIZERS.get(reg)(**config.reg_params), ctx)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(peak, statistics.median(b - a for a, b in zip(stamps, stamps[1:])))


def in_subprocess(task: str, recon: str, reg: str, epochs: int) -> str:
    """``measure`` in a fresh interpreter (one thread), as "MiB  s/epoch", or why it failed."""
    command = [sys.executable, __file__, "--measure", task, recon, "--reg", reg,
               "--epochs", str(epochs)]
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode:
        return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    peak, seconds = map(float, done.stdout.split())
    return f"{peak / 2 ** 20:8.0f} MiB {seconds:8.3f} s"


def dense_fits(task: str) -> bool:
    """Whether the dense loss's N × N matrices fit in 90 % of the available memory."""
    import psutil

    from regbench import TASKS
    from regbench.tasks.gcn_node import SIZES
    nodes = SIZES[TASKS.get(task).dataset][0]
    return DENSE_COPIES * 4 * nodes ** 2 < 0.9 * psutil.virtual_memory().available


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--reg", default="none")
    parser.add_argument("--dense-pubmed", action="store_true",
                        help="also run the dense full loss on PubMed (9 GB of N × N matrices)")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # internal: TASK RECON
    args = parser.parse_args()
    if args.measure:
        return measure(*args.measure, args.reg, args.epochs)

    print(f"peak RSS and median s/epoch over {args.epochs} epochs, reg={args.reg}, one thread, "
          f"CPU; goal: pubmed_link full < {GOAL_MIB} MiB")
    print(f"{'task':<14} {'sampled':>21} {'full (blockwise)':>21} {'dense full (before)':>21}")
    for task in LINK_TASKS:
        row = [in_subprocess(task, recon, args.reg, args.epochs) for recon in ("sampled", "full")]
        dense = task != "pubmed_link" or args.dense_pubmed
        row.append(in_subprocess(task, "dense", args.reg, args.epochs) if dense and dense_fits(task)
                   else "not run" if not dense else "does not fit")
        print(f"{task:<14} " + " ".join(f"{cell:>21}" for cell in row), flush=True)


if __name__ == "__main__":
    main()
