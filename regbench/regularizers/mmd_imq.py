"""WAE-MMD with the multi-scale inverse multiquadratics kernel: Ilya Tolstikhin, Olivier Bousquet,
Sylvain Gelly, Bernhard Schölkopf, "Wasserstein Auto-Encoders", ICLR 2018, arXiv:1711.01558.

    k(x, y) = Σ_s C_s / (C_s + |x − y|²),   C_s = 2 d σ² s,   s ∈ {.1, .2, .5, 1, 2, 5, 10}

against a fresh prior sample p ~ N(0, σ² I_d) of the same size as the batch, with the estimator of
``_mmd.mmd`` (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; the scales and
C_base = 2 d σ² follow the authors' code ``tolstikhin/wae``). WAE settings: CelebA d = 64,
λ = 100; MNIST d = 8, λ = 10.
"""
import math

import torch

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, Regularizer
from ._priors import gaussian
from ._mmd import mmd

SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@register_regularizer("mmd_imq")
class MmdImq(Regularizer):
    """MMD between the codes and N(0, σ² I); ``prior`` may be passed to fix the prior sample."""

    targets = (CODES,)
    sigma2 = Param(1.0, "variance σ² of the N(0, σ² I) prior", gt=0)

    def forward(self, z: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        if prior is None:
            prior = torch.randn_like(z) * math.sqrt(self.sigma2)
        scales = [2 * z.shape[1] * self.sigma2 * s for s in SCALES]
        return mmd(lambda sq: sum(c / (c + sq) for c in scales), z, prior,
                   derivative=lambda sq: -sum(c / (c + sq) ** 2 for c in scales))

    def prior_sample(self, n, d, generator=None):
        return gaussian(n, d, generator) * math.sqrt(self.sigma2)
