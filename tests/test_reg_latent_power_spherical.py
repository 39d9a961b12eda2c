"""power_spherical posterior: Nicola De Cao, Wilker Aziz, "The Power Spherical distribution", ICML 2020
Workshop INNF+, 2020, arXiv:2006.04437. On S^{m−1}, q(z | μ, κ) = (1 + μ·z)^κ / N(κ, m), w = μ·z =
2t − 1 with t ~ Beta(α, β), α = (m−1)/2 + κ, β = (m−1)/2. The references are float64 loops, scipy's
quadrature and Beta CDF, and the closed-form moments of w."""
import math

import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, special, stats

import regbench
from regbench.regularizers._householder import reflect
from regbench.regularizers.power_spherical import kl_power_spherical_uniform, sample_power_spherical

TINY32 = torch.finfo(torch.float32).tiny


def log_area(m: int) -> float:
    """log area(S^{m−1}) = log(2π^{m/2}/Γ(m/2)); S^0 is two points (area 2)."""
    return math.log(2) + m / 2 * math.log(math.pi) - math.lgamma(m / 2)


def inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


def head(mu: torch.Tensor, kappa: float, n: int) -> torch.Tensor:
    """n rows of the head for mean direction ``mu`` and concentration κ > 1 (κ = softplus(·) + 1)."""
    feature = inverse_softplus(kappa - 1)
    return torch.cat([mu.expand(n, len(mu)), torch.full((n, 1), feature, dtype=mu.dtype)], 1)


def unit(m: int, seed: int, n: int | None = None, dtype=torch.float64) -> torch.Tensor:
    shape = (m,) if n is None else (n, m)
    return F.normalize(torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype), dim=-1)


def w_moments(m: int, kappa: float) -> tuple[float, float]:
    """E[w], Var[w] of w = 2t − 1, t ~ Beta(α, β)."""
    alpha, beta = (m - 1) / 2 + kappa, (m - 1) / 2
    return (alpha - beta) / (alpha + beta), 4 * alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))


# sampler

@pytest.mark.parametrize("m", [2, 3, 5, 16, 64])
@pytest.mark.parametrize("kappa", [1.0, 3.0, 50.0, 1e3])
def test_samples_lie_on_the_sphere_with_the_moments_of_w(m, kappa):
    """|z| = 1; w = μ·z has the Beta moments E[w] = κ/(m−1+κ), Var[w] = 4αβ/((α+β)²(α+β+1)) (each
    within 5 standard errors of 20k draws); E[z] = E[w] μ (the reflection carries e1 to μ)."""
    torch.manual_seed(m * 1000 + int(kappa))
    n = 20_000
    mu = unit(m, seed=m)
    z = sample_power_spherical(mu.expand(n, m), torch.full((n,), kappa, dtype=torch.float64))
    torch.testing.assert_close(z.norm(dim=1), torch.ones(n, dtype=torch.float64), rtol=0, atol=1e-12)
    w = z @ mu
    mean, var = w_moments(m, kappa)
    assert mean == pytest.approx(kappa / (m - 1 + kappa), rel=1e-14)
    assert abs(w.mean().item() - mean) < 5 * w.std().item() / math.sqrt(n)
    squares = (w - w.mean()).pow(2)
    assert abs(squares.mean().item() - var) < 5 * squares.std().item() / math.sqrt(n)
    assert (z.mean(0) - mean * mu).norm() < 5 / math.sqrt(n)


@pytest.mark.parametrize("m, kappa", [(2, 1e4), (256, 1e4), (3, 1e6), (256, 1.0)])
def test_samples_on_the_sphere_in_float32_at_extreme_kappa(m, kappa):
    torch.manual_seed(5)
    mu = unit(m, seed=1, n=500, dtype=torch.float32)
    z = sample_power_spherical(mu, torch.full((500,), kappa))
    torch.testing.assert_close(z.norm(dim=1), torch.ones(500), rtol=0, atol=1e-5)
    if kappa >= 1e4:
        assert ((z * mu).sum(1) > 0.9).all()


