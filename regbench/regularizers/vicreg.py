"""Variance and covariance terms of VICReg: Adrien Bardes, Jean Ponce, Yann LeCun, "VICReg:
Variance-Invariance-Covariance Regularization for Self-Supervised Learning", ICLR 2022,
arXiv:2105.04906.

On one batch of codes Z (n × d; there is no second view, so no invariance term):

    v(Z) = 1/d Σ_j max(0, γ − sqrt(Var(z_j) + ε))
    c(Z) = 1/d Σ_{i≠j} C(Z)_ij²,      C(Z) = 1/(n−1) Σ_k (z_k − z̄)(z_k − z̄)ᵀ
    R(Z) = μ v(Z) + ν c(Z)

with the unbiased variance and covariance (1/(n−1)) and the published coefficients μ = 25, ν = 1,
γ = 1, ε = 1e-4 as defaults (the authors' code ``facebookresearch/vicreg``: std_coeff, cov_coeff).
ε > 0 keeps the square root differentiable when a dimension is constant (Var = 0); the gradient of
sqrt(Var + ε) is bounded by 1/sqrt(n−1) whatever ε.
"""
import torch
import torch.nn.functional as F

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, Regularizer


@register_regularizer("vicreg")
class VICReg(Regularizer):
    """Hinge on each dimension's standard deviation plus squared off-diagonal covariances."""

    targets = (CODES,)
    mu = Param(25.0, "coefficient μ of the variance term v", ge=0)
    nu = Param(1.0, "coefficient ν of the covariance term c", ge=0)
    gamma = Param(1.0, "target standard deviation γ of each dimension", gt=0)
    eps = Param(1e-4, "ε in sqrt(Var + ε), a positive float32", ge=1e-30)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n, d = z.shape
        if n < 2:
            raise ValueError(f"vicreg needs n ≥ 2 codes, got {tuple(z.shape)}")
        centred = z - z.mean(0)
        cov = centred.T @ centred / (n - 1)
        std = torch.sqrt(cov.diagonal() + self.eps)
        variance = F.relu(self.gamma - std).sum() / d
        covariance = (cov - torch.diag(cov.diagonal())).pow(2).sum() / d  # off-diagonal entries only
        return self.mu * variance + self.nu * covariance
