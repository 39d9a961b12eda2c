"""Forward+backward time of every regularizer, as a ratio to its task model's step, side by side.

The regularizer's part is its term as the one training loop computes it (``regbench.training.Term``,
λ the task's default) and the backward pass through it:

- latent codes (and posterior heads) at (n, d) = (100, 64) and (1000, 64), against one
  forward+backward pass of the digits_ae autoencoder with d = 64 on a batch of n (codes: λ · R(z);
  posterior heads: λ · KL(h) plus the reparameterised sample the encoder draws from h);
- the weights of the CNN-9 of Liu et al., "Learning with Hyperspherical Uniformity", AISTATS 2021,
  arXiv:2103.01649, against one forward+backward pass of CNN-9 on a batch of 32×32 images
  (``--batch``, default 128); the term is the regularizer's weight penalty of its layers.

``none`` acts on nothing and adds no term, so it has no row. Medians over ``--repeats`` runs, all
measured in this one process:
    python benchmarks/regularizers.py [--repeats 5] [--batch 128] [--device cpu]
"""
import argparse
import statistics

import torch

from regbench import CODES, POSTERIOR, REGULARIZERS, WEIGHTS, create_task
from regbench.models.cnn9 import cnn9
from regbench.training import Term
from timing import seconds


def median_seconds(step, repeats: int, device: str) -> float:
    step()  # warm-up (lazy state such as poles, caches)
    return statistics.median(seconds(step, device) for _ in range(repeats))


def term_for(name: str, target: str, task: str, device: str) -> Term:
    """The term of regularizer ``name`` on ``target``, with the λ it gets on ``task`` by default."""
    cls = REGULARIZERS.get(name)
    regularizer = cls(**cls.resolve({}, defaults=create_task(task).term_defaults)).to(device)
    return Term(regularizer, target)


def backward_of(make_loss, params):
    def step():
        for p in params:
            p.grad = None
        make_loss().backward()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    dev = args.device
    torch.manual_seed(0)
    rows = []

    for n in (100, 1000):
        encoder, decoder = create_task("digits_ae", d=64).networks(64)
        ae = torch.nn.Sequential(encoder, decoder).to(dev)
        x = torch.rand(n, 64, device=dev)
        model_s = median_seconds(backward_of(lambda: (ae(x) - x).pow(2).mean(), ae.parameters()),
                                 args.repeats, dev)
        for name in REGULARIZERS.names():
            cls = REGULARIZERS.get(name)
            if CODES in cls.targets:
                term = term_for(name, CODES, "digits_ae", dev)
                z = torch.randn(n, 64, device=dev, requires_grad=True)
                loss = lambda: term(ae, {CODES: z})  # noqa: E731
            elif POSTERIOR in cls.targets:
                term = term_for(name, POSTERIOR, "digits_ae", dev)
                z = torch.randn(n, term.regularizer.head_size(64), device=dev, requires_grad=True)
                loss = lambda: term(ae, {POSTERIOR: z}) + term.regularizer.sample(z).sum()  # noqa: E731
            else:
                continue
            reg_s = median_seconds(backward_of(loss, [z]), args.repeats, dev)
            rows.append((f"codes n={n} d=64", name, reg_s, model_s))

    net = cnn9().to(dev)
    images = torch.randn(args.batch, 3, 32, 32, device=dev)
    labels = torch.randint(0, 100, (args.batch,), device=dev)
    model_s = median_seconds(backward_of(
        lambda: torch.nn.functional.cross_entropy(net(images), labels), net.parameters()),
        args.repeats, dev)
    for name in REGULARIZERS.names():
        if WEIGHTS not in REGULARIZERS.get(name).targets:
            continue
        term = term_for(name, WEIGHTS, "cifar100_cnn9", dev)
        reg_s = median_seconds(backward_of(lambda: term(net, {}), net.parameters()), args.repeats, dev)
        rows.append((f"CNN-9 weights (batch {args.batch})", name, reg_s, model_s))

    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    print(f"{'setting':<28} {'regularizer':<12} {'reg f+b (ms)':>13} {'model f+b (ms)':>15} {'ratio':>8}")
    for setting, name, reg_s, model_s in rows:
        print(f"{setting:<28} {name:<12} {reg_s * 1e3:>13.2f} {model_s * 1e3:>15.2f} "
              f"{reg_s / model_s:>8.3f}")


if __name__ == "__main__":
    main()
