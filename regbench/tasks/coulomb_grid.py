"""``coulomb_grid``: the synthetic "Grid" experiment of Emanuele Sansone, Hafiz Tiomoko Ali, Sun
Jiacheng, "Coulomb Autoencoders", ECAI 2020, arXiv:1802.03505, as in the public code of the arXiv
version (then "Plummer Autoencoders", Sansone, Phan, De Natale, 2018; a copy is
github.com/MannyKayy/PAE: ``data.py``, ``setup.py``, ``evaluate.py``).

Data: an equal mixture of 25 Gaussians in R^2, centred on the grid {−21, −10.5, 0, 10.5, 21}², each
with covariance 0.1 I; ``per_component`` = 20 training points from each (500 in all), drawn once and
used as one full batch, and ``test_per_component`` = 4,000 test points from each (100,000 in all;
``data_seed``: the same data for every run). Networks (the code's ``ENC_ARCH``/``GEN_ARCH``): encoder 2 → w → w → the head, decoder
d → w → w → 2, ReLU, w = 128 · ``width`` (the slides' width factor ×0.25, ×0.5, ×1 of the capacity
table), latent d = 2. Loss: squared L2 reconstruction per point, mean over the batch, + λ · the
regularizer's term (the code's λ = 10 for the MMD autoencoders; the term of a posterior is its KL,
and λ = 2 makes the VAE's ½·REC + KL of the code); Adam with β = (0.5, 0.9) on the full batch for
``iterations`` steps (the code: 2,000,000, lr 1e-4; its VAE lr 1e-3).

Test log-likelihood (the code's ``compute_log_likelihood``): ``gen_samples`` = 100,000 codes are drawn
and decoded, a Gaussian kernel density estimate is fitted to them (scikit-learn ``KernelDensity``,
relative tolerance 1e-6) with the bandwidth chosen by 5-fold cross-validated likelihood among 10
log-spaced values from 1e-3 to 10^1.5 on another ``cv_samples`` = 10,000 decoded codes, and ``test_ll`` is its mean
log-density at the test points (``val_ll`` at ``val_per_component`` validation points from each
component, drawn apart). Codes are drawn from the distribution the regularizer matches
(``prior_sample``: N(0, I) for kl_gauss, mmd_imq, coulomb; uniform on the circle for vmf and
power_spherical), or, for a regularizer that matches none (none, eccentric, …), from the Gaussian
fitted to the training codes, as ``test_ll_fitted`` does for every regularizer. For reference,
``test_ll_data`` is the test points' mean log-density under the true mixture (≈ −3.75, the best any
model can reach). The code's ± is the standard deviation over 10 batches of test points of one
model; regbench's is over seeds. Also recorded: ``test_mse``, the squared reconstruction error of
the test points, and the geometry of their codes.
"""
import math

import numpy as np
import torch
from torch import nn

from ..geometry import describe
from ..models.mlp import mlp
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, POSTERIOR
from ..training import Training
from ._autoencoder import Autoencoder, latent_samples
from ._base import Task

CENTRES = np.linspace(-21, 21, 5)
VARIANCE = 0.1
BANDWIDTHS = np.logspace(-3, 1.5, 10)


def grid_means() -> np.ndarray:
    return np.array([(a, b) for a in CENTRES for b in CENTRES])


def grid_points(per_component: int, rng: np.random.Generator) -> np.ndarray:
    """``per_component`` points from each of the 25 components, shuffled."""
    points = np.repeat(grid_means(), per_component, axis=0)
    points = points + rng.normal(0, math.sqrt(VARIANCE), points.shape)
    return points[rng.permutation(len(points))]


def grid_log_density(x: np.ndarray) -> np.ndarray:
    """log of the true mixture density at the points ``x``."""
    from scipy.special import logsumexp
    sq = ((x[:, None, :] - grid_means()[None]) ** 2).sum(-1)
    return logsumexp(-sq / (2 * VARIANCE), axis=1) - math.log(25 * 2 * math.pi * VARIANCE)


