"""Uniformity loss: Tongzhou Wang, Phillip Isola, "Understanding Contrastive Representation Learning
through Alignment and Uniformity on the Hypersphere", ICML 2020, arXiv:2005.10242.

    L_uniform = log 1/(n(n−1)) Σ_{i≠j} exp(−t |x̂_i − x̂_j|²),      x̂ = x / |x|

the log of the mean Gaussian potential over the pairs of L2-normalised codes (the authors'
``lunif``: ``torch.pdist(x).pow(2).mul(-t).exp().mean().log()``, a mean over the pairs i < j, which
is the same mean). It is minimised by codes spread uniformly over the sphere S^{d−1}; it is 0 when
all codes coincide.

The log of the mean is taken with the log-sum-exp shift r_min = min_{i≠j} |x̂_i − x̂_j|²:

    L_uniform = −t r_min + log Σ_{i≠j} exp(−t (|x̂_i − x̂_j|² − r_min)) − log(n(n−1)),

so the largest term is 1 and the sum cannot underflow to 0 however large t is (unshifted, every
term falls below the smallest float32 when t r_min > 87, e.g. two antipodal codes with t > 22). The
shift is held constant: it cancels from the value and from the gradient. r_min is found over the same
blocks of rows, from the same squared distances, as the pair sum (``_pairwise.pairwise_sum``), so
both run in bounded memory for large n and no pair's exponent t (r_min − |x̂_i − x̂_j|²) exceeds 0;
the exponent is capped at 1 for the left-out diagonal, which ``pairwise_sum`` still evaluates (at
distance 0 < r_min) and which would overflow otherwise. The squared distances carry the float32
round-off of the Gram trick (≈ 1e-7), so coincident codes give 0 up to about t · 1e-7.
"""
import math

import torch
import torch.nn.functional as F

from ..params import Param
from ..registry import register_regularizer
from ._pairwise import min_pair_sq_dist, pairwise_sum
from ._base import CODES, Regularizer


@register_regularizer("uniformity")
class Uniformity(Regularizer):
    """Log of the mean Gaussian potential exp(−t |x̂_i − x̂_j|²) between normalised codes."""

    targets = (CODES,)
    t = Param(2.0, "scale t of the Gaussian potential exp(−t |x̂_i − x̂_j|²)", gt=0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = len(z)
        if n < 2:
            raise ValueError(f"uniformity needs n ≥ 2 codes, got {tuple(z.shape)}")
        x = F.normalize(z, dim=1)
        shift, t = min_pair_sq_dist(x), self.t

        def potential(sq: torch.Tensor) -> torch.Tensor:  # exp(−t (sq − r_min)), capped at e
            return torch.exp((t * (shift - sq)).clamp_max(1))

        total = pairwise_sum(potential, x, derivative=lambda sq: -t * potential(sq))
        return -t * shift + torch.log(total) - math.log(n * (n - 1))
