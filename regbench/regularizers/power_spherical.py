"""Power Spherical posterior with a uniform prior on the sphere: Nicola De Cao, Wilker Aziz, "The Power
Spherical distribution", ICML 2020 Workshop on Invertible Neural Networks, Normalizing Flows, and
Explicit Likelihood Models (INNF+), 2020, arXiv:2006.04437; authors' code
``nicola-decao/power_spherical``.

Head: as ``vmf`` (``_sphere_posterior``), d direction features, normalised to the mean direction
μ ∈ S^{m−1} (m = d), and one concentration feature, κ = softplus(·) + 1 (the S-VAE authors'
example; the parameterisation of the Power Spherical paper's own experiments is unconfirmed).

Density on S^{m−1} (surface measure), with α = (m−1)/2 + κ and β = (m−1)/2:

    q(z | μ, κ) = (1 + μ·z)^κ / N(κ, m),
    log N(κ, m) = (α+β) log 2 + β log π + log Γ(α) − log Γ(α+β).

μ·z is clamped to [−1, 1] (round-off takes it past −1, where log(1 + μ·z) is NaN in the authors'
code), and 1 + μ·z at the smallest normal float, so that log q stays finite at z = −μ (where the
density is 0 for κ > 0: the value there is κ log(tiny) − log N).

Sampling, with no rejection step: t ~ Beta(α, β), w = 2t − 1 = μ·z, v uniform on S^{m−2},
y = (w, √(1 − w²) v), then the Householder reflection that maps e1 to μ (``_householder.reflect``):
z = U y. s = 1 − t ~ Beta(β, α) is drawn rather than t, so that 1 − w = 2s and √(1 − w²) = 2√(s(1 − s))
stay exact near w = 1 (large κ). Gradients reach μ through the reflection and κ through torch's
``Beta.rsample``: the implicit reparameterisation gradient ∂s/∂α = −∂_α F(s; β, α)/p(s; β, α) (F the
Beta CDF; Figurnov, Mohamed, Mnih, "Implicit Reparameterization Gradients", NeurIPS 2018,
arXiv:1805.08498), unbiased, but not the derivative of the seeded draw (torch's Gamma sampler) with its
noise held fixed, so a finite-difference check of a seeded sample applies in μ only.

With E[log(1 + μ·z)] = log 2 + ψ(α) − ψ(α+β), the entropy is H = log N − κ (log 2 + ψ(α) − ψ(α+β)), and

    KL(PS(μ, κ) ‖ U(S^{m−1})) = −H + log area(S^{m−1}),   area(S^{m−1}) = 2π^{m/2}/Γ(m/2),

computed in float64 and returned in the head's dtype (finite, and within 1e-7 of quadrature, for κ
from 1 to 1e6 and m up to 256). Unlike ``vmf``, the normaliser needs no Bessel function (log Γ and ψ
only) and the sampler no rejection step, so its gradient in κ needs no correction term (vmf's g_cor).
"""
import math

import torch

from ..registry import register_regularizer
from ._householder import reflect, tangent_gaussians
from ._priors import log_sphere_area
from ._sphere_posterior import SpherePosterior


def log_normaliser(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """log N(κ, m) = (α+β) log 2 + β log π + log Γ(α) − log Γ(α+β), in float64."""
    k = kappa.double()
    alpha, beta = (m - 1) / 2 + k, (m - 1) / 2
    return ((alpha + beta) * math.log(2) + beta * math.log(math.pi)
            + torch.lgamma(alpha) - torch.lgamma(alpha + beta))


def kl_power_spherical_uniform(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """KL(PS(μ, κ) ‖ U(S^{m−1})) elementwise in κ (independent of μ), in κ's dtype."""
    k = kappa.double()
    alpha, beta = (m - 1) / 2 + k, (m - 1) / 2
    entropy = log_normaliser(k, m) - k * (math.log(2) + torch.digamma(alpha) - torch.digamma(alpha + beta))
    return (log_sphere_area(m) - entropy).to(kappa.dtype)


def sample_power_spherical(mu: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Reparameterised samples z ~ PS(μ_i, κ_i), one per row of ``mu`` (n, m), ``kappa`` (n,)."""
    m = mu.shape[-1]
    alpha, beta = (m - 1) / 2 + kappa, torch.full_like(kappa, (m - 1) / 2)
    s = torch.distributions.Beta(beta, alpha, validate_args=False).rsample()  # 1 − t, t ~ Beta(α, β)
    sin = 2 * torch.sqrt((s * (1 - s)).clamp_min(torch.finfo(mu.dtype).tiny))  # √(1 − w²)
    v = tangent_gaussians(mu)
    y = torch.cat([(1 - 2 * s).unsqueeze(-1), sin.unsqueeze(-1) * v / v.norm(dim=-1, keepdim=True)], -1)
    return reflect(mu, y)


@register_regularizer("power_spherical")
class PowerSpherical(SpherePosterior):
    """Power Spherical posterior, uniform prior on S^{d−1}; its ``lam`` weights the KL term."""

    def sample(self, h: torch.Tensor) -> torch.Tensor:
        return sample_power_spherical(*self._split(h))

    def kl(self, h: torch.Tensor) -> torch.Tensor:
        return kl_power_spherical_uniform(self._split(h)[1], h.shape[-1] - 1).mean()

    def log_prob(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        mu, kappa = self._split(h)
        cos = (mu * z).sum(-1).clamp(-1, 1)
        one_plus_cos = (1 + cos).clamp_min(torch.finfo(cos.dtype).tiny)
        return kappa * torch.log(one_plus_cos) - log_normaliser(kappa, mu.shape[-1]).to(kappa.dtype)
