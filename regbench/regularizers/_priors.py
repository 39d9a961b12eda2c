"""The two priors of the posterior and distribution-matching regularizers: the standard normal
N(0, I_d) on R^d and the uniform distribution on the unit sphere S^{d−1} ⊂ R^d (its density is
1 / area(S^{d−1}) with respect to the surface measure, area(S^{d−1}) = 2 π^{d/2} / Γ(d/2))."""
import math

import torch
import torch.nn.functional as F


def gaussian(n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.randn(n, d, generator=generator)


def sphere(n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=generator), dim=1)


def gaussian_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z_i; 0, I) per row."""
    return -0.5 * z.pow(2).sum(-1) - z.shape[-1] / 2 * math.log(2 * math.pi)


def log_sphere_area(d: int) -> float:
    """log area(S^{d−1}), the sphere of R^d."""
    return math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)


def sphere_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log of the uniform density on S^{d−1} per row (a constant)."""
    return z.new_full(z.shape[:-1], -log_sphere_area(z.shape[-1]))
