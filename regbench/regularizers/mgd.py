"""Maximum Gram determinant (seed 002; REFERENCE.md §2; wy1iu/Sphere-Uniformity).

    penalty = −λ · log det(K + 1e-6 I),      K_ij = exp(−(2 − 2c_ij)),   c_ij = ŵ_i·ŵ_j

``2 − 2c_ij`` is ``|ŵ_i − ŵ_j|²`` for unit rows; like the authors' code it is computed from the
cosines, so the diagonal is ``exp(−(2 − 2|ŵ_i|²)) ≈ 1``. Half-space ``[W; −W]`` on hidden layers
by default (as in the authors' code), λ hidden 0.01 / final 0.1.

The log-determinant is ``2 Σ log diag(L)`` of a Cholesky factor. Near-duplicate filters make K
near-singular: when the factorisation fails it is retried in float64, then in float64 with a
jitter ten times larger each time (up to 1), and the result is cast back. Cost O(n³) per layer.
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from .energy import chords, cosines, unit_rows
from .layerwise import WeightRegularizer, coefficient

JITTER = 1e-6


def safe_logdet(k: torch.Tensor) -> torch.Tensor:
    """``log det(k + jitter·I)`` for a symmetric PSD ``k``, by Cholesky with fallbacks (see module)."""
    attempts = [(k.dtype, JITTER)] + [(torch.float64, JITTER * 10 ** p) for p in range(7)]
    for dtype, jitter in dict.fromkeys(attempts):
        eye = torch.eye(len(k), dtype=dtype, device=k.device)
        factor, info = torch.linalg.cholesky_ex(k.to(dtype) + jitter * eye)
        if info.item() == 0:
            return (2 * factor.diagonal().log().sum()).to(k.dtype)
    raise ValueError("mgd: the kernel matrix is not positive definite even with jitter 1 "
                     "(non-finite weights?)")


@register_regularizer("mgd")
class MGD(WeightRegularizer):
    """Maximise the volume spanned by the filters in the Gaussian-kernel feature space."""

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.1, "final (classifier)")
    half_space = Param(True, "use [W; −W] on hidden layers (half-space)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return -safe_logdet(torch.exp(-chords(cosines(unit_rows(rows)))))
