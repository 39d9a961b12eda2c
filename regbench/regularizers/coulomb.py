"""Coulomb autoencoder regularizer: Emanuele Sansone, Hafiz Tiomoko Ali, Sun Jiacheng, "Coulomb
Autoencoders", ECAI 2020, arXiv:1802.03505.

MMD (estimator of ``_mmd.mmd``) between the codes and a fresh N(0, I_d) sample with the Coulomb kernel

    k(z, z') = 1 / (|z − z'|^{h−2} + ε),   h > 2,

for which all local extrema of the MMD in z are global (Sansone et al., ECAI 2020). How h relates
to the latent dimension and the value of ε are unconfirmed: h defaults to d ("the dimension of the
space") and ε to 1. With r = |z − z'|² the kernel is evaluated as exp(−log ε − softplus((h−2)/2 · log r − log ε)),
so that r^{(h−2)/2} never overflows (d = 64: r ≈ 128 gives 128^31 ≈ 2e65); r is floored at the
smallest normal float, which keeps coincident points (k = 1/ε) finite with zero gradient. Note that
with h = d = 64 the kernel is ≈ 1e-65 at the typical distance of N(0, I) samples (0 in float32), so
the MMD and its gradient vanish unless codes nearly coincide: a smaller h gives a usable signal.
"""
import math

import torch
import torch.nn.functional as F

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, Regularizer
from ._mmd import mmd


@register_regularizer("coulomb")
class Coulomb(Regularizer):
    """MMD to N(0, I) with k = 1/(|z − z'|^{h−2} + ε); ``prior`` may be passed to fix the sample."""

    targets = (CODES,)
    min_dim = 3
    h = Param(0.0, "kernel exponent h (k = 1/(|Δ|^{h−2} + ε)); 0 means the latent dimension d",
              check=lambda v: v == 0 or v > 2, rule="0 or > 2")
    eps = Param(1.0, "ε bounding the kernel by 1/ε at coincident points", gt=0)

    def forward(self, z: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        h = self.h or z.shape[1]
        if h <= 2:
            raise ValueError(f"coulomb needs h > 2; with h = d that means d ≥ 3, got d = {z.shape[1]}")
        if prior is None:
            prior = torch.randn_like(z)
        half_power, log_eps = (h - 2) / 2, math.log(self.eps)
        tiny = torch.finfo(z.dtype).tiny

        def kernel(sq: torch.Tensor) -> torch.Tensor:  # 1 / (sq^{(h−2)/2} + ε) in log-space
            return torch.exp(-log_eps - F.softplus(half_power * sq.clamp_min(tiny).log() - log_eps))

        return mmd(kernel, z, prior)