def kde_log_likelihood(samples: np.ndarray, cv_samples: np.ndarray, *points: np.ndarray) -> list[float]:
    """Mean log-density at each set of ``points`` of a Gaussian KDE of ``samples``, its bandwidth
    chosen by cross-validated likelihood on ``cv_samples``."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity
    search = GridSearchCV(KernelDensity(rtol=1e-6), {"bandwidth": BANDWIDTHS}).fit(cv_samples)
    kde = KernelDensity(bandwidth=search.best_params_["bandwidth"], rtol=1e-6).fit(samples)
    return [float(kde.score_samples(x).mean()) for x in points if len(x)]


@register_task("coulomb_grid")
class CoulombGrid(Task):
    """Autoencoders on 25 Gaussians in a 5 × 5 grid; test log-likelihood of decoded codes by KDE."""

    supports = (CODES, POSTERIOR)
    metrics = ("test_ll", "test_ll_fitted", "test_mse", "test_ll_data", "val_ll")
    term_defaults = {"lam": 10.0}

    d = Param(2, "latent dimension", ge=2)
    width = Param(1.0, "width factor of the hidden layers (128 units at 1)", gt=0)
    iterations = Param(2_000_000, "full-batch training steps", ge=1)
    lr = Param(1e-4, "Adam learning rate (β = 0.5, 0.9)", gt=0)
    per_component = Param(20, "training points drawn from each of the 25 components", ge=1)
    test_per_component = Param(4000, "test points drawn from each of the 25 components", ge=1)
    val_per_component = Param(0, "validation points drawn from each of the 25 components (0: none, "
                              "as the paper)", ge=0)
    gen_samples = Param(100_000, "decoded codes the density estimate is fitted to", ge=2)
    cv_samples = Param(10_000, "other decoded codes on which its bandwidth is chosen (5-fold)", ge=5)
    data_seed = Param(0, "seed of the training and test points (the same for every run)", ge=0)

    @property
    def hidden(self) -> int:
        return max(1, round(128 * self.width))

    def setup(self, regularizer, target, ctx):
        torch.manual_seed(ctx.seed)
        rng = np.random.default_rng(self.data_seed)
        self.x_train = torch.tensor(grid_points(self.per_component, rng), dtype=torch.float32,
                                    device=ctx.device)
        self.target = target
        head = regularizer.head_size(self.d) if target == POSTERIOR else self.d
        w = self.hidden
        model = Autoencoder(mlp([2, w, w, head], activation=nn.ReLU),
                            mlp([self.d, w, w, 2], activation=nn.ReLU), regularizer, target).to(ctx.device)
        steps = self.iterations
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr, betas=(0.5, 0.9)),
                        iter(lambda: self.x_train, None), steps, period=max(1, steps // 20), unit="step")

    def loss(self, model, x):
        z, h = model.encode(x, sample=True)
        return (model.decode(z) - x).pow(2).sum(1).mean(), {CODES: z, POSTERIOR: h}

    @torch.no_grad()
    def evaluate(self, model, summary, ctx):
        model.eval()
        test = grid_points(self.test_per_component, np.random.default_rng(self.data_seed + 1))
        x_test = torch.tensor(test, dtype=torch.float32, device=ctx.device)
        z_test = model.encode(x_test, sample=False)[0]
        z_train = model.encode(self.x_train, sample=False)[0].cpu()
        count = self.gen_samples + self.cv_samples
        fitted = latent_samples(z_train, count, ctx.seed)["fitted"]
        prior = model.regularizer.prior_sample(count, self.d, torch.Generator().manual_seed(ctx.seed))

        val = grid_points(self.val_per_component, np.random.default_rng(self.data_seed + 2))

        def log_likelihood(codes: torch.Tensor) -> list[float]:
            decoded = model.decode(codes.to(ctx.device)).cpu().double().numpy()
            return kde_log_likelihood(decoded[:self.gen_samples], decoded[self.gen_samples:], test, val)

        ll_fitted = log_likelihood(fitted)
        ll = ll_fitted if prior is None else log_likelihood(prior)
        return {"test_ll": ll[0], "test_ll_fitted": ll_fitted[0],
                **({"val_ll": ll[1]} if self.val_per_component else {}),
                "test_mse": float((model.decode(z_test) - x_test).pow(2).sum(1).mean()),
                "test_ll_data": float(grid_log_density(test).mean()),
                **{f"latent.{k}": v for k, v in describe(z_test).items()}}