def test_kappa_gradient_is_the_implicit_beta_gradient():
    """Per draw, ∂w/∂κ = −2 ∂s/∂α with s = (1 − w)/2 ~ Beta(β, α) and ∂s/∂α = −∂_α F(s; β, α)/p(s; β, α)
    (F the Beta CDF: scipy's betainc, differentiated by central differences in α), within 1 %."""
    reg = regbench.create_regularizer("power_spherical")
    for m, kappa, seed in [(2, 1.5, 0), (3, 4.0, 1), (5, 30.0, 2), (16, 3.0, 3), (64, 200.0, 4)]:
        mu = unit(m, seed)
        h = head(mu, kappa, 200).requires_grad_()
        torch.manual_seed(seed)
        w = reg.sample(h) @ mu
        (grad,) = torch.autograd.grad(w.sum(), h)
        got = grad[:, -1].numpy() / -math.expm1(1 - kappa)  # dκ/d(feature) = sigmoid = 1 − e^{1−κ}
        s = (1 - w.detach().numpy()) / 2
        alpha, beta, step = (m - 1) / 2 + kappa, (m - 1) / 2, 1e-6 * ((m - 1) / 2 + kappa)
        d_cdf = (special.betainc(beta, alpha + step, s) - special.betainc(beta, alpha - step, s)) / (2 * step)
        expected = 2 * d_cdf / stats.beta.pdf(s, beta, alpha)
        assert abs(got - expected).max() <= 1e-2 * abs(expected).max(), (m, kappa)
        assert (abs(got - expected) <= 1e-2 * abs(expected) + 1e-8).mean() > 0.99, (m, kappa)


@pytest.mark.parametrize("m, kappa", [(2, 2.0), (5, 3.0), (16, 50.0)])
def test_kappa_gradient_is_unbiased(m, kappa):
    """The mean over draws of ∂(μ·z)/∂κ is within 5 standard errors of ∂E[w]/∂κ = (m−1)/(m−1+κ)²:
    no rejection step, so no correction term (vmf's g_cor)."""
    torch.manual_seed(m)
    n = 50_000
    mu = unit(m, seed=m)
    kappa_t = torch.full((n,), kappa, dtype=torch.float64, requires_grad=True)
    w = sample_power_spherical(mu.expand(n, m), kappa_t) @ mu
    (grad,) = torch.autograd.grad(w.sum(), kappa_t)
    assert abs(grad.mean().item() - (m - 1) / (m - 1 + kappa) ** 2) < 5 * grad.std().item() / math.sqrt(n)


# log_prob

def log_normaliser_reference(m: int, kappa: float) -> float:
    alpha, beta = (m - 1) / 2 + kappa, (m - 1) / 2
    return (alpha + beta) * math.log(2) + beta * math.log(math.pi) + math.lgamma(alpha) - math.lgamma(alpha + beta)


def log_prob_reference(h: list[float], z: list[float]) -> float:
    """log q(z | h) of one row in float64 from the formula: μ = h[:m]/|h[:m]|, κ = softplus(h[m]) + 1."""
    m = len(z)
    norm = math.sqrt(sum(x * x for x in h[:m]))
    mu = [x / norm for x in h[:m]]
    kappa = math.log1p(math.exp(h[m])) + 1
    return kappa * math.log1p(sum(a * b for a, b in zip(mu, z))) - log_normaliser_reference(m, kappa)


@pytest.mark.parametrize("n, m, seed", [(1, 2, 0), (7, 2, 1), (5, 3, 2), (9, 5, 3), (4, 16, 4), (3, 64, 5),
                                        (2, 256, 6)])
