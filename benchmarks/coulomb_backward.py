"""Forward+backward time of ``coulomb`` with its closed-form kernel derivative, against the autograd
derivative it had before and against ``mmd_imq``, at n = 16,384, d = 64 (float32).

At this n the MMD's pair sums run blockwise (``_pairwise.pairwise_sum``) and their backward needs
the kernel's derivative in the squared distance: ``coulomb`` passes its closed form
(``coulomb.kernel_derivative``); without it (``derivative=None``, the previous implementation; same
kernel) the backward differentiates the kernel of every block by autograd. ``mmd_imq`` passes its
own closed form. All three at their default hyperparameters, on the same codes and prior sample;
medians over ``--repeats`` rounds (one run of each per round) in this one process, the ratio to
``mmd_imq``, and the largest difference between the two ``coulomb`` gradients relative to their
largest entry. Goal: ``coulomb`` no slower than ``mmd_imq``.

    OMP_NUM_THREADS=1 python benchmarks/coulomb_backward.py [--repeats 3] [--n 16384] [--d 64] [--device cpu]
"""
import argparse
import statistics

import torch

import regbench
from regbench.regularizers._mmd import mmd
from regbench.regularizers.coulomb import kernel
from timing import seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    dev = args.device
    torch.manual_seed(0)
    z = torch.randn(args.n, args.d, device=dev, requires_grad=True)
    prior = torch.randn(args.n, args.d, device=dev)
    coulomb, imq = regbench.create_regularizer("coulomb"), regbench.create_regularizer("mmd_imq")
    variants = {
        "coulomb (closed-form derivative)": lambda: coulomb(z, prior),
        "coulomb (autograd derivative)": lambda: mmd(lambda sq: kernel(sq, coulomb.h, coulomb.eps), z, prior),
        "mmd_imq": lambda: imq(z, prior),
    }
    times, grads = {name: [] for name in variants}, {}
    for _ in range(args.repeats):  # interleaved, so that a busy machine slows all three alike
        for name, term in variants.items():
            z.grad = None
            times[name].append(seconds(lambda: term().backward(), dev))
            grads[name] = z.grad.clone()
    medians = {name: statistics.median(t) for name, t in times.items()}

    print(f"n = {args.n}, d = {args.d}, float32, device {dev}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'variant':<34} {'f+b (s)':>9} {'vs mmd_imq':>11}")
    for name, s in medians.items():
        print(f"{name:<34} {s:>9.2f} {s / medians['mmd_imq']:>10.2f}×")
    closed, by_autograd = grads["coulomb (closed-form derivative)"], grads["coulomb (autograd derivative)"]
    print(f"coulomb gradients: max |closed form − autograd| / max |autograd| = "
          f"{((closed - by_autograd).abs().max() / by_autograd.abs().max()).item():.1e}")


if __name__ == "__main__":
    main()
