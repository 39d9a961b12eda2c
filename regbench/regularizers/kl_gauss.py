"""Gaussian VAE posterior with the closed-form KL to N(0, I): Diederik P. Kingma, Max Welling,
"Auto-Encoding Variational Bayes", ICLR 2014, arXiv:1312.6114.

The head holds the mean and the log-variance (2d features). With s = log σ²,

    KL(N(m, diag σ²) ‖ N(0, I)) = ½ Σ_k (m_k² + σ_k² − 1 − s_k),

summed over dimensions and averaged over the batch; codes are m + σ·ε with ε ~ N(0, I)
(reparameterised) when training and m when evaluating; log q(z | h) = Σ_k log N(z_k; m_k, σ_k²).
s is clamped to [−30, 20] (as in ``DiagonalGaussianDistribution`` of the latent-diffusion code,
``CompVis/latent-diffusion``) so that exp(s) can neither overflow nor reach 0; outside that range
the gradient through s is 0.
"""
import math

import torch

from ..registry import register_regularizer
from ._base import POSTERIOR, Regularizer
from ._priors import gaussian, gaussian_log_prob

LOGVAR_RANGE = (-30.0, 20.0)


@register_regularizer("kl_gauss")
class KlGauss(Regularizer):
    """N(m, diag σ²) posterior, N(0, I) prior; its ``lam`` (β) weights the KL term."""

    targets = (POSTERIOR,)

    def head_size(self, d: int) -> int:
        return 2 * d

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if h.shape[-1] % 2:
            raise ValueError(f"kl_gauss needs a head of 2d features (mean, log-variance), got {h.shape[-1]}")
        mean, logvar = h.chunk(2, dim=-1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def sample(self, h: torch.Tensor) -> torch.Tensor:
        mean, logvar = self._split(h)
        return mean + torch.exp(logvar / 2) * torch.randn_like(mean)

    def mode(self, h: torch.Tensor) -> torch.Tensor:
        return self._split(h)[0]

    def kl(self, h: torch.Tensor) -> torch.Tensor:
        mean, logvar = self._split(h)
        return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()

    def log_prob(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        mean, logvar = self._split(h)
        return -0.5 * ((z - mean).pow(2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return gaussian_log_prob(z)

    def prior_sample(self, n, d, generator=None):
        return gaussian(n, d, generator)
