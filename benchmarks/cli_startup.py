"""Start-up time of ``regbench --help`` and ``regbench list``, against ``import torch``.

Each round runs ``python -c "import torch"``, ``python -m regbench --help`` and
``python -m regbench list`` one after another, each in a fresh interpreter started in the
repository (subprocess wall time, output discarded); with ``--baseline REV`` the two regbench
commands also run, alternating, on the package of git revision REV of this repository (exported to
a temporary directory). Printed: medians over ``--rounds`` rounds and the ratio list / torch:
    python benchmarks/cli_startup.py [--rounds 7] [--baseline HEAD]
"""
import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"import torch": ["-c", "import torch"], "regbench --help": ["-m", "regbench", "--help"],
            "regbench list": ["-m", "regbench", "list"]}


def wall_seconds(args: list[str], tree: Path) -> float:
    """Wall time of ``python *args`` run in ``tree``, whose ``regbench`` it imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, cwd=tree)
    return time.perf_counter() - start


def export(rev: str, directory: str) -> Path:
    """The ``regbench`` package of git revision ``rev``, extracted into ``directory``."""
    archive = subprocess.run(["git", "archive", rev, "regbench"], cwd=REPO, check=True,
                             capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(directory, filter="data")
    return Path(directory)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", metavar="REV", help="also time the code of this git revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        trees = {"this tree": REPO}
        if args.baseline:
            trees[args.baseline] = export(args.baseline, directory)
        times = {(name, tree): [] for name in COMMANDS for tree in trees
                 if tree == "this tree" or name != "import torch"}
        for _ in range(args.rounds):
            for name, tree in times:
                times[name, tree].append(wall_seconds(COMMANDS[name], trees[tree]))
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"median wall time of {args.rounds} rounds, seconds")
    print(f"{'':<16}" + "".join(f"{tree:>12}" for tree in trees))
    for name in COMMANDS:
        print(f"{name:<16}" + "".join(f"{median[name, tree]:>12.2f}" if (name, tree) in median
                                      else f"{'':>12}" for tree in trees))
    torch_seconds = median["import torch", "this tree"]
    print(f"{'list / torch':<16}" + "".join(
        f"{median['regbench list', tree] / torch_seconds:>12.2f}" for tree in trees))


if __name__ == "__main__":
    main()
