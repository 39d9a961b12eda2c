"""The leaderboard and the "is this run done?" look-up on a large store: this tree against a git
revision (default ``f7f1de3``, before the index was built by SQLite's JSON reader), both on the
same store.

A store of ``--records`` runs is generated: tasks × regularizers × hyperparameters × ``--seeds``
seeds. Each (task, regularizer) takes its metrics from a committed record under ``results/``
(every scalar the run recorded), perturbed per configuration and per seed. Hyperparameters vary
over a grid per task: the term's λ (``lam``) and each regularizer's own (μ, σ², kernel, λ per
layer), inside blocks of the task's learning rate × width (``d`` or ``hidden``) × epochs;
``none`` runs once per block (it has no λ). A ``--failed`` fraction of runs has a failed attempt
recorded before its ``ok`` record. Non-scalar metrics are left out (they live in artifact files,
which the leaderboard does not read).

Each measure runs in a fresh interpreter (wall time around the subprocess, peak RSS as
``/usr/bin/time`` reports it); medians over ``--rounds`` rounds, for each side:

- leaderboard: ``python -m regbench leaderboard --results DIR --out X.md``, first with no index
  (built from scratch: the first run on a store) and then with the index up to date;
- "is this run done?": ``ResultsStore(DIR).find_ok(run_key)``, the call itself and its whole
  process, with the index up to date and with no index.

The goals: the leaderboard of 100,000 records in under 3 s with no index, under 1 s with it up
to date, and under 500 MiB.

    python benchmarks/leaderboard_scale.py [--records 100000] [--rounds 1] [--baseline f7f1de3]
                                           [--keep DIR] [--profile]
"""
import argparse
import io
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from regbench.record import RECORD_VERSION, keys
from regbench.runner import RunConfig
from regbench.registry import TASKS
from regbench.store._lines import encode

REPO = Path(__file__).resolve().parent.parent
GOAL_COLD_S, GOAL_WARM_S, GOAL_MIB = 3.0, 1.0, 500
INDEX = "records.index.sqlite"
TIME = "/usr/bin/time"  # GNU time: peak RSS of one process
MULTIPLIERS = [1, 0.1, 10, 0.01, 100]  # of the task's λ
LR = [1, 0.5, 2, 0.25, 4, 0.1, 10]  # of the task's learning rate, one block each
WIDTH = [1, 2, 4, 0.5]  # of d (else hidden)
ERRORS = ["RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
          "regbench.errors.Diverged: non-finite loss at step 1201",
          "OSError: [Errno 28] No space left on device"]

# the child processes; each prints one JSON line
FIND_OK = """import json, sys, time
start = time.perf_counter()
from regbench.store import ResultsStore
store = ResultsStore(sys.argv[1])
call = time.perf_counter()
found = store.find_ok(sys.argv[2])
end = time.perf_counter()
print(json.dumps({"call": end - call, "import": call - start, "found": found is not None}))
"""
FLOOR = "import numpy, pandas, scipy.stats, sqlite3"
WHICH = "import importlib.util, json; print(json.dumps(importlib.util.find_spec('regbench').origin))"