def test_log_prob_matches_a_float64_loop(n, m, seed):
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(n, m + 1, generator=generator, dtype=torch.float64) * 3
    z = unit(m, seed + 100, n)
    got = regbench.create_regularizer("power_spherical").log_prob(h, z)
    assert got.shape == (n,)
    for i in range(n):
        assert got[i].item() == pytest.approx(log_prob_reference(h[i].tolist(), z[i].tolist()), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("kappa", [1.5, 3.0, 50.0, 1e3])
def test_log_prob_integrates_to_one_on_the_circle(kappa):
    """m = 2: the mean of q over 20k equally spaced angles, times 2π (periodic trapezoid rule)."""
    n = 20_000
    theta = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    z = torch.stack([theta.cos(), theta.sin()], 1)
    h = head(unit(2, seed=3), kappa, n)
    total = regbench.create_regularizer("power_spherical").log_prob(h, z).exp().sum().item() * 2 * math.pi / n
    assert total == pytest.approx(1, rel=1e-10)


@pytest.mark.parametrize("m", [3, 5])
@pytest.mark.parametrize("kappa", [1.5, 3.0, 50.0, 1e3])
def test_log_prob_integrates_to_one_by_the_marginal_of_w(m, kappa):
    """∫ q(z(w)) area(S^{m−2}) (1 − w²)^{(m−3)/2} dw = 1 over w ∈ [−1, 1], with z(w) = w μ + √(1 − w²) ν,
    ν ⟂ μ (scipy's quad, with breakpoints near the mode at large κ)."""
    reg = regbench.create_regularizer("power_spherical")
    mu = unit(m, seed=m)
    other = unit(m, seed=m + 1)
    nu = F.normalize(other - (other @ mu) * mu, dim=0)
    h = head(mu, kappa, 1)

    def density(w):
        z = w * mu + math.sqrt(max(0.0, 1 - w * w)) * nu
        return reg.log_prob(h, z[None]).exp().item() * math.exp(log_area(m - 1)) * (1 - w * w) ** ((m - 3) / 2)

    points = [1 - 30 * m / kappa, 1 - 3 * m / kappa, 1 - 0.3 * m / kappa]
    total = integrate.quad(density, -1, 1, points=[p for p in points if p > -1], epsabs=0, epsrel=1e-11,
                           limit=200)[0]
    assert total == pytest.approx(1, rel=1e-9)


def test_log_prob_at_the_antipode_is_clamped_and_finite():
    """At z = −μ the density is 0; 1 + μ·z is clamped at the smallest normal float, so log q is
    κ log(tiny) − log N there, with a finite gradient; μ·z past ±1 by round-off is clamped to ±1."""
    reg = regbench.create_regularizer("power_spherical")
    for m in (2, 3, 256):
        h = torch.zeros(2, m + 1)
        h[:, 0], h[:, -1] = 1.0, torch.tensor([-1e4, 2.0])
        h.requires_grad_()
        z = torch.zeros(2, m)
        z[:, 0] = -1.0
        z.requires_grad_()
        got = reg.log_prob(h, z)
        expected = [k * math.log(TINY32) - log_normaliser_reference(m, k)
                    for k in (F.softplus(h.detach()[:, -1]) + 1).tolist()]
        torch.testing.assert_close(got, torch.tensor(expected), rtol=1e-6, atol=0)
        grads = torch.autograd.grad(got.sum(), (h, z))
        assert all(torch.isfinite(g).all() for g in grads)
    past = torch.tensor([[1 + 1e-7, 0.0], [-1 - 1e-7, 0.0]], dtype=torch.float64)
    h = torch.tensor([[1.0, 0.0, 3.0]] * 2, dtype=torch.float64)
    kappa = math.log1p(math.exp(3.0)) + 1
    expected = [kappa * math.log(2) - log_normaliser_reference(2, kappa),
                kappa * math.log(torch.finfo(torch.float64).tiny) - log_normaliser_reference(2, kappa)]
    assert reg.log_prob(h, past).tolist() == pytest.approx(expected, rel=1e-13)


# kl

def kl_by_quadrature(m: int, kappa: float) -> float:
    """κ E[log(1 + w)] − log N + log area(S^{m−1}), E and N by quad over θ = angle(z, μ), w = cos θ,
    where q's marginal is (1 + cos θ)^κ sin^{m−2} θ area(S^{m−2}) / N; no Γ or ψ of κ."""
    c = (m - 3) / 2
    peak = kappa / (kappa + 2 * c) if m > 3 else 1.0  # the mode of (1 + w)^κ (1 − w²)^c
    top = kappa * math.log1p(peak) + (c * math.log1p(-peak * peak) if m > 3 else 0.0)  # ≥ the log integrand
    _, var = w_moments(m, kappa)
    points = sorted({math.acos(max(-1.0, min(1.0, peak - j * math.sqrt(var)))) for j in (-10, -1, 0, 1, 3, 10, 30)})

    def integrand(theta, with_log):
        if theta >= math.pi:
            return 0.0
        log_one_plus_w = math.log(2) + 2 * math.log(math.cos(theta / 2))
        log_sin = (m - 2) * math.log(math.sin(theta)) if m > 2 else 0.0
        return math.exp(kappa * log_one_plus_w + log_sin - top) * (log_one_plus_w if with_log else 1.0)

    def quad(with_log):
        return integrate.quad(integrand, 0, math.pi, args=(with_log,), points=points, epsabs=0, epsrel=1e-12,
                              limit=500)[0]

    mass = quad(False)
    log_n = top + log_area(m - 1) + math.log(mass)
    return kappa * quad(True) / mass - log_n + log_area(m)


@pytest.mark.parametrize("m", [2, 3, 5, 16, 64, 256])
@pytest.mark.parametrize("kappa", [1.0, 3.0, 50.0, 1e3, 1e6])
def test_kl_matches_quadrature(m, kappa):
    got = kl_power_spherical_uniform(torch.tensor([kappa], dtype=torch.float64), m).item()
    assert got == pytest.approx(kl_by_quadrature(m, kappa), rel=1e-9 if kappa <= 1e3 else 1e-7)


def test_kl_matches_monte_carlo():
    """kl(h) of single heads is within 5 standard errors of the mean of log q(z | h) − log U(z) over
    50k draws."""
    reg = regbench.create_regularizer("power_spherical")
    n = 50_000
    for m, kappa, seed in [(2, 2.0, 0), (3, 10.0, 1), (8, 1.2, 2), (32, 100.0, 3)]:
        h = head(unit(m, seed), kappa, n)
        torch.manual_seed(seed)
        z = reg.sample(h)
        ratio = reg.log_prob(h, z) - reg.prior_log_prob(z)
        assert abs(ratio.mean().item() - reg.kl(h[:1]).item()) < 5 * ratio.std().item() / math.sqrt(n), (m, kappa)


@pytest.mark.parametrize("m", [2, 16, 256])
def test_kl_in_float32_is_finite_and_matches_float64(m):
    kappa = torch.tensor([1.0, 1.001, 3.0, 50.0, 1e3, 1e4, 1e6], requires_grad=True)
    kl = kl_power_spherical_uniform(kappa, m)
    (grad,) = torch.autograd.grad(kl.sum(), kappa)
    assert kl.dtype == torch.float32 and torch.isfinite(kl).all() and torch.isfinite(grad).all()
    assert (kl >= 0).all() and (kl.diff() > 0).all() and (grad > 0).all()
    torch.testing.assert_close(kl.double(), kl_power_spherical_uniform(kappa.detach().double(), m),
                               rtol=1e-6, atol=1e-12)


# gradients, extremes, head

def seeded_sample(reg, h):
    torch.manual_seed(0)
    return reg.sample(h)


@pytest.mark.parametrize("n, m, seed", [(5, 2, 0), (4, 3, 1), (3, 7, 2)])
def test_gradcheck_kl_log_prob_and_sample(n, m, seed):
    """Float64 gradcheck of kl (through κ), log_prob (in h and z) and a seeded sample in the
    direction features (in κ the gradient is the implicit one: test_kappa_gradient_is_the_implicit_beta_gradient)."""
    reg = regbench.create_regularizer("power_spherical")
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(n, m + 1, generator=generator, dtype=torch.float64, requires_grad=True)
    z = unit(m, seed + 10, n).requires_grad_()
    assert torch.autograd.gradcheck(reg.kl, (h,))
    assert torch.autograd.gradcheck(reg.log_prob, (h, z))
    feature = h.detach()[:, -1:]
    direction = h.detach()[:, :-1].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda d: seeded_sample(reg, torch.cat([d, feature], 1)), (direction,))


