"""The head of a posterior on the sphere S^{d−1} with a uniform prior (``vmf``, ``power_spherical``):
d direction features, normalised to the mean direction μ, and one concentration feature,
κ = softplus(·) + 1 (the S-VAE authors' example, ``nicola-decao/s-vae-pytorch``: Davidson et al.,
"Hyperspherical Variational Auto-Encoders", UAI 2018, arXiv:1804.00891). The mode is μ. Needs
d ≥ 2 (``min_dim``)."""
import torch
import torch.nn.functional as F

from ..errors import RegbenchError
from ._base import POSTERIOR, Regularizer
from ._priors import sphere, sphere_log_prob


class SpherePosterior(Regularizer):
    targets = (POSTERIOR,)
    min_dim = 2

    def _check_dim(self, d: int) -> None:
        if d < self.min_dim:
            raise RegbenchError(f"regularizer '{self.registered_name}' needs a latent dimension "
                                f"d ≥ {self.min_dim} (codes on the sphere S^(d−1)), got d = {d}")

    def head_size(self, d: int) -> int:
        self._check_dim(d)
        return d + 1

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, κ) of the heads ``h``."""
        self._check_dim(h.shape[-1] - 1)
        return F.normalize(h[..., :-1], dim=-1), F.softplus(h[..., -1]) + 1

    def mode(self, h: torch.Tensor) -> torch.Tensor:
        return self._split(h)[0]

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return sphere_log_prob(z)

    def prior_sample(self, n, d, generator=None):
        return sphere(n, d, generator)