# the store
def templates() -> dict:
    """(task, reg) → a committed record of that pair (the first), arrays left out."""
    found = {}
    for path in sorted(REPO.glob("results/*/records.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("status") == "ok" and record["task"] in TASKS.names():
                record["metrics"] = {k: v for k, v in record["metrics"].items()
                                     if isinstance(v, (int, float, str))}
                found.setdefault((record["task"], record["reg"]), record)
    return found


def reg_grid(reg: str, base: dict, with_lam: bool) -> list[dict]:
    """The regularizer's hyperparameters to try, around the committed record's ``base``; with
    the term's λ varied too (``with_lam``), the weight regularizer's λ per layer stays."""
    def around(name, factors):
        return [base[name] * f for f in factors]
    if reg == "eccentric":
        return [{**base, "mu": mu} for mu in around("mu", [1, 0.5, 2, 4])]
    if reg == "mmd_imq":
        return [{**base, "sigma2": s} for s in around("sigma2", [1, 0.5, 2, 4])]
    if reg == "coulomb":
        return [{**base, "eps": e, "h": h} for e in (1.0, 0.5) for h in (0.0, 0.1)]
    if reg == "mhe":
        return [{**base, "kernel": k, "lam_hidden": lam} for k in ("s0", "s1", "s2")
                for lam in around("lam_hidden", [1] if with_lam else [1, 0.1, 10])]
    if reg in ("mhs", "mgd", "orthogonal"):
        return [{**base, "lam_hidden": a, "lam_final": b}
                for a in around("lam_hidden", [1, 0.1, 10]) for b in around("lam_final", [1, 0.1, 10])]
    return [dict(base)]


def blocks(base: dict):
    """The task's hyperparameters outside λ, one setting per block, without end."""
    width = "d" if "d" in base else "hidden"
    length = "epochs" if "epochs" in base else "steps"
    for times in itertools.count(1):
        for w in WIDTH:
            for lr in LR:
                yield {**base, "lr": base["lr"] * lr, width: max(1, int(base[width] * w)),
                       length: base[length] * times}


def configurations(found: dict):
    """(task, reg, task_params, reg_params) in the order a store accumulates them: round robin
    over the tasks, one block at a time; ``none`` first in its block, then every regularizer
    × λ (for those with one) × its own grid."""
    tasks = list(dict.fromkeys(task for task, _ in found))
    streams = []
    for task in tasks:
        regs = [reg for t, reg in found if t == task]
        regs.sort(key=lambda reg: reg != "none")
        base = found[task, regs[0]]["task_params"]
        lam = next((found[task, r]["reg_params"]["lam"] for r in regs
                    if "lam" in found[task, r]["reg_params"]), None)
        lams = [lam * m for m in MULTIPLIERS] if lam is not None else [None]
        streams.append(((task, regs, lams), blocks(base)))
    while True:
        for (task, regs, lams), stream in streams:
            block = next(stream)
            for reg in regs:
                own = found[task, reg]["reg_params"]
                for lam in (lams if "lam" in own else [None]):  # λ is the regularizer's; none has none
                    for reg_params in reg_grid(reg, own, lams != [None]):
                        yield task, reg, block, reg_params if lam is None else {**reg_params, "lam": lam}


def perturbed(metrics: dict, rng: random.Random, effect: float) -> dict:
    return {k: v * effect * (1 + 0.05 * rng.gauss(0, 1)) if isinstance(v, float) else v
            for k, v in metrics.items()}


def generate(count: int, seeds: int, failed: float, store: Path) -> dict:
    """Write ``count`` records to ``store/records.jsonl``; returns a description of the store and
    a run to look up (halfway in)."""
    found, rng = templates(), random.Random(0)
    clock = 1_790_000_000  # started_at, one run after another
    written = configs = 0
    tasks, probe = set(), None
    store.mkdir(parents=True)
    with open(store / "records.jsonl", "wb") as out:
        for task, reg, task_params, reg_params in configurations(found):
            template = found[task, reg]
            fields = RunConfig(task, reg, task_params, reg_params, 0).fields()
            identity = {k: fields[k] for k in ("task", "task_version", "reg", "reg_version", "params")}
            effect = 1 + 0.1 * rng.gauss(0, 1)
            configs += 1
            tasks.add(task)
            for seed in range(seeds):
                attempts = ["failed", "ok"] if rng.random() < failed else ["ok"]
                for status in attempts:
                    if written == count:
                        return {"records": written, "configurations": configs, "tasks": len(tasks),
                                "probe": probe}
                    clock += 30
                    ok = status == "ok"
                    run_key, config_key = keys(identity, seed)
                    out.write(encode({
                        **fields, "record_version": RECORD_VERSION, "run_key": run_key,
                        "config_key": config_key, "seed": seed, "id": f"{rng.getrandbits(48):012x}",
                        "status": status,
                        "metrics": perturbed(template["metrics"], rng, effect) if ok else {},
                        "info": {}, "data": template.get("data", {}), "artifacts": {},
                        "error": None if ok else rng.choice(ERRORS),
                        "traceback": None if ok else "Traceback (most recent call last):\n  ...",
                        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(clock)),
                        "wall_time_s": round(template["wall_time_s"] * (0.8 + 0.4 * rng.random()), 3),
                        "versions": {**template["versions"], "git_commit": f"{written // 5000:040x}"},
                        "device": template["device"], "host": template["host"],
                        "hardware": {"cpu": "AMD EPYC", "isa": "AVX512", "blas": "mkl 2024.2",
                                     "threads": 1}}))
                    written += 1
                    if ok and (probe is None or written <= count // 2):
                        probe = run_key


# measuring
def export(rev: str, directory: Path) -> Path:
    """The ``regbench`` package of git revision ``rev``, extracted into ``directory``."""
    archive = subprocess.run(["git", "archive", rev, "regbench"], cwd=REPO, check=True,
                             capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(directory, filter="data")
    return directory


def measure(args: list[str], tree: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of ``python *args`` run in ``tree``, whose
    ``regbench`` it imports. The peak comes from ``/usr/bin/time``: a child forked from this
    process would report this process's memory as its own (Linux carries the high-water mark
    over ``exec``)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.NamedTemporaryFile("r") as usage:
        start = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M", "-o", usage.name, sys.executable, *args], cwd=tree,
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"failed ({done.returncode}): python {' '.join(args)}\n{done.stderr[-3000:]}")
        kib = int(usage.read().split()[-1])
    return seconds, kib / 1024, done.stdout


def drop_index(store: Path) -> None:
    for path in store.glob(INDEX + "*"):
        path.unlink()


def leaderboard(tree: Path, store: Path, out: Path) -> tuple[float, float]:
    seconds, mib, _ = measure(["-m", "regbench", "leaderboard", "--results", str(store),
                               "--out", str(out)], tree)
    return seconds, mib


def find_ok(tree: Path, store: Path, key: str) -> tuple[float, float, float]:
    """(call seconds, process seconds, peak MiB)."""
    seconds, mib, out = measure(["-c", FIND_OK, str(store), key], tree)
    result = json.loads(out.splitlines()[-1])
    if not result["found"]:
        sys.exit(f"find_ok({key}) found nothing in {store}")
    return result["call"], seconds, mib


def one_round(trees: dict, store: Path, probe: str, outputs: Path) -> dict:
    """Every measure once, for each side: {(measure, side): value}."""
    got = {}
    for side, tree in trees.items():
        drop_index(store)
        out = outputs / side / "leaderboard.md"  # the same name: figure links read alike
        out.parent.mkdir(exist_ok=True)
        got["lb_s", side], got["lb_mib", side] = leaderboard(tree, store, out)
        got["lb_warm_s", side], got["lb_warm_mib", side] = leaderboard(tree, store, out)
        got["find_call", side], got["find_s", side], got["find_mib", side] = find_ok(tree, store, probe)
        drop_index(store)
        got["find_call_cold", side], got["find_s_cold", side], _ = find_ok(tree, store, probe)
    return got


ROWS = [  # key, label, unit, scale, goal
    ("lb_s", "leaderboard, no index (first run): wall", "s", 1, f"< {GOAL_COLD_S:g} s"),
    ("lb_mib", "leaderboard, no index (first run): peak RSS", "MiB", 1, f"< {GOAL_MIB} MiB"),
    ("lb_warm_s", "leaderboard, index up to date: wall", "s", 1, f"< {GOAL_WARM_S:g} s"),
    ("lb_warm_mib", "leaderboard, index up to date: peak RSS", "MiB", 1, f"< {GOAL_MIB} MiB"),
    ("find_call", "find_ok, index up to date: the call", "ms", 1e3, ""),
    ("find_s", "find_ok, index up to date: whole process", "s", 1, ""),
    ("find_mib", "find_ok, index up to date: peak RSS", "MiB", 1, ""),
    ("find_call_cold", "find_ok, no index: the call", "ms", 1e3, ""),
    ("find_s_cold", "find_ok, no index: whole process", "s", 1, ""),
]


def table(results: dict, baseline: str) -> list[str]:
    lines = [f"| measure | today ({baseline}) | new | new / today | goal |",
             "|---|---:|---:|---:|---|"]
    for key, label, unit, scale, goal in ROWS:
        digits = 0 if unit == "MiB" else 1 if unit == "ms" else 2
        cells, medians = [], []
        for side in ("old", "new"):
            values = [v * scale for v in results[key, side]]
            medians.append(statistics.median(values))
            cell = f"{medians[-1]:.{digits}f}"
            if len(values) > 1:
                cell += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
            cells.append(cell)
        ratio = f"{medians[1] / medians[0]:.2f}" if medians[0] else "–"
        lines.append(f"| {label} ({unit}) | {cells[0]} | {cells[1]} | {ratio} | {goal} |")
    return lines


def profile(tree: Path, store: Path, out: Path, top: int = 25) -> None:
    """cProfile of this tree's leaderboard with the index up to date: the top cumulative entries,
    of everything and of regbench's own functions."""
    stats = out.with_suffix(".prof")
    measure(["-m", "cProfile", "-o", str(stats), "-m", "regbench", "leaderboard", "--results",
             str(store), "--out", str(out)], tree)
    import pstats
    for title, restrictions in (("all", ()), ("regbench's functions", (r"/regbench/",))):
        text = io.StringIO()
        pstats.Stats(str(stats), stream=text).sort_stats("cumulative").print_stats(
            *restrictions, top)
        print(f"\n{title}:\n" + text.getvalue().split("\n\n", 1)[-1].strip("\n"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--failed", type=float, default=0.01,
                        help="fraction of runs with a failed attempt recorded first")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", metavar="REV", default="f7f1de3",
                        help="the git revision to compare with")
    parser.add_argument("--keep", metavar="DIR", help="write the stores and leaderboards here "
                                                       "(a new directory) and keep them")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the leaderboard of this tree (index up to date)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep) if args.keep else Path(scratch)
        root.mkdir(parents=True, exist_ok=not args.keep)
        store, outputs = root / "store", root / "leaderboards"
        outputs.mkdir()
        start = time.perf_counter()
        shape = generate(args.records, args.seeds, args.failed, store)
        size = (store / "records.jsonl").stat().st_size / 2**20
        print(f"store: {shape['records']:,} records ({shape['configurations']:,} configurations "
              f"of {shape['tasks']} tasks × {args.seeds} seeds, {args.failed:.0%} of runs with a "
              f"failed attempt first), generated in {time.perf_counter() - start:.0f} s; "
              f"records.jsonl {size:.0f} MiB, arrays left out")
        trees = {"old": export(args.baseline, root / "baseline"), "new": REPO}
        for side, tree in trees.items():
            which = json.loads(measure(["-c", WHICH], tree)[2])
            if not which.startswith(str(tree)):
                sys.exit(f"the {side} code imports regbench from {which}, not {tree}")
        results: dict = {}
        for _ in range(args.rounds):
            for key, value in one_round(trees, store, shape["probe"], outputs).items():
                results.setdefault(key, []).append(value)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"medians (min–max) of {args.rounds} round(s), each measure in a fresh interpreter; "
              f"{os.cpu_count()} CPUs, load average {load}: a shared machine, timings are noisy")
        print("\n".join(table(results, args.baseline)))
        old, new = ([line for line in (outputs / side / "leaderboard.md").read_text().splitlines()
                     if not line.startswith(("Generated", "CPUs"))] for side in ("old", "new"))
        print(f"leaderboard lines: {len(old):,} today, {len(new):,} new; other than the footer's "
              f"date and CPUs line, {'the same' if old == new else 'DIFFERENT'}")
        floor = statistics.median(measure(["-c", FLOOR], REPO)[0] for _ in range(3))
        print(f"the imports no leaderboard does without ({FLOOR[7:]}) take {floor:.2f} s here")
        if args.profile:
            print("\ncProfile of the new leaderboard, index up to date (top cumulative):")
            profile(trees["new"], store, outputs / "profile.md")


if __name__ == "__main__":
    main()
