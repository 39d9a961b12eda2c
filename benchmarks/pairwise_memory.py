"""Peak memory of forward+backward of every code regularizer at n = 16,384, d = 64 on the CPU.

Every registered regularizer whose targets include ``"codes"`` runs, with its default
hyperparameters, in a fresh interpreter: after the imports, the regularizer's construction and the
allocation of the codes z (n×d, float32), the peak resident set size (``resource.getrusage``,
``ru_maxrss``) is the baseline; the figure is the peak after ``R(z).backward()`` minus that
baseline, with the seconds the two took. Beside MHE's figure (its energy summed in blocks of rows)
stands that of the dense sum over the n×n cosine matrix, the path it took before
(``hyperspherical_energy`` with one block). The goal is < 256 MiB for each (one n×n float32
matrix is 1 GiB).

    python benchmarks/pairwise_memory.py [--n 16384] [--d 64]
"""
import argparse
import resource
import subprocess
import sys
import time

GOAL_MIB = 256
DENSE = {"mhe"}  # regularizers also measured on their dense path


def peak_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def measure(name: str, n: int, d: int, dense: bool) -> None:
    """Forward+backward of ``name`` on n×d codes; prints the peak-memory growth (bytes) and seconds."""
    import torch

    import regbench
    from regbench.regularizers._energy import hyperspherical_energy, unit_rows

    torch.manual_seed(0)
    regularizer = regbench.create_regularizer(name)
    z = torch.randn(n, d, requires_grad=True)
    if dense:
        term = lambda: hyperspherical_energy(unit_rows(z), regularizer.kernel, chunk=len(z))  # noqa: E731
    else:
        term = lambda: regularizer(z)  # noqa: E731
    baseline = peak_bytes()
    start = time.perf_counter()
    term().backward()
    seconds = time.perf_counter() - start
    assert torch.isfinite(z.grad).all(), name
    print(peak_bytes() - baseline, seconds)


def in_subprocess(name: str, n: int, d: int, dense: bool) -> str:
    """``measure`` in a fresh interpreter, formatted as "MiB (s)", or why it failed."""
    command = [sys.executable, __file__, "--measure", name, "--n", str(n), "--d", str(d)]
    done = subprocess.run(command + (["--dense"] if dense else []), capture_output=True, text=True)
    if done.returncode:
        return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    grown, seconds = map(float, done.stdout.split())
    mib = grown / 2 ** 20
    return f"{mib:9.1f} MiB ({seconds:5.1f} s) {'ok' if mib < GOAL_MIB else 'over'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: measure one in this process
    parser.add_argument("--dense", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.n, args.d, args.dense)

    from regbench import CODES, REGULARIZERS
    names = [name for name in REGULARIZERS.names() if CODES in REGULARIZERS.get(name).targets]
    print(f"peak RSS growth of forward+backward, n = {args.n}, d = {args.d}, float32, CPU; "
          f"goal < {GOAL_MIB} MiB")
    print(f"{'regularizer':<12} {'peak growth (seconds)':<30} dense path (before)")
    for name in names:
        dense = in_subprocess(name, args.n, args.d, dense=True) if name in DENSE else ""
        print(f"{name:<12} {in_subprocess(name, args.n, args.d, dense=False):<30} {dense}", flush=True)


if __name__ == "__main__":
    main()
