"""Maximum Gram determinant: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    penalty = −λ · log det(K + 1e-6 I),      K_ij = exp(−(2 − 2c_ij)),   c_ij = ŵ_i·ŵ_j

``2 − 2c_ij`` is ``|ŵ_i − ŵ_j|²`` for unit rows; like the authors' code it is computed from the
cosines, so the diagonal is ``exp(−(2 − 2|ŵ_i|²)) ≈ 1``. The cosines are not clamped here: ``exp``
needs no guard, and clamping would break the positive semi-definiteness of K. Half-space
``[W; −W]`` on hidden layers by default (as in the authors' code), λ hidden 0.01 / final 0.1.

``convention`` (see :mod:`._sphere_uniformity`): ``"paper"`` uses ``ŵ``; ``"authors"`` the rows
normalised twice, as ``norm()`` then ``cal()`` in ``mgd/architecture.py`` (l. 30–38; the kernel
l. 83–88 hidden, l. 97–102 final). Nothing else differs.

The log-determinant is ``2 Σ log diag(L)`` of a Cholesky factor. Near-duplicate filters make K
near-singular, and round-off can then make it indefinite: when the factorisation fails, K is
recomputed from the rows in float64, then factorised with a jitter ten times larger each time (up
to 1); the result is cast back to the rows' dtype. Cost O(n³) per layer.
"""
import torch

from ..registry import register_regularizer
from ._energy import chords, unit_rows
from ._layerwise import coefficient
from ._sphere_uniformity import SphereUniformity

JITTER = 1e-6


def gaussian_kernel(unit: torch.Tensor) -> torch.Tensor:
    """``K_ij = exp(−(2 − 2 ŵ_i·ŵ_j))`` of normalised rows ``ŵ``."""
    return torch.exp(-chords(unit @ unit.T))


def kernel_logdet(rows: torch.Tensor, unit=unit_rows) -> torch.Tensor:
    """``log det(K + jitter·I)`` of :func:`gaussian_kernel` of ``unit(rows)``, with the fallbacks of
    the module."""
    attempts = [(rows.dtype, JITTER)] + [(torch.float64, JITTER * 10 ** p) for p in range(7)]
    for dtype, jitter in dict.fromkeys(attempts):
        k = gaussian_kernel(unit(rows.to(dtype)))
        factor, info = torch.linalg.cholesky_ex(k + jitter * torch.eye(len(k), dtype=dtype, device=k.device))
        if info.item() == 0:
            return (2 * factor.diagonal().log().sum()).to(rows.dtype)
    raise ValueError("mgd: the kernel matrix is not positive definite even with jitter 1 "
                     "(non-finite weights?)")


@register_regularizer("mgd")
class MGD(SphereUniformity):
    """Maximise the volume spanned by the filters in the Gaussian-kernel feature space."""

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.1, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return -kernel_logdet(rows, self.unit)
