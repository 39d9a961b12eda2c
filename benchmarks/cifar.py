"""Training speed of the CIFAR-100 tasks: step rate under each weight regularizer, and the data pipeline.

(a) Steps per second of CNN-9 and ResNet-18 with ``none`` and with every weight regularizer, and
each one's time per step as a ratio to ``none``. A step is one of the one training loop
(``regbench.training.fit``) on what the task sets up (``Cifar100Task.setup``, given the synthetic
images instead of CIFAR-100's files): a batch by indexing, ``Cifar100Task.loss`` (batched crop +
flip, forward, label-smoothed cross-entropy) under the task's autocast, the regularizer's weight
penalty, backward, SGD and its learning-rate schedule; the loss is read once per ``--steps``
steps, not validated. All in this one run: each regularizer trains its own copy of the network
from the same weights, and the regularizers take turns within each of ``--repeats`` rounds
(medians reported), so load from other processes hits them alike.
(b) Images per second of the device pipeline (uint8 images on the device, a batch of a fresh
permutation per epoch as the task's, batched crop + flip, normalisation) against a torchvision
``DataLoader`` over the same images (PIL, ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``,
``ToTensor``, ``Normalize``); the DataLoader side is skipped with a note when torchvision cannot
be imported. Synthetic real-shaped data (50,000 random 32×32 images by default), no dataset
needed. Defaults: CUDA when available, batch 128 on CUDA and 16 on the CPU.

    python benchmarks/cifar.py [--device cpu|cuda] [--batch N] [--steps 3] [--repeats 3]
                               [--bf16] [--channels-last] [--threads N] [--workers 0]
"""
import argparse
import contextlib
import statistics
from unittest import mock

import torch
from torch.utils.data import DataLoader, Dataset

import regbench.tasks.cifar100
from regbench import REGULARIZERS, create_task
from regbench.datasets.augment import Normalize, random_crop_flip
from regbench.datasets.cifar100 import MEAN, STD
from regbench.tasks._base import RunContext
from regbench.training import Term, epochs
from timing import fit_seconds, seconds

WEIGHT_REGULARIZERS = ["none", "orthogonal", "srip", "mhe", "mhs", "mhp", "r_mhp", "mhc", "mgd"]
MODELS = {"cnn9": "cifar100_cnn9", "resnet18": "cifar100_resnet18"}


@contextlib.contextmanager
def synthetic(x, y):
    """``Cifar100Task.setup`` loads the images ``x`` and labels ``y`` as its training set (and an
    empty test set) instead of CIFAR-100's files."""
    data = (x, y, x[:0], y[:0])
    with mock.patch.object(regbench.tasks.cifar100, "load_cifar100", lambda: data):
        yield


def trainer(task_name: str, options: dict, reg: str, x, y, device, args):
    """``train(n)``: seconds of n training-loop steps of a fresh network (seed 0) under ``reg``, as
    the task sets it up on ``x, y``, after one warm-up step."""
    task = create_task(task_name, batch_size=args.batch, **options)
    cls = REGULARIZERS.get(reg)
    regularizer = cls(**cls.resolve({}, defaults=task.term_defaults)).to(device)
    target = task.target_for(cls)
    with synthetic(x, y):
        training = task.setup(regularizer, target, RunContext(seed=0, device=device, quiet=True))
    term = Term(regularizer, target, task.term_scale(target) if target else 1.0)

    def train(n: int) -> float:
        return fit_seconds(training, task.loss, term, n, device)
    train(1)
    return train


def step_times(task_name: str, options: dict, x, y, device, args) -> dict[str, float]:
    runs = {reg: trainer(task_name, options, reg, x, y, device, args) for reg in WEIGHT_REGULARIZERS}
    times = {reg: [] for reg in WEIGHT_REGULARIZERS}
    for _ in range(args.repeats):
        for reg, train in runs.items():
            times[reg].append(train(args.steps) / args.steps)
    return {reg: statistics.median(t) for reg, t in times.items()}


class Images(Dataset):
    """uint8 HWC images as PIL, transformed per item (a torchvision-style dataset)."""

    def __init__(self, images, transform):
        from PIL import Image
        self.images, self.transform, self.pil = images, transform, Image.fromarray

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.pil(self.images[i])), 0


def dataloader_batches(x, args, device):
    try:
        from torchvision import transforms
    except ImportError as exc:
        print(f"  DataLoader side skipped: torchvision cannot be imported ({exc})")
        return None
    transform = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                    transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    loader = DataLoader(Images(x.permute(0, 2, 3, 1).numpy(), transform), batch_size=args.batch, shuffle=True,
                        drop_last=True, num_workers=args.workers, pin_memory=device.type == "cuda")

    def forever():
        while True:
            for images, _ in loader:
                yield images.to(device, non_blocking=True)
    return forever()


def pipeline(x, args, device):
    on_device = x.to(device)
    generator = torch.Generator(device).manual_seed(0)
    indices = epochs(len(on_device), args.batch, generator, device, drop_last=True)
    normalize = Normalize(MEAN, STD).to(device)
    device_batches = (normalize(random_crop_flip(on_device[i], 4, generator)) for i in indices)
    pipelines = {"device pipeline": device_batches}
    loader = dataloader_batches(x, args, device)
    if loader is not None:
        pipelines["torchvision DataLoader"] = loader
    rates = {name: [] for name in pipelines}
    for _ in range(args.repeats):
        for name, batches in pipelines.items():
            elapsed = seconds(lambda: [next(batches) for _ in range(args.pipeline_batches)], device)
            rates[name].append(args.pipeline_batches * args.batch / elapsed)
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, rate in medians.items():
        ratio = rate / medians["torchvision DataLoader"] if loader is not None else None
        print(f"  {name:24s} {rate:12,.0f} images/s" + (f"   ×{ratio:.1f}" if ratio else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, help="minibatch size (default 128 on CUDA, 16 on the CPU)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--images", type=int, default=50000, help="synthetic training images")
    parser.add_argument("--pipeline-batches", type=int, default=20, help="batches per round in (b)")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()
    device = torch.device(args.device)
    args.batch = args.batch or (128 if device.type == "cuda" else 16)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"channels_last": args.channels_last, "autocast": "bf16" if args.bf16 else "none"}
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 100, (args.images,), generator=g)
    print(f"{device} ({torch.get_num_threads()} CPU threads), batch {args.batch}, options {options}; "
          f"medians of {args.repeats} interleaved rounds of {args.steps} steps")
    print(f"(a) {'model':9s} {'regularizer':12s} {'steps/s':>9s} {'time vs none':>13s}")
    for short, task_name in MODELS.items():
        times = step_times(task_name, options, x, y, device, args)
        for reg, t in times.items():
            print(f"    {short:9s} {reg:12s} {1 / t:9.2f} {t / times['none']:13.2f}")
    print(f"(b) data pipeline, batches of {args.batch}, {args.pipeline_batches} batches × "
          f"{args.repeats} rounds")
    pipeline(x, args, device)


if __name__ == "__main__":
    main()
