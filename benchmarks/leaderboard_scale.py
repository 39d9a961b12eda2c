"""The leaderboard and the "is this run done?" look-up on a large store: this tree against a git
revision (default ``647b264``, the last that wrote the v1 layout) that reads the v1 layout
(``config_hash``, arrays inside the records).

A store of ``--records`` runs is generated twice, the same runs in both layouts: tasks ×
regularizers × hyperparameters × ``--seeds`` seeds. Each (task, regularizer) takes its metrics
from a committed record under ``results/`` (every scalar the run recorded: ints, floats, strings),
perturbed per configuration and per seed. Hyperparameters vary over a grid per task: the term's
λ (``lam``) and each regularizer's own (μ, σ², kernel, λ per layer), inside blocks of the task's
learning rate × width (``d`` or ``hidden``) × epochs; ``none`` runs once per block (it has no λ).
A ``--failed`` fraction of runs has a failed attempt recorded before its ``ok`` record.
Non-scalar metrics (alignment codes, spectra, per-layer diagnostics, figure lists) are left out
of both layouts: the current layout keeps them in artifact files that the leaderboard does not
read, so the v1 store here is smaller, and today's leaderboard faster, than with real records.

Each measure runs in a fresh interpreter (wall time around the subprocess, peak RSS as
``/usr/bin/time`` reports it); medians over ``--rounds`` rounds:

- leaderboard: ``python -m regbench leaderboard --results DIR --out X.md``; the revision's code on
  the v1 store, this tree's on the current layout, first with no index (built from scratch) and
  then with the index up to date;
- "is this configuration done?": ``ResultsStore(DIR).find_ok(key)`` (the run's ``config_hash``
  for the revision, its ``run_key`` here), the call itself and its whole process, here both with
  the index up to date and with no index.

The goal is the leaderboard of 100,000 records in under 2 s and 500 MiB.

    python benchmarks/leaderboard_scale.py [--records 100000] [--rounds 1] [--baseline 647b264]
                                           [--keep DIR] [--profile]
"""
import argparse
import hashlib
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

from regbench.identity import keys
from regbench.runner import RunConfig
from regbench.registry import TASKS
from regbench.store._lines import RECORD_VERSION, encode

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS, GOAL_MIB = 2.0, 500
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
    """(task, reg) → a committed v1 record of that pair (the first), arrays left out."""
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


