"""Eccentric regularization: Xuefeng Li, Alan Blair, "Eccentric Regularization: Minimizing
Hyperspherical Energy without explicit projection", IJCNN 2022, arXiv:2104.11610.

    l = 1/(n(n-1)) Σ_{i≠j} [ (|z_i|² + |z_j|²)/2 − μ M log(1 + |z_i − z_j|²/M) ]
    M = 2d (1 + 1/(2μ(d−1))) / (2μ − 1),      μ > 1/2

Minimised alone it spreads the codes uniformly on the sphere of radius ≈ √d (the paper's Theorem 1);
at the optimum l ≈ d(1 − 2 log 2) for μ = 1, so the loss is negative. Whether the paper's sum
includes i = j is unconfirmed; the i = j terms are excluded here, with the n(n−1) normalisation of
the formula.
The O(n²) pair sum runs in bounded memory for large n (``_pairwise.pairwise_sum``).
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, Regularizer
from ._pairwise import pairwise_sum


def eccentric_m(mu: float, d: int) -> float:
    """The scale M(μ, d) that puts the stationary sphere at radius ≈ √d (Li & Blair, IJCNN 2022)."""
    return 2 * d * (1 + 1 / (2 * mu * (d - 1))) / (2 * mu - 1)


@register_regularizer("eccentric")
class Eccentric(Regularizer):
    """Pairwise repulsion plus attraction to the origin; needs d ≥ 2."""

    targets = (CODES,)
    min_dim = 2
    mu = Param(1.0, "repulsion strength μ; M(μ, d) follows from it", gt=0.5)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n, d = z.shape
        if n < 2 or d < 2:
            raise ValueError(f"eccentric needs n ≥ 2 codes of dimension d ≥ 2, got {tuple(z.shape)}")
        m = eccentric_m(self.mu, d)
        sq_norms = z.pow(2).sum(1)
        attraction = sq_norms.sum() * (n - 1)  # Σ_{i≠j} (|z_i|² + |z_j|²)/2
        repulsion = pairwise_sum(lambda sq: torch.log1p(sq / m), z,  # Σ_{i≠j} log(1 + |z_i − z_j|²/M)
                                 derivative=lambda sq: 1 / (m + sq))
        return (attraction - self.mu * m * repulsion) / (n * (n - 1))
