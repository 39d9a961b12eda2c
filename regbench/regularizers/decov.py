"""DeCov: Michael Cogswell, Faruk Ahmed, Ross Girshick, Larry Zitnick, Dhruv Batra, "Reducing
Overfitting in Deep Networks by Decorrelating Representations", ICLR 2016, arXiv:1511.06068.

    L_DeCov = ½ (‖C‖_F² − ‖diag(C)‖₂²),      C_ij = 1/n Σ_k (z_ki − μ_i)(z_kj − μ_j)

the squared off-diagonal entries of the batch covariance of the codes (1/n, the paper's), halved.
The off-diagonal entries are summed directly rather than as a difference of the two norms, which
could cancel when the variances dominate.
"""
import torch

from ..registry import register_regularizer
from ._base import CODES, Regularizer


@register_regularizer("decov")
class DeCov(Regularizer):
    """Half the sum of squared off-diagonal batch covariances of the codes."""

    targets = (CODES,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        centred = z - z.mean(0)
        cov = centred.T @ centred / len(z)
        return 0.5 * (cov - torch.diag(cov.diagonal())).pow(2).sum()