def config_hash(task: str, reg: str, task_params: dict, reg_params: dict, seed: int) -> str:
    """The v1 identity: a hash of every hyperparameter and the seed."""
    key = {"task": task, "reg": reg, "task_params": task_params, "reg_params": reg_params,
           "seed": seed}
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def generate(count: int, seeds: int, failed: float, v1: Path, v2: Path) -> dict:
    """Write ``count`` records to ``v1/records.jsonl`` and ``v2/records.jsonl``; returns a
    description of the store and a run to look up."""
    found, rng = templates(), random.Random(0)
    clock = 1_790_000_000  # started_at, one run after another
    written = configs = 0
    tasks, probe = set(), None
    v1.mkdir(parents=True)
    v2.mkdir(parents=True)
    with open(v1 / "records.jsonl", "wb") as old, open(v2 / "records.jsonl", "wb") as new:
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
                    common = {
                        "id": f"{rng.getrandbits(48):012x}", "task": task, "reg": reg, "seed": seed,
                        "status": status,
                        "metrics": perturbed(template["metrics"], rng, effect) if ok else {},
                        "error": None if ok else rng.choice(ERRORS),
                        "traceback": None if ok else "Traceback (most recent call last):\n  ...",
                        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(clock)),
                        "wall_time_s": round(template["wall_time_s"] * (0.8 + 0.4 * rng.random()), 3),
                        "versions": {**template["versions"], "git_commit": f"{written // 5000:040x}"},
                        "device": template["device"], "host": template["host"],
                        **({"data": template["data"]} if "data" in template else {})}
                    old_hash = config_hash(task, reg, task_params, reg_params, seed)
                    old.write((json.dumps({
                        **common, "record_version": 1, "config_hash": old_hash,
                        "task_params": task_params, "reg_params": reg_params,
                        "artifacts": f"figures/{common['id']}" if template.get("artifacts") else None},
                        sort_keys=True) + "\n").encode())
                    run_key, config_key = keys(identity, seed)
                    new.write(encode({**fields, **common, "record_version": RECORD_VERSION, "run_key": run_key,
                                      "config_key": config_key, "data": common.get("data", {}),
                                      "artifacts": {}}))
                    written += 1
                    if ok and (probe is None or written <= count // 2):
                        probe = {"config_hash": old_hash, "run_key": run_key}  # halfway in


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


def one_round(trees: dict, stores: dict, probe: dict, outputs: Path) -> dict:
    """Every measure once: {(measure, side): value}."""
    old, new = trees["old"], trees["new"]
    got = {}
    got["lb_s", "old"], got["lb_mib", "old"] = leaderboard(old, stores["v1"], outputs / "old.md")
    call, process, mib = find_ok(old, stores["v1"], probe["config_hash"])
    got["find_call", "old"] = got["find_call_cold", "old"] = call
    got["find_s", "old"] = got["find_s_cold", "old"] = process
    got["find_mib", "old"] = mib
    drop_index(stores["v2"])
    got["find_call_cold", "new"], got["find_s_cold", "new"], _ = find_ok(new, stores["v2"],
                                                                          probe["run_key"])
    drop_index(stores["v2"])
    got["lb_s", "new"], got["lb_mib", "new"] = leaderboard(new, stores["v2"], outputs / "new.md")
    got["lb_warm_s", "new"], got["lb_warm_mib", "new"] = leaderboard(new, stores["v2"],
                                                                   outputs / "new.md")
    got["find_call", "new"], got["find_s", "new"], got["find_mib", "new"] = find_ok(
        new, stores["v2"], probe["run_key"])
    got["lb_warm_s", "old"], got["lb_warm_mib", "old"] = got["lb_s", "old"], got["lb_mib", "old"]
    return got


ROWS = [  # key, label, unit, scale, goal
    ("lb_s", "leaderboard, no index (first run): wall", "s", 1, f"< {GOAL_SECONDS:g} s"),
    ("lb_mib", "leaderboard, no index (first run): peak RSS", "MiB", 1, f"< {GOAL_MIB} MiB"),
    ("lb_warm_s", "leaderboard, index up to date: wall", "s", 1, f"< {GOAL_SECONDS:g} s"),
    ("lb_warm_mib", "leaderboard, index up to date: peak RSS", "MiB", 1, f"< {GOAL_MIB} MiB"),
    ("find_call", "find_ok, index up to date: the call", "ms", 1e3, ""),
    ("find_s", "find_ok, index up to date: whole process", "s", 1, ""),
    ("find_mib", "find_ok, index up to date: peak RSS", "MiB", 1, ""),
    ("find_call_cold", "find_ok, no index: the call", "ms", 1e3, ""),
    ("find_s_cold", "find_ok, no index: whole process", "s", 1, ""),
]


def table(results: dict, baseline: str) -> list[str]:
    lines = [f"| measure | today ({baseline}, v1 store, no index) | new | goal |", "|---|---:|---:|---|"]
    for key, label, unit, scale, goal in ROWS:
        digits = 0 if unit == "MiB" else 1 if unit == "ms" else 2
        cells = []
        for side in ("old", "new"):
            values = [v * scale for v in results[key, side]]
            cell = f"{statistics.median(values):.{digits}f}"
            if len(values) > 1:
                cell += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
            cells.append(cell)
        lines.append(f"| {label} ({unit}) | {cells[0]} | {cells[1]} | {goal} |")
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
    parser.add_argument("--baseline", metavar="REV", default="647b264",
                        help="the git revision whose code reads the v1 store")
    parser.add_argument("--keep", metavar="DIR", help="write the stores and leaderboards here "
                                                       "(a new directory) and keep them")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the leaderboard of this tree (index up to date)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep) if args.keep else Path(scratch)
        root.mkdir(parents=True, exist_ok=not args.keep)
        stores = {"v1": root / "v1", "v2": root / "v2"}
        outputs = root / "leaderboards"
        outputs.mkdir()
        start = time.perf_counter()
        shape = generate(args.records, args.seeds, args.failed, stores["v1"], stores["v2"])
        sizes = {k: (s / "records.jsonl").stat().st_size / 2**20 for k, s in stores.items()}
        print(f"store: {shape['records']:,} records ({shape['configurations']:,} configurations "
              f"of {shape['tasks']} tasks × {args.seeds} seeds, {args.failed:.0%} of runs with a "
              f"failed attempt first), generated in {time.perf_counter() - start:.0f} s; "
              f"records.jsonl {sizes['v1']:.0f} MiB (v1), {sizes['v2']:.0f} MiB (current); "
              f"arrays left out of both")
        trees = {"old": export(args.baseline, root / "baseline"), "new": REPO}
        for side, tree in trees.items():
            which = json.loads(measure(["-c", WHICH], tree)[2])
            if not which.startswith(str(tree)):
                sys.exit(f"the {side} code imports regbench from {which}, not {tree}")
        results: dict = {}
        for _ in range(args.rounds):
            for key, value in one_round(trees, stores, shape["probe"], outputs).items():
                results.setdefault(key, []).append(value)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"medians (min–max) of {args.rounds} round(s), each measure in a fresh interpreter; "
              f"{os.cpu_count()} CPUs, load average {load}: a shared machine, timings are noisy")
        print("\n".join(table(results, args.baseline)))
        counts = {side: (outputs / f"{side}.md").read_text().count("\n") for side in ("old", "new")}
        print(f"leaderboard lines: {counts['old']:,} today, {counts['new']:,} new")
        floor = statistics.median(measure(["-c", FLOOR], REPO)[0] for _ in range(3))
        print(f"the imports no leaderboard does without ({FLOOR[7:]}) take {floor:.2f} s here")
        if args.profile:
            print("\ncProfile of the new leaderboard, index up to date (top cumulative):")
            profile(trees["new"], stores["v2"], outputs / "profile.md")


if __name__ == "__main__":
    main()
