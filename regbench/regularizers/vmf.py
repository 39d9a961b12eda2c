"""von Mises–Fisher posterior with a uniform prior on the sphere (S-VAE): Tim R. Davidson, Luca
Falorsi, Nicola De Cao, Thomas Kipf, Jakub M. Tomczak, "Hyperspherical Variational Auto-Encoders",
UAI 2018, arXiv:1804.00891; authors' code ``nicola-decao/s-vae-pytorch``.

Head: d direction features, normalised to the mean direction μ ∈ S^{m−1} (m = d), and one
concentration feature, κ = softplus(·) + 1 (the authors' example). Needs d ≥ 2 (``min_dim``).

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
through the reflection; like s-vae-pytorch, the correction term of the rejection step (g_cor in
Davidson et al.) is left out.

KL(vMF(μ, κ) ‖ U(S^{m−1})) = κ I_{m/2}(κ)/I_{m/2−1}(κ) + log C_m(κ) + log(2π^{m/2}/Γ(m/2)),
C_m(κ) = κ^{m/2−1}/((2π)^{m/2} I_{m/2−1}(κ)). With v = m/2 − 1 the constants cancel:

    KL = κ R_v(κ) − log Ĩ_v(κ),   R_v = I_{v+1}/I_v,   Ĩ_v(κ) = Γ(v+1) (2/κ)^v I_v(κ) ≥ 1,

computed in float64 with ``_bessel.log_iv_and_ratio`` (finite for m up to 256 and any κ > 0, no sync).
"""
import math

import torch
import torch.nn.functional as F

from ..errors import RegbenchError
from ..registry import register_regularizer
from ._base import POSTERIOR, Regularizer
from ._bessel import log_iv_and_ratio


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


def sample_vmf(mu: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """Reparameterised samples z ~ vMF(μ_i, κ_i), one per row of ``mu`` (n, m), ``kappa`` (n,)."""
    m = mu.shape[1]
    eps = _accepted_eps(kappa.detach(), m)
    b = _wood_b(kappa, m)
    one_minus_w = 2 * b * eps / ((1 - eps) + b * eps)
    sin = torch.sqrt((one_minus_w * (2 - one_minus_w)).clamp_min(torch.finfo(mu.dtype).tiny))
    v = torch.randn(len(mu), m - 1, dtype=mu.dtype, device=mu.device)
    z = torch.cat([(1 - one_minus_w).unsqueeze(1), sin.unsqueeze(1) * v / v.norm(dim=1, keepdim=True)], 1)
    u = torch.cat([1 - mu[:, :1], -mu[:, 1:]], 1)  # e1 − μ
    u_sq = u.pow(2).sum(1, keepdim=True).clamp_min(torch.finfo(mu.dtype).tiny)  # μ = e1: u = 0, U = I
    return z - 2 * u * (u * z).sum(1, keepdim=True) / u_sq


def kl_vmf_uniform(kappa: torch.Tensor, m: int) -> torch.Tensor:
    """KL(vMF(μ, κ) ‖ U(S^{m−1})) elementwise in κ (independent of μ)."""
    v = m / 2 - 1
    k = kappa.double()
    log_i, ratio = log_iv_and_ratio(v, k)
    return (k * ratio - (log_i - v * torch.log(k / 2) + math.lgamma(v + 1))).to(kappa.dtype)


@register_regularizer("vmf")
class Vmf(Regularizer):
    """vMF posterior, uniform prior on S^{d−1}; its ``lam`` weights the KL term."""

    targets = (POSTERIOR,)
    min_dim = 2

    def _check_dim(self, d: int) -> None:
        if d < self.min_dim:
            raise RegbenchError(f"regularizer 'vmf' needs a latent dimension d ≥ {self.min_dim} "
                                f"(codes on the sphere S^(d−1)), got d = {d}")

    def head_size(self, d: int) -> int:
        self._check_dim(d)
        return d + 1

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_dim(h.shape[-1] - 1)
        return F.normalize(h[..., :-1], dim=-1), F.softplus(h[..., -1]) + 1

    def sample(self, h: torch.Tensor) -> torch.Tensor:
        return sample_vmf(*self._split(h))

    def mode(self, h: torch.Tensor) -> torch.Tensor:
        return self._split(h)[0]

    def kl(self, h: torch.Tensor) -> torch.Tensor:
        return kl_vmf_uniform(self._split(h)[1], h.shape[-1] - 1).mean()
