"""Step time of the one training loop (``regbench.training.fit``) against the per-task loops it replaced.

Old: the ``regbench`` package of git revision ``--old`` (default 402c671, the last with a loop per
task), exported to a temporary directory; new: this working tree's package as it is. Each
measurement is a fresh interpreter (``PYTHONPATH`` = one package or the other,
``torch.set_num_threads(1)``, CPU, the environment passed through) that trains the task's run
twice through ``regbench.runner.prepare`` / ``execute`` (default hyperparameters but the length and
options only evaluation reads, below; status ``ok`` required) and keeps the faster run.

Only training is timed, not data loading, set-up or evaluation: a global optimiser hook stamps the
end of every optimiser step, and a step's time is the mean from the end of the first epoch (the
first tenth of the run for sphere) to the end of the last step: whole epochs of all the loop does
between steps (batch, forward, the regularizer's term, backward, divergence check, optimiser step,
and at each epoch's end validation, model selection and report). It is CPU time of the worker
(``time.process_time``; with one thread, the wall time on an idle machine), because other processes
on a shared machine stretch wall time by up to 2× at random; the ratio of wall times is printed
beside it as a check. Both versions take the same steps (checked).

    sphere      eccentric, n=500, d=16, 250 full-batch steps
    digits_ae   eccentric, 15 epochs of 13 minibatches of 100, validation after each (no alignment
                codes or layer diagnostics, which only evaluation computes)
    cora_node   mhe on the weights, 40 full-batch epochs, validation and model selection after each

Old and new alternate for ``--rounds`` rounds (the order flips every round). Printed: the median
CPU ms per step of each, their ratio new / old (goal ≤ 1.02), the ratio of the median wall times,
and each side's median peak RSS of a worker (``ru_maxrss``: interpreter, torch and the runs). Cora
needs ``$REGBENCH_DATA/planetoid/Cora/raw/`` (``$REGBENCH_DATA`` defaults to ``../shared/data`` next
to the repository when that exists); without it cora_node is skipped. About 4 minutes on 2 cores.

    python benchmarks/training_loop.py [--rounds 5] [--tasks sphere digits_ae cora_node]
                                       [--old 402c671] [-v]
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL = 1.02
# task: (regularizer, settings: the run's length and what leaves training alone)
TASKS = {
    "sphere": ("eccentric", {"n": 500, "d": 16, "steps": 250}),
    "digits_ae": ("eccentric", {"epochs": 15, "align_samples": 0, "layer_geometry": False}),
    "cora_node": ("mhe", {"epochs": 40}),
}
RUNS = 2  # runs per worker, the fastest counts (load from other processes only adds time)


def export(rev: str, directory: str) -> Path:
    """The ``regbench`` package of git revision ``rev``, extracted into ``directory``."""
    archive = subprocess.run(["git", "archive", rev, "regbench"], cwd=REPO, check=True,
                             capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(directory, filter="data")
    return Path(directory)


def worker(task: str) -> None:
    """Time ``task`` with the ``regbench`` on the path; one JSON line on stdout."""
    import resource

    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.set_num_threads(1)
    import regbench
    from regbench.runner import execute, prepare

    reg, settings = TASKS[task]
    stamps = []  # (CPU seconds of the process, wall seconds) at the end of every optimiser step
    register_optimizer_step_post_hook(lambda *_: stamps.append((time.process_time(), time.perf_counter())))
    config = prepare(task, reg, settings, 0)
    cpu, wall = [], []
    for _ in range(RUNS):
        stamps.clear()
        record = execute(config, device="cpu", quiet=True)
        if record["status"] != "ok":
            raise SystemExit(f"{task}: {record['status']}: {record['error']}")
        # from the end of the first epoch (or tenth of the run) to the end of the last step: whole
        # epochs, each with its validation (the last epoch's comes after the last stamp)
        window = len(stamps) // settings["epochs"] if "epochs" in settings else len(stamps) // 10
        (cpu_first, wall_first), (cpu_last, wall_last) = stamps[window - 1], stamps[-1]
        cpu.append((cpu_last - cpu_first) / (len(stamps) - window))
        wall.append((wall_last - wall_first) / (len(stamps) - window))
    print(json.dumps({"cpu_ms": 1e3 * min(cpu), "wall_ms": 1e3 * min(wall), "steps": len(stamps),
                      "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "package": str(Path(regbench.__file__).parent.parent)}))


def measure(task: str, tree: Path) -> dict:
    """One worker's result for ``task`` on the package in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--worker", task], env=env, cwd=tree,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{task} on {tree}: worker failed\n{done.stderr[-3000:]}{done.stdout[-1000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["package"]).resolve() != tree.resolve():
        raise SystemExit(f"{task}: the worker imported regbench from {result['package']}, not {tree}")
    return result


def cora_raw() -> Path:
    """Where the workers look for Cora's raw files (as ``regbench.settings.data_dir``)."""
    home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    data = os.environ.get("REGBENCH_DATA") or Path(home) / "regbench" / "data"
    return Path(data).expanduser() / "planetoid" / "Cora" / "raw"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating old/new measurements")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--old", default="402c671", metavar="REV", help="git revision of the old loops")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every worker's result")
    parser.add_argument("--worker", choices=list(TASKS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    if not os.environ.get("REGBENCH_DATA") and (REPO.parent / "shared" / "data").is_dir():
        os.environ["REGBENCH_DATA"] = str(REPO.parent / "shared" / "data")
    tasks = list(args.tasks)
    if "cora_node" in tasks and not cora_raw().is_dir():
        print(f"cora_node skipped: no {cora_raw()}/ (set $REGBENCH_DATA)")
        tasks.remove("cora_node")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        trees = {"old": export(args.old, directory), "new": REPO}
        results = {(task, side): [] for task in tasks for side in trees}
        for round_ in range(args.rounds):
            for task in tasks:
                for side in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                    results[task, side].append(measure(task, trees[side]))
                    if args.verbose:
                        r = results[task, side][-1]
                        print(f"round {round_ + 1} {task:<10} {side}: {r['cpu_ms']:.3f} CPU ms/step, "
                              f"{r['wall_ms']:.3f} wall ms/step, {r['maxrss_mib']:.0f} MiB", flush=True)
    print(f"training step time (CPU time of a 1-thread worker), new loop (this tree) / old loops "
          f"({args.old}); "
          f"medians of {args.rounds} alternating rounds, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, {time.perf_counter() - started:.0f} s")
    print(f"{'task':<11} {'steps':>6} {'old ms/step':>12} {'new ms/step':>12} {'ratio':>6} "
          f"{'wall ratio':>10} {'old RSS MiB':>12} {'new RSS MiB':>12}")
    worst = 0.0
    for task in tasks:
        steps = {r["steps"] for side in trees for r in results[task, side]}
        if len(steps) != 1:
            raise SystemExit(f"{task}: the versions took different numbers of steps: {sorted(steps)}")
        cpu, wall, rss = ({side: statistics.median(r[key] for r in results[task, side]) for side in trees}
                          for key in ("cpu_ms", "wall_ms", "maxrss_mib"))
        ratio = cpu["new"] / cpu["old"]
        worst = max(worst, ratio)
        print(f"{task:<11} {steps.pop():>6} {cpu['old']:>12.3f} {cpu['new']:>12.3f} {ratio:>6.3f} "
              f"{wall['new'] / wall['old']:>10.3f} {rss['old']:>12.0f} {rss['new']:>12.0f}")
    print(f"goal: new / old ≤ {GOAL} on every task; worst {worst:.3f} "
          f"({'met' if worst <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
