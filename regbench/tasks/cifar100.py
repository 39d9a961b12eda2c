"""``cifar100_cnn9``, ``cifar100_resnet18``: CIFAR-100 classification under weight regularizers (seed 002).

REFERENCE.md §3: SGD lr 0.1, momentum 0.9, weight decay 5e-4 (on every parameter: unconfirmed),
batch 128, label smoothing 0.01, random crop with 4-pixel zero padding + horizontal flip, 75,000
iterations with the learning rate ×0.1 at 40 %, 2/3 and 13/15 of them (30k/50k/65k of 75k). The
same recipe for ResNet-18, whose recipe seed 002 does not give. Every epoch is a fresh random
permutation of the training images (the last partial batch dropped). Loss = cross-entropy +
``regularizer.weight_penalty`` of every conv and linear layer (the last is the final layer; the
regularizer's own coefficients and half-space option apply). Latent-code and posterior
regularizers are refused before training. SRIP's coefficient schedule is not applied (constant).

Pipeline: all images stay uint8 on the device; each step indexes a batch, crops / flips it with
batched tensor ops (:mod:`regbench.datasets.augment`) and normalises it inside the network. Losses
accumulate on the device and are read (and checked for NaN / inf: status ``diverged`` with the step
of the check) every ``check_every`` steps. Options: channels-last, bf16 autocast (losses in
float32), ``torch.compile``. Metrics: top-1 ``test_error`` (a fraction), final
``train_loss`` (cross-entropy, mean over the last ``check_every`` steps) and ``penalty``, and the
geometry of every layer's filters (``weights.*``, ``layers``).
"""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.augment import Normalize, random_crop_flip
from ..datasets import cifar100 as dataset
from ..datasets.cifar100 import MEAN, STD, cifar100_files, load_cifar100
from ..geometry import describe_layers
from ..models.cnn9 import cnn9
from ..models.resnet18 import ResNet18
from ..params import Param
from ..registry import register_task
from ..regularizers._base import WEIGHTS
from ..training import check_finite, fixed_subset
from ..weights import weight_layers
from ._base import Task
from ._speed import SpeedOptions, autocast_context

MILESTONES = (30 / 75, 50 / 75, 65 / 75)  # fractions of training where the learning rate drops ×0.1


def milestones(iterations: int) -> list[int]:
    """The steps at which the learning rate drops: 30000, 50000, 65000 for 75000 iterations."""
    return [round(iterations * f) for f in MILESTONES]


def positive(default, doc: str) -> Param:
    return Param(default, doc, check=lambda v: v > 0, rule="> 0")


