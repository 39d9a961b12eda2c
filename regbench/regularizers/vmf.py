"""von Mises–Fisher posterior with a uniform prior on the sphere (S-VAE): Tim R. Davidson, Luca
Falorsi, Nicola De Cao, Thomas Kipf, Jakub M. Tomczak, "Hyperspherical Variational Auto-Encoders",
UAI 2018, arXiv:1804.00891; authors' code ``nicola-decao/s-vae-pytorch``.

Head (``_sphere_posterior``): d direction features, normalised to the mean direction μ ∈ S^{m−1}
(m = d), and one concentration feature, κ = softplus(·) + 1 (the authors' example). Needs d ≥ 2.

Sampling (Davidson et al., Alg. 1–2, after Ulrich 1984 / Wood 1994): the component w = μ·z by
rejection, with ε ~ Beta((m−1)/2, (m−1)/2), u ~ U(0, 1),

    b = (−2κ + √(4κ² + (m−1)²))/(m−1) = (m−1)/(2κ + √(4κ² + (m−1)²)),
    a = (m − 1 + 2κ + √(4κ² + (m−1)²))/4,   d = 4ab/(1+b) − (m−1) log(m−1),
    w = (1 − (1+b)ε)/(1 − (1−b)ε),   t = 2ab/(1 − (1−b)ε),   accept if (m−1) log t − t + d ≥ log u.

b is used in its rationalised form, which has no cancellation at large κ and tends to the
(m−1)/(4κ) Taylor form by itself; switching to that form for κ > 10 (as s-vae-pytorch does) is accurate
only for κ ≫ m (9% off at m = 64, κ = 50), and the acceptance test relies on a = κ/(1−b), which holds
for the exact b only. 1 − w = 2bε/(1 − (1−b)ε) is kept exact for √(1 − w²). Then
z' = (w, √(1 − w²) v) with v uniform on S^{m−2}, and the Householder reflection U = I − 2uuᵀ/|u|²,
u = e1 − μ, maps e1 to μ: z = U z'. Gradients reach κ through w with the accepted ε held fixed, and μ
through the reflection (g_rep of Davidson et al., as s-vae-pytorch computes it). That
leaves out the correction term of the rejection step, which makes the gradient in κ biased (17 %
low for ∂E[μ·z]/∂κ at m = 5, κ = 3). With ``g_cor`` on, the sampler keeps the log-density of the
accepted ε (Naesseth, Ruiz, Linderman, Blei, "Reparameterization Gradients through
Acceptance-Rejection Sampling Algorithms", AISTATS 2017, arXiv:1610.05683, as Davidson et al. apply it):
with ε ~ s (the Beta proposal), w = h(ε, κ), r the density of h(ε, κ) and g that of w under the
vMF, the accepted ε has density π(ε | κ) = s(ε) g(h(ε, κ) | κ) / r(h(ε, κ) | κ), and

    ∇_κ E[f] = E_π[∇_κ f(h(ε, κ))] + E_π[f(h(ε, κ)) ∇_κ log π(ε | κ)] = g_rep + g_cor.

With g(w | κ) ∝ C_m(κ) e^{κw} (1 − w²)^{(m−3)/2}, r(h) = s(ε) / |∂h/∂ε|, ∂h/∂ε = −2b/D² and
1 − w² = 4bε(1 − ε)/D² (D = 1 − (1−b)ε), the terms in κ are

    log π(ε | κ) = log C_m(κ) + κw + ((m−1)/2) log b − (m−1) log D + (terms of ε alone),

log C_m(κ) = (m/2 − 1) log κ − log I_{m/2−1}(κ) + const. ``correction(f)`` is
Σ_i f_i (log π(ε_i | κ_i) − its value) with f held fixed: 0 in value, g_cor in gradient. f is the
task's loss (a scalar: unbiased, but every row's score is multiplied by the whole batch's loss, so
the noise grows with the batch), or better, per row, the terms of the loss that depend on z_i
(unbiased too, since a row's score has mean 0 and is independent of the other rows).

The density is log q(z | μ, κ) = log C_m(κ) + κ μ·z on S^{m−1} (surface measure), and

KL(vMF(μ, κ) ‖ U(S^{m−1})) = κ I_{m/2}(κ)/I_{m/2−1}(κ) + log C_m(κ) + log(2π^{m/2}/Γ(m/2)),
C_m(κ) = κ^{m/2−1}/((2π)^{m/2} I_{m/2−1}(κ)). With v = m/2 − 1 the constants cancel:

    KL = κ R_v(κ) − log Ĩ_v(κ),   R_v = I_{v+1}/I_v,   Ĩ_v(κ) = Γ(v+1) (2/κ)^v I_v(κ) ≥ 1,

computed in float64 with ``_bessel.log_iv_and_ratio`` (finite for m up to 256 and any κ > 0, no sync).
"""
import math

import torch

from ..params import Param
from ..registry import register_regularizer
from ._bessel import log_iv, log_iv_and_ratio
from ._householder import reflect, tangent_gaussians
from ._sphere_posterior import SpherePosterior


