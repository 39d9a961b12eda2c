"""Sliced-Wasserstein distance to a prior (Kolouri, Pope, Martin, Rohde, "Sliced-Wasserstein
Autoencoders", ICLR 2019, arXiv:1804.01947)."""
import pytest
import torch

import regbench
from regbench import RegbenchError


def sliced_wasserstein_loops(z, prior, theta):
    """1/(L n) Σ_l Σ_k (θ_l·z_(k) − θ_l·p_(k))², the k-th smallest projections, explicit loops."""
    z, prior, theta = z.tolist(), prior.tolist(), theta.tolist()
    total = 0.0
    for direction in theta:
        project = lambda rows: sorted(sum(a * b for a, b in zip(row, direction)) for row in rows)  # noqa: E731
        total += sum((a - b) ** 2 for a, b in zip(project(z), project(prior)))
    return total / (len(theta) * len(z))


def unit_rows(x):
    return x / x.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("n, d, directions", [(6, 3, 5), (2, 4, 1), (9, 1, 2)])
def test_matches_loops_and_gradcheck(n, d, directions):
    generator = torch.Generator().manual_seed(n)
    z = torch.randn(n, d, generator=generator, dtype=torch.float64, requires_grad=True)
    prior = torch.randn(n, d, generator=generator, dtype=torch.float64)
    theta = unit_rows(torch.randn(directions, d, generator=generator, dtype=torch.float64))
    reg = regbench.create_regularizer("swae")
    assert reg(z, prior, theta).item() == pytest.approx(sliced_wasserstein_loops(z, prior, theta), rel=1e-12)
    assert torch.autograd.gradcheck(lambda codes: reg(codes, prior, theta), (z,))


@pytest.mark.parametrize("prior", ["gaussian", "sphere"])
def test_seeded_draws_are_the_documented_ones(prior):
    """Directions then the prior sample, from the global generator: a seed fixes the value."""
    z = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    reg = regbench.create_regularizer("swae", prior=prior, projections=7)
    torch.manual_seed(5)
    value = reg(z)
    torch.manual_seed(5)
    theta = unit_rows(torch.randn(7, 3))
    sample = torch.randn(10, 3)
    sample = unit_rows(sample) if prior == "sphere" else sample
    assert value.item() == pytest.approx(sliced_wasserstein_loops(z, sample, theta), rel=1e-5)
    torch.manual_seed(5)
    assert torch.equal(reg(z), value)
    assert not torch.equal(reg(z), value)  # the generator moved on: fresh draws


def test_translation_by_s_costs_the_mean_squared_projection_of_s():
    """Sorting commutes with a shift: SW(p + s, p) = 1/L Σ_l (θ_l·s)², whatever p."""
    generator = torch.Generator().manual_seed(2)
    prior = torch.randn(50, 4, generator=generator, dtype=torch.float64)
    theta = unit_rows(torch.randn(20, 4, generator=generator, dtype=torch.float64))
    s = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    loss = regbench.create_regularizer("swae")(prior + s, prior, theta)
    assert loss.item() == pytest.approx((theta @ s).pow(2).mean().item(), rel=1e-12)


def test_small_for_the_matching_prior_only():
    """Codes uniform on the sphere are far closer (in SW) to the sphere prior than to N(0, I)."""
    torch.manual_seed(3)
    z = unit_rows(torch.randn(1024, 4))
    sphere = regbench.create_regularizer("swae", prior="sphere")
    gaussian = regbench.create_regularizer("swae", prior="gaussian")
    to_sphere, to_gaussian = sphere(z).item(), gaussian(z).item()
    assert to_sphere < 0.005 and to_gaussian > 0.2
    assert gaussian(torch.randn(1024, 4)).item() < 0.02


@pytest.mark.parametrize("hparams", [{}, {"prior": "sphere"}, {"projections": 1}, {"projections": 2000}])
@pytest.mark.parametrize("d", [1, 16])
def test_finite_at_coincident_zero_and_two_codes(hparams, d):
    torch.manual_seed(4)
    reg = regbench.create_regularizer("swae", **hparams)
    base = torch.randn(3, d)
    for z in (base[:1].expand(5, d), torch.cat([base, base]), torch.zeros(5, d), base[:2], base[:1], 1e6 * base):
        z = z.clone().requires_grad_()
        loss = reg(z)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), z


def test_zero_codes_pay_the_mean_squared_prior_projection():
    """z = 0: SW = 1/(L n) Σ_l Σ_k (θ_l·p_k)², the sorting does not matter."""
    generator = torch.Generator().manual_seed(6)
    prior = torch.randn(8, 3, generator=generator, dtype=torch.float64)
    theta = unit_rows(torch.randn(4, 3, generator=generator, dtype=torch.float64))
    loss = regbench.create_regularizer("swae")(torch.zeros(8, 3, dtype=torch.float64), prior, theta)
    assert loss.item() == pytest.approx((prior @ theta.T).pow(2).mean().item(), rel=1e-12)


@pytest.mark.parametrize("hparams", [{"projections": 0}, {"prior": "uniform"}, {"projections": 2.5}])
def test_bad_hyperparameters_rejected(hparams):
    with pytest.raises(RegbenchError):
        regbench.create_regularizer("swae", **hparams)


def test_prior_sample_must_match_the_codes():
    with pytest.raises(ValueError, match="shaped like the codes"):
        regbench.create_regularizer("swae")(torch.randn(5, 3), torch.randn(4, 3))
