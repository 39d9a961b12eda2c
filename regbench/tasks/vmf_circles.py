"""``vmf_circles``: the circle experiment (§5.1, Figure 1) of Tim R. Davidson, Luca Falorsi, Nicola De
Cao, Thomas Kipf, Jakub M. Tomczak, "Hyperspherical Variational Auto-Encoders", UAI 2018,
arXiv:1804.00891: data with a latent circle, and whether a 2-dimensional latent recovers it.

Data (one draw, the same for every run; ``data_seed``): angles θ from an equal mixture of three von
Mises distributions on the circle, mean directions 0, 2π/3 and 4π/3, concentration ``kappa``; the
points (cos θ, sin θ) mapped into R^100 by a fixed random non-linear map x = tanh(A u + b), A with
N(0, 4) entries, b uniform in (−1, 1), plus N(0, ``noise``²) noise per coordinate. The paper
gives the mixture of three vMFs, R^100 and "a noisy, non-linear transformation" but not their
parameters, the networks or the training; these are regbench's choices. ``points`` training
points, 1,000 validation and 1,000 test points.

Model: encoder 100 → 128 → 64 → the head, decoder d → 64 → 128 → 100 means, ReLU, a Gaussian
likelihood with one learned standard deviation; Adam lr 1e-3, batches of 64, ``epochs`` epochs,
the model of the best validation ELBO kept (:mod:`regbench.tasks._vae`). An autoencoder is
``none``, an N-VAE ``kl_gauss`` (β = λ), an S-VAE ``vmf`` (codes on S^1 at d = 2).

Metrics: ``test_ll`` (importance sampling, 500 codes per point), ELBO, RE, KL; ``circle_recovery``,
how well the latent angle φ (of each test code about the codes' mean) recovers the true angle θ up
to a rotation and a reflection: max over s = ±1 of |(1/n) Σ_k exp(i(φ_k − s θ_k))| (1: φ = ±θ + c
exactly; about 0 when they are unrelated); figures: the data's latent circle and the learned codes,
coloured by mixture component (Figure 1's panels).
"""
import math

import numpy as np
import torch
from torch import nn

from ..models.mlp import mlp
from ..params import Param
from ..registry import register_task
from ._vae import VAEData, VAETask

DIM, MEANS = 100, (0.0, 2 * math.pi / 3, 4 * math.pi / 3)
HELD_OUT = 1000  # validation and test points each


def circle_data(n: int, kappa: float, noise: float, seed: int):
    """(points in R^100, angles θ, components) of ``n`` points, a function of ``seed``."""
    rng = np.random.default_rng(seed)
    component = rng.integers(len(MEANS), size=n)
    theta = np.mod(rng.vonmises(np.array(MEANS)[component], kappa), 2 * math.pi)
    a = rng.normal(0, 2, (DIM, 2))
    b = rng.uniform(-1, 1, DIM)
    u = np.stack([np.cos(theta), np.sin(theta)], 1)
    x = np.tanh(u @ a.T + b) + noise * rng.normal(size=(n, DIM))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(theta), torch.tensor(component)


def circle_recovery(theta: torch.Tensor, phi: torch.Tensor) -> float:
    """max_s |mean exp(i(φ − s θ))| over s = ±1: 1 when φ = ±θ + a constant."""
    return max(float(torch.polar(torch.ones_like(phi), phi - s * theta).mean().abs()) for s in (1, -1))


class GaussianDecoder(nn.Module):
    """The mean network's output and one learned log standard deviation of every coordinate."""

    def __init__(self, mean: nn.Module):
        super().__init__()
        self.mean = mean
        self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean(z)


@register_task("vmf_circles")
class VmfCircles(VAETask):
    """Three vMFs on the circle in R^100: autoencoder, N-VAE and S-VAE with a 2-d latent."""

    metrics = ("test_ll", "test_elbo", "test_re", "test_kl", "circle_recovery", "val_elbo", "val_re")
    ranked = False  # a sanity check of the posteriors on data of a known latent circle

    points = Param(2000, "training points", ge=2)
    kappa = Param(10.0, "concentration of each of the three von Mises components", gt=0)
    noise = Param(0.05, "standard deviation of the noise added in R^100", ge=0)
    data_seed = Param(0, "seed of the data and of the map into R^100 (the same for every run)", ge=0)
    figures = Param(True, "write Figure 1's panels (when the runner gives a directory)", identity=False)

    def load(self, ctx) -> VAEData:
        x, theta, component = circle_data(self.points + 2 * HELD_OUT, self.kappa, self.noise,
                                          self.data_seed)
        self.theta = theta[-HELD_OUT:]
        train, val, test = self.points, self.points + HELD_OUT, slice(-HELD_OUT, None)
        return VAEData(x[:train], component[:train], x[train:val], x[test], component[test])

    def networks(self, head_size):
        return (mlp([DIM, 128, 64, head_size], activation=nn.ReLU),
                GaussianDecoder(mlp([self.d, 64, 128, DIM], activation=nn.ReLU)))

    def log_likelihood(self, model, output, x):
        log_scale = model.decoder.log_scale
        return -(0.5 * ((x - output) * torch.exp(-log_scale)).pow(2) + log_scale
                 + 0.5 * math.log(2 * math.pi)).sum(1)

    def downstream(self, z_train, z_test, ctx):
        centred = z_test[:, :2] - z_test[:, :2].mean(0)
        phi = torch.atan2(centred[:, 1], centred[:, 0]).double()
        theta = self.theta[self.test_items]
        metrics = {"circle_recovery": circle_recovery(theta, phi)}
        if self.figures and ctx.artifacts_dir is not None:
            metrics["figures"] = self.write_figures(z_test, theta, ctx.artifacts_dir)
        return metrics

    def write_figures(self, z_test, theta, out) -> list[str]:
        from .. import figures  # matplotlib only when figures are drawn
        labels = self.data.y_test.numpy()
        circle = np.stack([np.cos(theta.numpy()), np.sin(theta.numpy())], 1)
        return [figures.latent_scatter(circle, labels, out / "data_latent.png",
                                       title="data: the latent circle", axes=("cos θ", "sin θ")),
                figures.latent_scatter(z_test[:, :2].numpy(), labels, out / "learned_latent.png",
                                       title="learned codes of the test points", axes=("z1", "z2"))]