def _wood_b(kappa: torch.Tensor, m: int) -> torch.Tensor:
    return (m - 1) / (2 * kappa + torch.sqrt(4 * kappa ** 2 + (m - 1) ** 2))


@torch.no_grad()
def _accepted_eps(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """The accepted Beta proposal ε per row; only the rejected rows are proposed again."""
    b = _wood_b(kappa, m)
    a = (m - 1 + 2 * kappa + torch.sqrt(4 * kappa ** 2 + (m - 1) ** 2)) / 4
    d = 4 * a * b / (1 + b) - (m - 1) * math.log(m - 1)
    beta = torch.distributions.Beta(kappa.new_tensor((m - 1) / 2), kappa.new_tensor((m - 1) / 2))
    eps = torch.empty_like(kappa)
    todo = torch.ones_like(kappa, dtype=torch.bool)
    while todo.any():
        rows = todo.nonzero().squeeze(1)
        e = beta.sample(rows.shape)
        t = 2 * a[rows] * b[rows] / ((1 - e) + b[rows] * e)
        accept = (m - 1) * t.log() - t + d[rows] >= torch.rand_like(e).log()
        eps[rows[accept]] = e[accept]
        todo[rows[accept]] = False
    return eps


def log_normaliser(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """log C_m(κ) = (m/2 − 1) log κ − (m/2) log 2π − log I_{m/2−1}(κ), in float64."""
    k = kappa.double()
    return ((m / 2 - 1) * torch.log(k) - m / 2 * math.log(2 * math.pi)
            - log_iv(m / 2 - 1, k)).to(kappa.dtype)


def accepted_log_density(eps: torch.Tensor, kappa: torch.Tensor, m: int) -> torch.Tensor:
    """log π(ε | κ) of the accepted proposals ``eps``, up to terms free of κ (module docstring)."""
    b = _wood_b(kappa, m)
    denominator = (1 - eps) + b * eps
    w = 1 - 2 * b * eps / denominator
    log_c = (m / 2 - 1) * torch.log(kappa) - log_iv(m / 2 - 1, kappa)
    return log_c + kappa * w + (m - 1) / 2 * torch.log(b) - (m - 1) * torch.log(denominator)


def sample_vmf(mu: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Reparameterised samples z ~ vMF(μ_i, κ_i), one per row of ``mu`` (n, m), ``kappa`` (n,)."""
    return sample_vmf_and_eps(mu, kappa)[0]


def sample_vmf_and_eps(mu: torch.Tensor, kappa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sample_vmf`` and the accepted Beta proposals ε behind it."""
    m = mu.shape[1]
    eps = _accepted_eps(kappa.detach(), m)
    b = _wood_b(kappa, m)
    one_minus_w = 2 * b * eps / ((1 - eps) + b * eps)
    sin = torch.sqrt((one_minus_w * (2 - one_minus_w)).clamp_min(torch.finfo(mu.dtype).tiny))
    v = tangent_gaussians(mu)
    z = torch.cat([(1 - one_minus_w).unsqueeze(1), sin.unsqueeze(1) * v / v.norm(dim=1, keepdim=True)], 1)
    return reflect(mu, z), eps


def kl_vmf_uniform(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """KL(vMF(μ, κ) ‖ U(S^{m−1})) elementwise in κ (independent of μ)."""
    v = m / 2 - 1
    k = kappa.double()
    log_i, ratio = log_iv_and_ratio(v, k)
    return (k * ratio - (log_i - v * torch.log(k / 2) + math.lgamma(v + 1))).to(kappa.dtype)


@register_regularizer("vmf")
class Vmf(SpherePosterior):
    """vMF posterior, uniform prior on S^{d−1}; its ``lam`` weights the KL term."""

    g_cor = Param(False, "add the rejection sampler's correction term g_cor (Davidson et al.) "
                  "to the gradient in κ through correction(loss); off: g_rep alone, as the "
                  "authors' code")

    def __init__(self, **hparams):
        super().__init__(**hparams)
        self.log_density = None  # log π(ε_i | κ_i) of the last draw's rows, with g_cor

    def sample(self, h: torch.Tensor) -> torch.Tensor:
        mu, kappa = self._split(h)
        z, eps = sample_vmf_and_eps(mu, kappa)
        if self.g_cor:
            self.log_density = accepted_log_density(eps, kappa, mu.shape[1])
        return z

    @property
    def corrects(self) -> bool:
        return self.g_cor

    def correction(self, objective: torch.Tensor) -> torch.Tensor:
        """0 in value; its gradient is g_cor of the last draw for ``objective`` (the loss, or per
        row the loss terms of that row's code); 0 without ``g_cor``. One correction per draw."""
        if self.log_density is None:
            return objective.new_zeros(())
        log_density, self.log_density = self.log_density, None
        return (objective.detach() * (log_density - log_density.detach())).sum()

    def kl(self, h: torch.Tensor) -> torch.Tensor:
        return kl_vmf_uniform(self._split(h)[1], h.shape[-1] - 1).mean()

    def log_prob(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        mu, kappa = self._split(h)
        return log_normaliser(kappa, mu.shape[-1]) + kappa * (mu * z).sum(-1)

