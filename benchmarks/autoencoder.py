"""Training throughput of the autoencoder tasks: the in-memory pipeline against a torchvision DataLoader.

In-memory: the task's uint8 tensors on the device, minibatches by indexing with a fresh permutation
per epoch (``regbench.training.epochs``, as ``AutoencoderTask.setup`` feeds ``regbench run``).
DataLoader: a plain ``torch.utils.data.DataLoader`` over torchvision datasets of the same
files, decoded and transformed per item with PIL (MNIST: ``torchvision.datasets.MNIST`` on a copy
of the ``.gz`` files in a temporary directory, ``Pad(2)``; CelebA: the training-split JPEGs with
``CenterCrop(140)``, ``Resize(64, Lanczos)``). Both feed the same training steps: ``--batches``
steps of the one training loop (``regbench.training.fit`` on ``AutoencoderTask.loss`` and the
term of the eccentric regularizer on the codes with the task's λ; Adam, batch 100, the task's
autocast and per-step loss check; no validation) after one warm-up step, each measurement on a
fresh model from the same initial weights, alternately for ``--rounds`` rounds (medians reported,
so that load from other processes hits both alike); images per second include data loading.
``--channels-last`` / ``--bf16`` train with those options, after checking that they give the
default fp32 losses within tolerance (2e-3 / 5e-2 relative): the task losses that the loop reports
for 4 steps on one fixed batch from the same initial weights. Data from $REGBENCH_DATA.

    python benchmarks/autoencoder.py [--tasks mnist_ae celeba_ae] [--batches 20] [--rounds 3]
                                     [--device cpu] [--channels-last] [--bf16] [--workers 0]
"""
import argparse
import dataclasses
import itertools
import shutil
import statistics
import tempfile
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from regbench import CODES, REGULARIZERS, create_task
from regbench.datasets.celeba import celeba_folder, folder_index
from regbench.datasets.mnist import mnist_files
from regbench.tasks._base import RunContext
from regbench.training import Term, Training, epochs, fit
from timing import fit_seconds


class CelebaFiles(Dataset):
    """The training-split JPEGs, decoded per item (a plain torchvision-style dataset)."""

    def __init__(self, transform):
        from PIL import Image
        self.open, self.transform = Image.open, transform
        folder = celeba_folder()
        files, partition, _, _ = folder_index(folder)
        self.paths = [folder / "img_align_celeba" / f for f, p in zip(files, partition) if p == 0]

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with self.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB")), 0


def torchvision_dataset(task: str, workdir: str) -> Dataset:
    from torchvision import datasets, transforms
    if task == "mnist_ae":
        raw = Path(workdir) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for path in mnist_files().values():
            shutil.copy(path, raw)
        return datasets.MNIST(workdir, download=True, transform=transforms.Compose(
            [transforms.Pad(2), transforms.ToTensor()]))  # local files: extracted, not downloaded
    return CelebaFiles(transforms.Compose([transforms.CenterCrop(140), transforms.Resize(
        64, interpolation=transforms.InterpolationMode.LANCZOS), transforms.ToTensor()]))


def forever(loader):
    while True:
        yield from loader


def training(task, batches, device, seed: int = 0) -> tuple[Training, Term]:
    """What ``task.setup`` trains, fed ``batches``: a fresh model (seed ``seed``) under the eccentric
    regularizer on its codes, Adam with the task's learning rate and weight decay, the task's
    autocast; and the regularizer's term with the task's λ (as ``regbench run`` resolves it)."""
    torch.manual_seed(seed)
    cls = REGULARIZERS.get("eccentric")
    regularizer = cls(**cls.resolve({}, defaults=task.term_defaults)).to(device)
    model = task.build(regularizer, CODES, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=task.lr, weight_decay=task.weight_decay)
    return (Training(model, optimizer, batches, steps=1, autocast=task.autocast),
            Term(regularizer, CODES, task.term_scale(CODES)))


def images_per_second(task, batches, n: int, device) -> float:
    run, term = training(task, batches, device)
    fit_seconds(run, task.loss, term, 1, device)  # warm-up
    return n * task.batch_size / fit_seconds(run, task.loss, term, n, device)


def losses(task, x: torch.Tensor, device, steps: int = 3) -> list[float]:
    """The task losses that the training loop reports for ``steps + 1`` steps on the fixed batch
    ``x`` (each before its step's update), from the same initial weights."""
    out = []
    ctx = RunContext(seed=0, device=torch.device(device), quiet=True,
                     report=lambda step, metrics: out.append(metrics["train_loss"]))
    run, term = training(task, itertools.repeat(x), device)
    fit(dataclasses.replace(run, steps=steps + 1), task.loss, term, ctx=ctx)
    return out


def check_options(name, options: dict, x, device) -> None:
    reference = losses(create_task(name), x, device)
    for option, tolerance in (("channels_last", 2e-3), ("autocast", 5e-2)):
        if option in options:
            got = losses(create_task(name, **{option: options[option]}), x, device)
            worst = max(abs(a - b) / abs(a) for a, b in zip(reference, got))
            print(f"  {option}={options[option]}: losses {['%.4g' % v for v in got]} vs fp32 "
                  f"{['%.4g' % v for v in reference]}, max relative difference {worst:.2e} "
                  f"({'ok' if worst <= tolerance else 'FAILED'}, tolerance {tolerance:g})")
            if worst > tolerance:
                raise SystemExit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["mnist_ae", "celeba_ae"])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each pipeline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()
    device = torch.device(args.device)
    options = {**({"channels_last": True} if args.channels_last else {}),
               **({"autocast": "bf16"} if args.bf16 else {})}
    for name in args.tasks:
        task = create_task(name, **options)
        data = task.load(RunContext(seed=0)).to(device)
        print(f"{name} ({device}, options: {options or 'none'}, {args.batches} batches of {task.batch_size})")
        check_options(name, options, data.x_train[:task.batch_size], device)
        generator = torch.Generator().manual_seed(0)
        in_memory = (data.x_train[b] for b in epochs(len(data.x_train), task.batch_size, generator, device))
        with tempfile.TemporaryDirectory() as workdir:
            loader = DataLoader(torchvision_dataset(name, workdir), batch_size=task.batch_size, shuffle=True,
                                num_workers=args.workers, pin_memory=device.type == "cuda")
            plain = (x.to(device, non_blocking=True) for x, _ in forever(loader))
            rates = [(images_per_second(task, in_memory, args.batches, device),
                      images_per_second(task, plain, args.batches, device)) for _ in range(args.rounds)]
        fast, slow = (statistics.median(r) for r in zip(*rates))
        print(f"  in-memory {fast:.1f} images/s, DataLoader {slow:.1f} images/s, ratio {fast / slow:.2f} "
              f"(medians of {args.rounds} alternating rounds)")


if __name__ == "__main__":
    main()
