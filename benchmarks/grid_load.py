"""Load of `regbench grid` at 1,000 trivial trials: the driver's memory, the harness time per
trial, and that every trial is recorded once.

The same N trials (``sphere``, n = 8, d = 2, 3 steps, one regularizer, seeds 0..N-1) run three
ways, one after another:

- plain loop: ``runner.prepare`` + ``runner.execute`` in this process, no Ray;
- plain Tune: a trivial function trainable (it notes that it ran, then reports its one value)
  through ``tune.Tuner`` over a ``grid_search`` of N values, ``reuse_actors=True``, 1 CPU per
  trial, in a subprocess on a local Ray started by ``regbench.cluster.ray_session`` (127.0.0.1,
  no dashboard, no usage stats), as regbench's is;
- regbench grid: ``regbench grid --task sphere --reg R --set n=8 d=2 steps=3 --seeds N --quiet``
  in a subprocess (1 CPU per trial; Ray on this machine's CPUs, as for plain Tune).

Every 0.2 s the driver subprocess's RSS (psutil) and its count of finished trials (lines of the
store's ``records.jsonl``; for plain Tune, lines its trainable appends to a file) are sampled.
Printed: wall time and wall time per trial (Python, Ray and Tune start-up included), the steady
time per trial (from the first finished trial to the last; start-up and shutdown excluded), the
driver's RSS at its first and at its last finished trial, its peak, and the growth from the first
to the peak; regbench's time per trial over plain Tune's; and the store's record lines and
distinct run keys against the N expected. With ``--repeats R`` each figure is the median of R
rounds.

    python benchmarks/grid_load.py [--trials 1000] [--reg none] [--repeats 1]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"n": 8, "d": 2, "steps": 3}
MIB = 2**20
RSS = ("rss_first", "rss_last", "rss_peak", "growth")


def plain_loop(reg: str, trials: int) -> dict:
    """Seconds per trial of prepare + execute in this process (1 thread, as a 1-CPU trial)."""
    import torch

    from regbench.runner import execute, prepare
    torch.set_num_threads(1)
    times = []
    start = time.perf_counter()
    for seed in range(trials):
        begin = time.perf_counter()
        execute(prepare("sphere", reg, SETTINGS, seed))
        times.append(time.perf_counter() - begin)
    wall = time.perf_counter() - start
    return {"wall": wall, "per_trial": wall / trials, "steady": statistics.median(times)}


def plain_tune(trials: int, directory: str) -> None:
    """The plain Tune run (in its own process): ``trials`` trivial trials."""
    from regbench.cluster import ray_session
    progress = os.path.join(directory, "done.txt")
    with ray_session(quiet=True):
        from ray import tune

        def trivial(config):
            with open(progress, "a") as f:
                f.write("\n")
            tune.report({"x": config["x"]})

        tune.Tuner(tune.with_resources(trivial, {"cpu": 1}),
                   param_space={"x": tune.grid_search(list(range(trials)))},
                   tune_config=tune.TuneConfig(reuse_actors=True),
                   run_config=tune.RunConfig(name="plain", storage_path=directory, verbose=0)).fit()


def watched(command: list[str], progress: Path, trials: int, log: Path) -> dict:
    """Run ``command``, sampling its RSS and the lines of ``progress`` every 0.2 s."""
    samples = []  # (seconds, RSS, finished trials)
    start = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        driver = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                rss = driver.memory_info().rss
            except psutil.NoSuchProcess:
                break
            done = progress.read_bytes().count(b"\n") if progress.exists() else 0
            samples.append((time.perf_counter() - start, rss, done))
            time.sleep(0.2)
        process.wait()
    wall = time.perf_counter() - start
    if process.returncode:
        sys.exit(f"{' '.join(command)} exited with {process.returncode}; its output:\n"
                 f"{log.read_text()[-3000:]}")
    first = next(s for s in samples if s[2] >= 1)
    last = next((s for s in samples if s[2] >= trials), samples[-1])
    peak = max(s[1] for s in samples)
    return {"wall": wall, "per_trial": wall / trials,
            "steady": (last[0] - first[0]) / max(1, last[2] - first[2]),
            "rss_first": first[1], "rss_last": last[1], "rss_peak": peak, "growth": peak - first[1]}


def through_tune(trials: int, directory: Path) -> dict:
    command = [sys.executable, __file__, "--plain-tune", str(directory), "--trials", str(trials)]
    directory.mkdir()
    return watched(command, directory / "done.txt", trials, directory.parent / "tune.txt")


def through_regbench(reg: str, trials: int, directory: Path) -> tuple[dict, str]:
    command = [sys.executable, "-m", "regbench", "grid", "--task", "sphere", "--reg", reg,
               "--set", *(f"{k}={v}" for k, v in SETTINGS.items()), "--seeds", str(trials),
               "--quiet", "--results", str(directory)]
    result = watched(command, directory / "records.jsonl", trials, directory.parent / "grid.txt")
    return result, recorded_once(reg, trials, directory)


def recorded_once(reg: str, trials: int, directory: Path) -> str:
    """The store's record lines and distinct run keys against the grid's N run keys."""
    from regbench.runner import prepare
    from regbench.store import ResultsStore
    expected = {prepare("sphere", reg, SETTINGS, seed).run_key for seed in range(trials)}
    lines = (directory / "records.jsonl").read_bytes().count(b"\n")
    keys = [record["run_key"] for record in ResultsStore(directory).records()]
    once = lines == len(keys) == len(set(keys)) == trials and set(keys) == expected
    return (f"{lines} record lines, {len(keys)} records, {len(set(keys))} distinct run keys, "
            f"{len(expected & set(keys))} of {trials} expected run keys: "
            f"{'each trial recorded exactly once' if once else 'NOT each recorded exactly once'}")


def median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def row(name: str, rounds: list[dict]) -> str:
    line = (f"  {name:<14}{median(rounds, 'wall'):>8.1f}{median(rounds, 'per_trial'):>11.3f}"
            f"{median(rounds, 'steady'):>11.3f}")
    if "rss_peak" in rounds[0]:
        line += "".join(f"{median(rounds, k) / MIB:>11.0f}" for k in RSS)
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--reg", default="none", choices=["none", "eccentric"])
    parser.add_argument("--repeats", type=int, default=1, help="rounds; medians are printed")
    parser.add_argument("--plain-tune", metavar="DIR", help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.plain_tune:
        return plain_tune(args.trials, args.plain_tune)
    loop, tune, grid, checks = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="grid-load-") as directory:
            loop.append(plain_loop(args.reg, args.trials))
            tune.append(through_tune(args.trials, Path(directory, "tune")))
            result, check = through_regbench(args.reg, args.trials, Path(directory, "grid"))
            grid.append(result)
            checks.append(check)
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    print(f"{args.trials} trials of sphere × {args.reg} ({settings}), seeds 0..{args.trials - 1}; "
          f"Ray on {os.cpu_count()} CPUs, 1 CPU per trial; median of {args.repeats} round(s)")
    print(f"  {'':<14}{'wall':>8}{'s per':>11}{'steady s':>11}{'driver RSS, MiB':^44}")
    print(f"  {'':<14}{'s':>8}{'trial':>11}{'per trial':>11}"
          f"{'1st trial':>11}{'last trial':>11}{'peak':>11}{'growth':>11}")
    print(row("plain loop", loop) + "   (steady: median prepare + execute)")
    print(row("plain Tune", tune))
    print(row("regbench grid", grid))
    over = median(grid, "steady") - median(tune, "steady")
    ratio = median(grid, "steady") / median(tune, "steady")
    print(f"regbench over plain Tune, per trial: {over:+.3f} s steady (×{ratio:.2f}), "
          f"{median(grid, 'per_trial') - median(tune, 'per_trial'):+.3f} s with start-up "
          f"(×{median(grid, 'per_trial') / median(tune, 'per_trial'):.2f}); goal < 0.5 s")
    trials = (median(grid, "rss_last") - median(grid, "rss_first")) / MIB
    print(f"regbench driver: peak RSS {median(grid, 'rss_peak') / MIB:.0f} MiB (goal < 1024), "
          f"{median(grid, 'growth') / MIB:.0f} MiB above its RSS at the first finished trial; "
          f"{trials:+.0f} MiB from the first finished trial to the last "
          f"({trials * 1024 / args.trials:+.0f} KiB per trial)")
    for check in checks:
        print(f"store: {check}")


if __name__ == "__main__":
    main()