@pytest.mark.parametrize("m", [2, 3, 256])
@pytest.mark.parametrize("kappa_feature", [-1e4, 0.0, 1e4])
@pytest.mark.parametrize("direction", ["e1", "-e1", "random"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_finite_at_extreme_heads(m, kappa_feature, direction, dtype):
    """κ = 1 and 1e4 (κ feature ∓1e4), μ = ±e1 exactly, m up to 256: sample, kl, log_prob at the
    samples, at μ and at −μ, and every gradient, finite; upstream gradients of size ≫ 1 too (they
    overflowed the reflection's 0/0 at μ = e1 before its rows returned y)."""
    reg = regbench.create_regularizer("power_spherical")
    n = 6
    if direction == "random":
        mu = unit(m, seed=m, n=n, dtype=dtype)
    else:
        mu = torch.zeros(n, m, dtype=dtype)
        mu[:, 0] = 1.0 if direction == "e1" else -1.0
    h = torch.cat([mu, torch.full((n, 1), kappa_feature, dtype=dtype)], 1).requires_grad_()
    torch.manual_seed(0)
    z = reg.sample(h)
    terms = [z, reg.kl(h)[None], reg.log_prob(h, z.detach()), reg.log_prob(h, mu), reg.log_prob(h, -mu)]
    assert all(torch.isfinite(t).all() for t in terms), [t for t in terms if not torch.isfinite(t).all()]
    weights = torch.arange(1, m + 1, dtype=dtype) * 10
    (grad,) = torch.autograd.grad((z * weights).sum() + sum(t.sum() for t in terms[1:]), h)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_householder_reflection_maps_e1_to_mu_and_is_orthogonal(dtype):
    """``_householder.reflect`` (shared with vmf): U e1 = μ, U preserves inner products, U = I at
    μ = e1 with finite gradients there for vmf and power_spherical alike."""
    m, n = 6, 8
    mu = unit(m, seed=1, n=n, dtype=dtype)
    mu[0] = 0
    mu[0, 0] = 1
    mu[1] = -mu[0]
    e1 = torch.zeros(n, m, dtype=dtype)
    e1[:, 0] = 1
    torch.testing.assert_close(reflect(mu, e1), mu)
    a, b = unit(m, seed=2, n=n, dtype=dtype), unit(m, seed=3, n=n, dtype=dtype)
    torch.testing.assert_close((reflect(mu, a) * reflect(mu, b)).sum(1), (a * b).sum(1))
    assert torch.equal(reflect(mu, a)[0], a[0])
    for name in ("vmf", "power_spherical"):
        h = torch.cat([mu[:1].expand(4, m), torch.zeros(4, 1, dtype=dtype)], 1).requires_grad_()
        (grad,) = torch.autograd.grad((regbench.create_regularizer(name).sample(h) * 1e3).sum(), h)
        assert torch.isfinite(grad).all(), name


def test_kl_and_prior_of_the_head():
    """(The head's layout and dimension check: test_reg_latent_posterior.py, for both sphere posteriors.)"""
    reg = regbench.create_regularizer("power_spherical")
    h = torch.randn(4, 6)
    torch.testing.assert_close(reg.kl(h), kl_power_spherical_uniform(F.softplus(h[:, -1]) + 1, 5).mean())
    assert reg.prior_log_prob(torch.zeros(3, 5, dtype=torch.float64)).tolist() == [-log_area(5)] * 3
