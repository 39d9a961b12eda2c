"""Image classification at CPU scale, for the weight regularizers: a network trained with Adam on
cross-entropy + the regularizer's ``weight_penalty`` of every conv and linear layer (the last is
the final layer; the regularizer's own coefficients and half-space option apply), in the spirit of
the classification experiments of Liu et al., "Learning towards Minimum Hyperspherical Energy",
NeurIPS 2018, arXiv:1805.09298.

A subclass supplies its data (:meth:`load`: train, validation and test inputs with labels) and
its :meth:`network` (logits from the inputs as loaded). The model kept is the last one. Metrics: top-1
``test_error`` and ``val_error`` (fractions), the last epoch's ``train_loss`` and the geometry of
every layer's filters (``weights.*``, ``layers``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import describe_layers
from ..params import Param
from ..regularizers._base import WEIGHTS
from ..training import Training, epochs, fixed_subset
from ..weights import weight_layers
from ._autoencoder import Split
from ._base import FLOAT32, TRAINED, MemoryNeed, Task, forward_bytes


class ClassifierTask(Task):
    supports = (WEIGHTS,)
    metrics = ("test_error", "val_error", "train_loss")
    input_shape: tuple[int, ...] = ()
    eval_batch = 1000

    epochs = Param(10, "training epochs", ge=1)
    batch_size = Param(64, "minibatch size", ge=1)
    lr = Param(1e-3, "Adam learning rate", gt=0)
    weight_decay = Param(0.0, "Adam weight decay", ge=0)
    train_size = Param(0, "train on a fixed random subset of this many training items (0 = all)",
                       ge=0)
    layer_geometry = Param(True, "geometry diagnostics of every layer's filters", identity=False)

    def load(self) -> Split:
        raise NotImplementedError

    def network(self) -> nn.Module:
        raise NotImplementedError

    def memory_needs(self, regularizer, reg_params):
        parameters, saved, _ = forward_bytes(type(self), self.network, self.input_shape)
        return [MemoryNeed("the network and its optimizer state", TRAINED * FLOAT32 * parameters),
                MemoryNeed("the activations of a batch", self.batch_size * saved, "batch_size")]

    def setup(self, regularizer, target, ctx):
        torch.manual_seed(ctx.seed)
        self.data = self.load().to(ctx.device)
        model = self.network().to(ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        train = fixed_subset(len(self.data.x_train), self.train_size).to(ctx.device)
        generator = torch.Generator().manual_seed(ctx.seed)
        batches = ((self.data.x_train[train[b]], self.data.y_train[train[b]])
                   for b in epochs(len(train), self.batch_size, generator, ctx.device))
        per_epoch = -(-len(train) // self.batch_size)
        return Training(model, optimizer, batches, self.epochs * per_epoch, period=per_epoch)

    def loss(self, model, batch):
        x, y = batch
        return F.cross_entropy(model(x), y), {}

    @torch.no_grad()
    def error(self, model, x: torch.Tensor, y: torch.Tensor) -> float:
        model.eval()
        wrong = sum(int((model(x[i:i + self.eval_batch]).argmax(1) != y[i:i + self.eval_batch]).sum())
                    for i in range(0, len(x), self.eval_batch))
        model.train()
        return wrong / len(x)

    def validate(self, model):
        return {"val_error": self.error(model, self.data.x_val, self.data.y_val)}

    def evaluate(self, model, summary, ctx):
        return {"test_error": self.error(model, self.data.x_test, self.data.y_test),
                "val_error": self.error(model, self.data.x_val, self.data.y_val),
                "train_loss": summary.train_loss,
                **(describe_layers(weight_layers(model)) if self.layer_geometry else {})}
