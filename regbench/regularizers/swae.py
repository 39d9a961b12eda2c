"""Sliced-Wasserstein autoencoder regularizer: Soheil Kolouri, Phillip E. Pope, Charles E. Martin,
Gustavo K. Rohde, "Sliced-Wasserstein Autoencoders", ICLR 2019, arXiv:1804.01947.

The sliced 2-Wasserstein distance (squared) between the codes z_1..z_n and a fresh prior sample
p_1..p_n of the same size, on L random directions θ_l uniform on the unit sphere S^{d−1}:

    SW = 1/(L n) Σ_l Σ_k (θ_l·z_(k) − θ_l·p_(k))²

where (k) is the k-th smallest projection on θ_l (sorting solves one-dimensional optimal transport).
Priors: ``gaussian`` N(0, I_d) or ``sphere``, uniform on S^{d−1}. L = 50 and the mean over
directions and codes follow the authors' code ``skolouri/swae`` (p = 2). The prior sample and the
directions are drawn fresh at each call from the global torch generator (seeded per run),
directions first; ``theta`` and ``prior`` may be passed to fix them.
"""
import torch
import torch.nn.functional as F

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, Regularizer
from ._priors import gaussian, sphere


@register_regularizer("swae")
class SWAE(Regularizer):
    """Sliced-Wasserstein distance between the codes and a prior sample, on random directions."""

    targets = (CODES,)
    prior = Param("gaussian", "prior: gaussian N(0, I) or sphere (uniform on S^{d−1})",
                  choices=("gaussian", "sphere"))
    projections = Param(50, "number L of random directions θ_l", ge=1)

    def forward(self, z: torch.Tensor, prior: torch.Tensor | None = None,
                theta: torch.Tensor | None = None) -> torch.Tensor:
        if theta is None:
            theta = F.normalize(torch.randn(self.projections, z.shape[1], dtype=z.dtype, device=z.device),
                                dim=1)
        if prior is None:
            prior = torch.randn_like(z)
            if self.prior == "sphere":
                prior = F.normalize(prior, dim=1)
        if prior.shape != z.shape or theta.shape[1] != z.shape[1]:
            raise ValueError(f"swae needs a prior sample shaped like the codes {tuple(z.shape)} and "
                             f"directions of dimension {z.shape[1]}, got {tuple(prior.shape)} and "
                             f"{tuple(theta.shape)}")
        sorted_z = torch.sort(z @ theta.T, dim=0).values
        sorted_prior = torch.sort(prior @ theta.T, dim=0).values
        return (sorted_z - sorted_prior).pow(2).mean()

    def prior_sample(self, n, d, generator=None):
        return (sphere if self.prior == "sphere" else gaussian)(n, d, generator)
