"""The importance-sampled marginal log-likelihood (Burda, Grosse, Salakhutdinov, "Importance Weighted
Autoencoders", ICLR 2016, arXiv:1509.00519) where the answer is known in closed form.

- A linear-Gaussian model, p(z) = N(0, I_k), p(x | z) = N(Wz + b, σ² I_D), has
  p(x) = N(b, WWᵀ + σ² I) and the posterior N(S Wᵀ(x − b)/σ², S), S = (I + WᵀW/σ²)⁻¹ (diagonal
  when W has orthogonal columns, so ``kl_gauss`` can represent it exactly).
- On the sphere, p(z) uniform on S^{m−1} and p(x | z) = vMF(x; z, κ) give p(x) = 1/area(S^{m−1})
  and the posterior vMF(z; x, κ).
With the exact posterior every importance weight is p(x), so the estimate is exact for any K; with
another posterior it is ≥ the K-sample ELBO (Jensen) and rises to log p(x) as K grows.
"""
import math

import pytest
import torch

import regbench
from regbench.metrics.likelihood import importance_sampled, log_mean_exp
from regbench.regularizers._priors import log_sphere_area
from regbench.regularizers.vmf import log_normaliser


def linear_gaussian(k: int, dim: int, sigma: float, seed: int):
    """(W with orthogonal columns, b, items x drawn from the model)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, k, generator=g, dtype=torch.float64))
    w = q * (0.5 + 2 * torch.rand(k, generator=g, dtype=torch.float64))
    b = torch.randn(dim, generator=g, dtype=torch.float64)
    z = torch.randn(7, k, generator=g, dtype=torch.float64)
    return w, b, z @ w.T + b + sigma * torch.randn(7, dim, generator=g, dtype=torch.float64)


def exact_log_marginal(x, w, b, sigma):
    covariance = w @ w.T + sigma ** 2 * torch.eye(len(b), dtype=torch.float64)
    return torch.distributions.MultivariateNormal(b, covariance).log_prob(x)


def gaussian_log_likelihood(x, w, b, sigma):
    def log_likelihood(z, items):
        return torch.distributions.Normal(z @ w.T + b, sigma).log_prob(x[items]).sum(1)
    return log_likelihood


def exact_posterior_head(x, w, b, sigma):
    """kl_gauss's head (mean, log-variance) of the exact posterior (W has orthogonal columns)."""
    variance = 1 / (1 + (w * w).sum(0) / sigma ** 2)
    mean = (x - b) @ w * variance / sigma ** 2
    return torch.cat([mean, variance.log().expand_as(mean)], 1)


@pytest.mark.parametrize("k, dim, sigma, seed", [(1, 3, 0.5, 0), (2, 5, 0.1, 1), (4, 9, 1.0, 2)])
@pytest.mark.parametrize("samples", [1, 7])
def test_exact_posterior_gives_the_exact_marginal_for_any_k(k, dim, sigma, seed, samples):
    w, b, x = linear_gaussian(k, dim, sigma, seed)
    torch.manual_seed(seed)
    estimate = importance_sampled(exact_posterior_head(x, w, b, sigma), regbench.create_regularizer("kl_gauss"),
                                  gaussian_log_likelihood(x, w, b, sigma), samples)
    torch.testing.assert_close(estimate["ll"], exact_log_marginal(x, w, b, sigma), rtol=0, atol=1e-9)
    torch.testing.assert_close(estimate["elbo"], estimate["ll"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimate_rises_to_the_marginal_and_bounds_the_elbo(seed):
    """With a posterior of shifted mean and doubled variance the expected estimate is below
    log p(x), the more so the fewer the samples (mean over 400 draws per item), it is within
    0.02 nats at K = 3000 (mean over 20 draws), and it is ≥ the K-sample ELBO item by item."""
    w, b, x = linear_gaussian(2, 6, 0.3, seed)
    head = exact_posterior_head(x, w, b, 0.3)
    head = torch.cat([head[:, :2] + 0.2, head[:, 2:] + math.log(2)], 1)
    posterior = regbench.create_regularizer("kl_gauss")
    torch.manual_seed(seed)

    def mean_gap(items, samples):
        estimate = importance_sampled(head[items], posterior, gaussian_log_likelihood(x[items], w, b, 0.3),
                                      samples)
        assert (estimate["ll"] >= estimate["elbo"] - 1e-12).all()
        return float((exact_log_marginal(x[items], w, b, 0.3) - estimate["ll"]).mean())

    repeated = torch.arange(len(x)).repeat(400)
    one, thirty = mean_gap(repeated, 1), mean_gap(repeated, 30)
    assert one > thirty > 0 and one > 0.3, (one, thirty)
    assert abs(mean_gap(torch.arange(len(x)).repeat(20), 3000)) < 0.02


@pytest.mark.parametrize("name", ["vmf", "power_spherical"])
@pytest.mark.parametrize("m", [2, 3, 8])
def test_sphere_model_marginal_is_uniform(name, m):
    """x ~ vMF(z, κ), z uniform on the sphere: log p(x) = −log area(S^{m−1}). The vMF posterior
    is exact (any K); the Power Spherical one converges with K."""
    kappa = 4.0
    g = torch.Generator().manual_seed(m)
    x = torch.nn.functional.normalize(torch.randn(5, m, generator=g, dtype=torch.float64), dim=1)
    # a head whose softplus(·) + 1 is κ and whose direction is x
    feature = math.log(math.expm1(kappa - 1))
    head = torch.cat([3 * x, torch.full((5, 1), feature, dtype=torch.float64)], 1)

    def log_likelihood(z, items):
        return log_normaliser(torch.full((len(z),), kappa, dtype=torch.float64), m) + kappa * (z * x[items]).sum(1)

    torch.manual_seed(0)
    estimate = importance_sampled(head, regbench.create_regularizer(name), log_likelihood,
                                  1 if name == "vmf" else 4000)
    expected = torch.full((5,), -log_sphere_area(m), dtype=torch.float64)
    torch.testing.assert_close(estimate["ll"], expected, rtol=0, atol=1e-9 if name == "vmf" else 0.02)
    assert (estimate["ll"] >= estimate["elbo"] - 1e-12).all()


def test_log_mean_exp_is_stable():
    x = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3)]], dtype=torch.float64)
    torch.testing.assert_close(log_mean_exp(x, 1), torch.tensor([1000.0, -1000.0 + math.log(2)],
                                                                dtype=torch.float64))
