"""``digits_ae``: a small MLP autoencoder on scikit-learn's bundled 8×8 digits (no download).

Loss = mean squared reconstruction error + ``lam`` · regularizer(latent batch). Pixels are scaled to
[0, 1]; a fixed stratified 80/20 train/test split (independent of the seed, so seeds vary only the
model). Metrics follow seed 000 §4: test MSE, latent covariance trace / d, eccentricity ε, and the
test error of a KNN classifier fitted on the training codes.
"""
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from ..geometry import covariance_spectrum, eccentricity
from ..params import Param
from ..registry import register_task
from ..regularizers.base import CODES
from ..training import check_finite, minibatches
from .base import Task


def load_digits_split():
    """(x_train, y_train, x_test, y_test) as float32/long tensors, pixels in [0, 1]."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    train, test = train_test_split(range(len(x)), test_size=0.2, random_state=0, stratify=digits.target)
    return x[train], y[train], x[test], y[test]


def mlp(sizes, final=None):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.1))
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


@register_task("digits_ae")
class DigitsAE(Task):
    """MLP autoencoder 64 → 128 → 64 → d → 64 → 128 → 64 (sigmoid) on sklearn digits."""

    supports = (CODES,)
    metrics = {"test_mse": "min", "cov_trace_per_d": "target1", "eccentricity": "",
               "knn_error": "min"}

    d = Param(8, "latent dimension", check=lambda v: v >= 2, rule="d ≥ 2")
    lam = Param(1e-3, "weight λ of the regularizer", check=lambda v: v >= 0, rule="λ ≥ 0")
    epochs = Param(60, "training epochs", check=lambda v: v >= 1, rule="≥ 1")
    batch_size = Param(100, "minibatch size", check=lambda v: v >= 2, rule="≥ 2")
    lr = Param(1e-3, "Adam learning rate", check=lambda v: v > 0, rule="> 0")
    weight_decay = Param(1e-6, "Adam weight decay", check=lambda v: v >= 0, rule="≥ 0")
    knn_k = Param(5, "neighbours of the KNN classifier", check=lambda v: v >= 1, rule="≥ 1")

    def run(self, regularizer, ctx):
        torch.manual_seed(ctx.seed)
        x_train, y_train, x_test, y_test = load_digits_split()
        x_train, x_test = x_train.to(ctx.device), x_test.to(ctx.device)
        encoder = mlp([64, 128, 64, self.d]).to(ctx.device)
        decoder = mlp([self.d, 64, 128, 64], final=nn.Sigmoid()).to(ctx.device)
        params = list(encoder.parameters()) + list(decoder.parameters())
        optimizer = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(ctx.seed)
        for epoch in ctx.progress(range(self.epochs), desc="digits_ae"):
            for batch in minibatches(len(x_train), self.batch_size, generator):
                z = encoder(x_train[batch])
                loss = (decoder(z) - x_train[batch]).pow(2).mean() + self.lam * regularizer(z)
                check_finite(loss, epoch, "epoch")
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            z_train, z_test = encoder(x_train), encoder(x_test)
            test_mse = float((decoder(z_test) - x_test).pow(2).mean())
        spectrum = covariance_spectrum(z_train)
        knn = KNeighborsClassifier(self.knn_k).fit(z_train.cpu().numpy(), y_train.numpy())
        knn_error = float((knn.predict(z_test.cpu().numpy()) != y_test.numpy()).mean())
        return {"test_mse": test_mse, "cov_trace_per_d": float(spectrum.sum()) / self.d,
                "eccentricity": eccentricity(spectrum), "knn_error": knn_error}
