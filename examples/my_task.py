"""``rings_ae``: an autoencoder on noisy concentric rings, a task of one's own (a plugin:
``--plugin examples.my_task``).

Points on ``rings`` concentric circles of radius 1, 2, … (Gaussian noise of std 0.05) are mapped
into R^``dim`` by a fixed random linear map and standardised; the data and their split (half
training, a quarter validation, a quarter test) are the same for every run. An MLP autoencoder
``dim`` → ``hidden`` → ``d`` → ``hidden`` → ``dim`` (ReLU) is trained by Adam on the mean squared
error plus the regularizer's term, on its codes or on its layers' weights; the model of the
best validation error is kept. Metrics: ``test_mse`` and ``val_mse`` (per coordinate),
``ring_error`` (the test codes' ring told by the nearest mean of the training codes of each ring),
and the geometry of the test codes (``latent.*``).
"""
import torch
import torch.nn.functional as F
from torch import nn

from regbench import CODES, WEIGHTS, Param, Task, Training, declare, epochs, register_task
from regbench.geometry import describe

declare("ring_error", "min", "the test codes' ring told by the nearest mean of each ring's training codes",
        rate=True)


def rings(points: int, count: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(points × dim data, ring of each point), the same on every call."""
    generator = torch.Generator().manual_seed(0)
    ring = torch.randint(count, (points,), generator=generator)
    angle = 2 * torch.pi * torch.rand(points, generator=generator)
    plane = (ring + 1)[:, None] * torch.stack([angle.cos(), angle.sin()], 1)
    plane = plane + 0.05 * torch.randn(points, 2, generator=generator)
    data = plane @ torch.randn(2, dim, generator=generator)
    return (data - data.mean(0)) / data.std(0), ring


@register_task("rings_ae")
class RingsAE(Task):
    """MLP autoencoder on noisy concentric rings in R^dim."""

    supports = (CODES, WEIGHTS)
    metrics = ("test_mse", "val_mse", "ring_error")
    term_defaults = {"lam": 1e-3}
    seconds = 0.4  # one run at the defaults, measured on one thread of a 2-core CPU

    points = Param(800, "points in all (half train, a quarter validate, a quarter test)", ge=8)
    rings = Param(3, "concentric rings", ge=2)
    dim = Param(16, "dimension of the data", ge=2)
    d = Param(4, "latent dimension", ge=1)
    hidden = Param(32, "units of each hidden layer", ge=1)
    epochs = Param(20, "training epochs", ge=1)
    batch_size = Param(50, "points per step", ge=1)
    lr = Param(1e-2, "Adam learning rate", gt=0)

    def setup(self, regularizer, target, ctx):
        data, ring = rings(self.points, self.rings, self.dim)
        train, val = self.points // 2, self.points // 2 + self.points // 4
        self.parts = {"train": (data[:train], ring[:train]), "val": (data[train:val], ring[train:val]),
                      "test": (data[val:], ring[val:])}
        torch.manual_seed(ctx.seed)
        model = nn.Sequential(nn.Sequential(nn.Linear(self.dim, self.hidden), nn.ReLU(),
                                            nn.Linear(self.hidden, self.d)),
                              nn.Sequential(nn.Linear(self.d, self.hidden), nn.ReLU(),
                                            nn.Linear(self.hidden, self.dim)))
        order = torch.Generator().manual_seed(ctx.seed)
        batches = (data[i] for i in epochs(train, self.batch_size, order))
        per_epoch = -(-train // self.batch_size)
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr), batches,
                        self.epochs * per_epoch, period=per_epoch, select="val_mse")

    def loss(self, model, x):
        z = model[0](x)
        return F.mse_loss(model[1](z), x), {CODES: z}

    @torch.no_grad()
    def validate(self, model):
        x, _ = self.parts["val"]
        return {"val_mse": float(F.mse_loss(model(x), x))}

    @torch.no_grad()
    def evaluate(self, model, summary, ctx):
        (train, train_ring), (test, test_ring) = self.parts["train"], self.parts["test"]
        codes, train_codes = model[0](test), model[0](train)
        means = torch.stack([train_codes[train_ring == r].mean(0) for r in range(self.rings)])
        told = torch.cdist(codes, means).argmin(1)
        return {"test_mse": float(F.mse_loss(model[1](codes), test)), **self.validate(model),
                "ring_error": float((told != test_ring).float().mean()), "train_loss": summary.train_loss,
                "penalty": summary.penalty, **{f"latent.{k}": v for k, v in describe(codes).items()}}