class Cifar100Task(SpeedOptions, Task):
    """CIFAR-100 classification; a subclass supplies :meth:`network` (logits from normalised images)."""

    supports = (WEIGHTS,)
    metrics = {"test_error": "min", "train_loss": "min"}

    iterations = positive(75000, "training steps (minibatches)")
    batch_size = positive(128, "minibatch size")
    lr = positive(0.1, "initial SGD learning rate")
    momentum = Param(0.9, "SGD momentum", check=lambda v: 0 <= v < 1, rule="0 ≤ m < 1")
    weight_decay = Param(5e-4, "SGD weight decay", check=lambda v: v >= 0, rule="≥ 0")
    label_smoothing = Param(0.01, "label smoothing of the cross-entropy", check=lambda v: 0 <= v < 1,
                            rule="0 ≤ ε < 1")
    augment = Param(True, "random crop (4-pixel zero padding) and horizontal flip of training images")
    train_size = Param(0, "train on a fixed random subset of this many images (0 = all)",
                       check=lambda v: v >= 0, rule="≥ 0")
    test_size = Param(0, "test on a fixed random subset of this many images (0 = all)",
                      check=lambda v: v >= 0, rule="≥ 0")
    eval_batch = positive(1000, "test images per forward pass")
    check_every = positive(500, "steps between reads of the loss (NaN check, intermediate report)")
    compile = Param(False, "torch.compile the network")

    def network(self) -> nn.Module:
        raise NotImplementedError

    def check_data(self):
        cifar100_files()

    def data_checksums(self):
        return {f"{dataset.FOLDER}/{name}": f"md5:{md5}"  # the checksums verified on load
                for name, md5 in dataset.FILES.items()}

    def build(self, device) -> nn.Module:
        return self.place(nn.Sequential(OrderedDict(normalize=Normalize(MEAN, STD), net=self.network())),
                          device)

    def optimizer(self, model: nn.Module):
        """(SGD over every parameter, its step schedule: ×0.1 at :func:`milestones`)."""
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        return optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones(self.iterations))

    def logits(self, forward, x: torch.Tensor) -> torch.Tensor:
        """float32 logits of uint8 images, under the task's memory format and autocast."""
        with autocast_context(x.device.type, self.autocast):
            return forward(self.layout(x)).float()

    def batches(self, n: int, generator: torch.Generator):
        """Endless index batches: a fresh permutation per epoch, the last partial batch dropped."""
        size = min(self.batch_size, n)
        while True:
            order = torch.randperm(n, generator=generator, device=generator.device)
            yield from order[:n - n % size].view(-1, size)

    def train_step(self, model, forward, optimizer, regularizer, x, y, generator) -> torch.Tensor:
        """One SGD step on a uint8 batch; returns [cross-entropy, penalty], detached, on the device."""
        if self.augment:
            x = random_crop_flip(x, 4, generator)
        loss = F.cross_entropy(self.logits(forward, x), y, label_smoothing=self.label_smoothing)
        penalty = regularizer.weight_penalty(weight_layers(model))
        optimizer.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        optimizer.step()
        return torch.stack([loss.detach(), penalty.detach().to(loss.dtype)])

    @torch.no_grad()
    def test_error(self, forward, model, x, y) -> float:
        model.eval()
        wrong = torch.zeros((), dtype=torch.long, device=x.device)
        for i in range(0, len(x), self.eval_batch):
            wrong += (self.logits(forward, x[i:i + self.eval_batch]).argmax(1)
                      != y[i:i + self.eval_batch]).sum()
        model.train()
        return float(wrong) / len(x)

    def run(self, regularizer, ctx):
        torch.manual_seed(ctx.seed)
        target = self.target_for(type(regularizer))
        x, y, x_test, y_test = load_cifar100()
        train, test = fixed_subset(len(x), self.train_size), fixed_subset(len(x_test), self.test_size)
        x, y = x[train].to(ctx.device), y[train].to(ctx.device)
        x_test, y_test = x_test[test].to(ctx.device), y_test[test].to(ctx.device)
        model = self.build(ctx.device)
        forward = torch.compile(model) if self.compile else model
        optimizer, schedule = self.optimizer(model)
        generator = torch.Generator(ctx.device).manual_seed(ctx.seed)
        batches = self.batches(len(x), generator)
        totals, steps = torch.zeros(2, device=ctx.device), 0
        model.train()
        for step in ctx.progress(range(self.iterations), desc=self.registered_name):
            index = next(batches)
            totals += self.train_step(model, forward, optimizer, regularizer, x[index], y[index],
                                      generator)
            schedule.step()
            steps += 1
            if steps == self.check_every or step == self.iterations - 1:
                check_finite(totals.sum(), step)
                loss, penalty = (totals / steps).tolist()
                ctx.report(step, {"train_loss": loss})
                totals.zero_()
                steps = 0
        error = self.test_error(forward, model, x_test, y_test)
        return {"test_error": error, "train_loss": loss, "penalty": penalty,
                "target": target, **describe_layers(weight_layers(model))}


@register_task("cifar100_cnn9")
class Cifar100CNN9(Cifar100Task):
    """CNN-9 on CIFAR-100 (seed 002; REFERENCE.md §3)."""

    def network(self):
        return cnn9(100)


@register_task("cifar100_resnet18")
class Cifar100ResNet18(Cifar100Task):
    """CIFAR-style ResNet-18 on CIFAR-100 (seed 002; recipe of CNN-9, REFERENCE.md §3)."""

    def network(self):
        return ResNet18(100)
