"""``cifar100_cnn9``, ``cifar100_resnet18``: CIFAR-100 classification under weight regularizers, as in
Liu, Lin, Liu, Xiong, Schölkopf & Weller, "Learning with Hyperspherical Uniformity",
AISTATS 2021, arXiv:2103.01649.

The recipe of Liu et al. (CNN-9): SGD lr 0.1, momentum 0.9, weight decay 5e-4 (on every parameter: unconfirmed),
batch 128, label smoothing 0.01, random crop with 4-pixel zero padding + horizontal flip, 75,000
iterations with the learning rate ×0.1 at 40 %, 2/3 and 13/15 of them (30k/50k/65k of 75k). The
same recipe for ResNet-18, whose recipe Liu et al. do not give (unconfirmed). Every epoch is a fresh random
permutation of the training images (the last partial batch dropped). Loss = cross-entropy +
``regularizer.weight_penalty`` of every conv and linear layer (the last is the final layer; the
regularizer's own coefficients and half-space option apply). Latent-code and posterior
regularizers are refused before training.

A regularizer whose coefficient follows a schedule over training has it applied over the
iterations (srip's, after Bansal, Chen & Wang, "Can We Gain More from Orthogonality Regularizations
in Training Deep CNNs?", NeurIPS 2018, arXiv:1810.09102: ×1e-3, 1e-4, 1e-6 and 0 after 10, 25, 35
and 60 % of them, steps 7500, 18750, 26250, 45000 of 75000); the coefficients of the regularizers
of Liu et al. are constant.

Pipeline: all images stay uint8 on the device; each step indexes a batch, crops / flips it with
batched tensor ops (:mod:`regbench.datasets.augment`) and normalises it inside the network. Losses
accumulate on the device and are read (and checked for NaN / inf: status ``diverged`` with the step
of the check) every ``check_every`` steps. Options: channels-last, bf16 autocast (losses in
float32), ``torch.compile``. Metrics: top-1 ``test_error`` (a fraction), ``val_error`` on the
``val_size`` last training images held out (none by default, as the paper), final
``train_loss`` (cross-entropy, mean over the last ``check_every`` steps) and ``penalty`` (the term
as added to the loss: 0 at the end of srip's schedule), and the geometry of every layer's filters
(``weights.*``, ``layers``).
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
from ..training import Training, epochs, fixed_subset
from ..weights import weight_layers
from ._base import FLOAT32, MemoryNeed, Task, forward_bytes
from ._speed import SpeedOptions

MILESTONES = (30 / 75, 50 / 75, 65 / 75)  # fractions of training where the learning rate drops ×0.1


def milestones(iterations: int) -> list[int]:
    """The steps at which the learning rate drops: 30000, 50000, 65000 for 75000 iterations."""
    return [round(iterations * f) for f in MILESTONES]


def positive(default, doc: str) -> Param:
    return Param(default, doc, gt=0)


class Cifar100Task(SpeedOptions, Task):
    """CIFAR-100 classification; a subclass supplies :meth:`network` (logits from normalised images)."""

    supports = (WEIGHTS,)
    metrics = ("test_error", "val_error", "train_loss")

    iterations = positive(75000, "training steps (minibatches)")
    batch_size = positive(128, "minibatch size")
    lr = positive(0.1, "initial SGD learning rate")
    momentum = Param(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay = Param(5e-4, "SGD weight decay", ge=0)
    label_smoothing = Param(0.01, "label smoothing of the cross-entropy", ge=0, lt=1)
    augment = Param(True, "random crop (4-pixel zero padding) and horizontal flip of training images")
    train_size = Param(0, "train on a fixed random subset of this many images (0 = all)",
                       ge=0)
    test_size = Param(0, "test on a fixed random subset of this many images (0 = all)",
                      ge=0)
    val_size = Param(0, "training images held out (the last ones) as a validation set (0: none, "
                     "as the paper)", ge=0, lt=50000)
    eval_batch = positive(1000, "test images per forward pass")
    check_every = positive(500, "steps between reads of the loss (NaN check, intermediate report)")
    compile = Param(False, "torch.compile the network", identity=False)
    layer_geometry = Param(True, "geometry diagnostics of every layer's filters (the slow part of a "
                           "short run on a CPU)", identity=False)

    def network(self) -> nn.Module:
        raise NotImplementedError

    def check_data(self):
        cifar100_files()

    def data_checksums(self):
        return {f"{dataset.FOLDER}/{name}": f"md5:{md5}"  # the checksums verified on load
                for name, md5 in dataset.FILES.items()}

    def memory_needs(self, regularizer, reg_params):
        """The network with SGD's state and the activations of a training batch and of a test batch
        (from forward passes on the meta device); the images, uint8."""
        parameters, saved, largest = forward_bytes(type(self), self.network, (3, 32, 32))
        return [MemoryNeed("the network and its optimizer state", 3 * FLOAT32 * parameters),
                MemoryNeed("the activations of a batch", self.batch_size * saved, "batch_size"),
                MemoryNeed("the activations of a test batch", 2 * self.eval_batch * largest, "eval_batch"),
                MemoryNeed("the images", 60000 * 3 * 32 * 32)]

    def build(self, device) -> nn.Module:
        return self.place(nn.Sequential(OrderedDict(normalize=Normalize(MEAN, STD), net=self.network())),
                          device)

    def optimizer(self, model: nn.Module):
        """(SGD over every parameter, its step schedule: ×0.1 at :func:`milestones`)."""
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)
        return optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones(self.iterations))

    def logits(self, forward, x: torch.Tensor) -> torch.Tensor:
        """float32 logits of uint8 images in the task's memory format (under the loop's autocast)."""
        return forward(self.layout(x)).float()

    def setup(self, regularizer, target, ctx):
        torch.manual_seed(ctx.seed)
        x, y, x_test, y_test = load_cifar100()
        n = len(x) - self.val_size
        self.x_val, self.y_val = x[n:].to(ctx.device), y[n:].to(ctx.device)
        x, y = x[:n], y[:n]
        train, test = fixed_subset(len(x), self.train_size), fixed_subset(len(x_test), self.test_size)
        self.x_test, self.y_test = x_test[test].to(ctx.device), y_test[test].to(ctx.device)
        x, y = x[train].to(ctx.device), y[train].to(ctx.device)
        model = self.build(ctx.device)
        self.forward = torch.compile(model) if self.compile else model
        optimizer, schedule = self.optimizer(model)
        self.generator = torch.Generator(ctx.device).manual_seed(ctx.seed)
        batches = ((x[index], y[index]) for index in
                   epochs(len(x), self.batch_size, self.generator, ctx.device, drop_last=True))
        return Training(model, optimizer, batches, self.iterations, period=self.check_every,
                        unit="step", schedule=schedule,
                        check_every_step=False, autocast=self.autocast)

    def loss(self, model, batch):
        """Label-smoothed cross-entropy of an (augmented) uint8 batch."""
        x, y = batch
        if self.augment:
            x = random_crop_flip(x, 4, self.generator)
        return F.cross_entropy(self.logits(self.forward, x), y, label_smoothing=self.label_smoothing), {}

    @torch.no_grad()
    def error(self, model, x: torch.Tensor, y: torch.Tensor) -> float:
        model.eval()
        wrong = torch.zeros((), dtype=torch.long, device=x.device)
        for i in range(0, len(x), self.eval_batch):
            wrong += (self.logits(self.forward, x[i:i + self.eval_batch]).argmax(1)
                      != y[i:i + self.eval_batch]).sum()
        model.train()
        return float(wrong) / len(x)

    def evaluate(self, model, summary, ctx):
        return {"test_error": self.error(model, self.x_test, self.y_test),
                **({"val_error": self.error(model, self.x_val, self.y_val)} if self.val_size else {}),
                "train_loss": summary.train_loss,
                "penalty": summary.penalty,
                **(describe_layers(weight_layers(model)) if self.layer_geometry else {})}


@register_task("cifar100_cnn9")
class Cifar100CNN9(Cifar100Task):
    """CNN-9 on CIFAR-100 (Liu et al., AISTATS 2021)."""

    def network(self):
        return cnn9(100)


@register_task("cifar100_resnet18")
class Cifar100ResNet18(Cifar100Task):
    """CIFAR-style ResNet-18 on CIFAR-100 (Liu et al., AISTATS 2021; the recipe of CNN-9)."""

    def network(self):
        return ResNet18(100)
