"""Variance and covariance terms of VICReg (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance
Regularization for Self-Supervised Learning", ICLR 2022, arXiv:2105.04906) on one batch of codes."""
import math

import pytest
import torch
from scipy.linalg import hadamard

import regbench
from regbench import RegbenchError


def vicreg_loops(z, mu=25.0, nu=1.0, gamma=1.0, eps=1e-4):
    """μ/d Σ_j max(0, γ − sqrt(Var z_j + ε)) + ν/d Σ_{i≠j} C_ij², unbiased (1/(n−1)), explicit loops."""
    z = z.tolist()
    n, d = len(z), len(z[0])
    means = [sum(row[j] for row in z) / n for j in range(d)]
    cov = [[sum((row[i] - means[i]) * (row[j] - means[j]) for row in z) / (n - 1) for j in range(d)]
           for i in range(d)]
    variance = sum(max(0.0, gamma - math.sqrt(cov[j][j] + eps)) for j in range(d)) / d
    covariance = sum(cov[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d
    return mu * variance + nu * covariance


def codes(n=7, seed=0, dtype=torch.float64):
    """Correlated codes whose dimensions have standard deviations on both sides of γ = 1."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 4, generator=generator, dtype=dtype) * torch.tensor([0.3, 0.7, 1.6, 3.0], dtype=dtype)
    return z + 0.5 * z[:, :1]


@pytest.mark.parametrize("hparams", [{}, {"mu": 0.5, "nu": 3.0, "gamma": 2.0, "eps": 0.01},
                                     {"mu": 0.0}, {"nu": 0.0}])
def test_matches_loops_and_gradcheck(hparams):
    z = codes().requires_grad_()
    reg = regbench.create_regularizer("vicreg", **hparams)
    assert reg(z).item() == pytest.approx(vicreg_loops(z, **hparams), rel=1e-12)
    assert torch.autograd.gradcheck(reg, (z,))


def test_zero_for_decorrelated_codes_with_large_variances():
    """Columns of a Hadamard matrix (zero mean, orthogonal): C = n/(n−1) I, so v = c = 0."""
    z = torch.tensor(hadamard(8)[:, 1:6], dtype=torch.float64)
    assert regbench.create_regularizer("vicreg")(z).item() == 0
    shrunk = regbench.create_regularizer("vicreg")(z / 4).item()  # std 0.27: only the hinge is active
    assert shrunk == pytest.approx(25 * (1 - math.sqrt(8 / 7 / 16 + 1e-4)), rel=1e-12)


def test_invariant_to_translation_and_dimension_permutation():
    z = codes(9, seed=1)
    reg = regbench.create_regularizer("vicreg")
    shifted = z[:, [2, 0, 3, 1]] + torch.tensor([5.0, -3.0, 0.1, 100.0], dtype=torch.float64)
    assert reg(shifted).item() == pytest.approx(reg(z).item(), rel=1e-10)


@pytest.mark.parametrize("hparams", [{}, {"eps": 1e-30}, {"gamma": 1e6}, {"mu": 1e6, "nu": 1e6}])
def test_finite_at_coincident_zero_and_two_codes(hparams):
    reg = regbench.create_regularizer("vicreg", **hparams)
    base = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    for z in (base[:1].expand(5, 8), torch.cat([base, base]), torch.zeros(5, 8), base[:2], 1e6 * base):
        z = z.clone().requires_grad_()
        loss = reg(z)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), z


def test_constant_codes_pay_the_full_hinge():
    loss = regbench.create_regularizer("vicreg")(torch.ones(6, 3))
    assert loss.item() == pytest.approx(25 * (1 - math.sqrt(1e-4)), rel=1e-6)


@pytest.mark.parametrize("hparams", [{"mu": -1.0}, {"nu": -0.1}, {"gamma": 0.0}, {"eps": 0.0}])
def test_bad_hyperparameters_rejected(hparams):
    with pytest.raises(RegbenchError):
        regbench.create_regularizer("vicreg", **hparams)


def test_needs_two_codes():
    with pytest.raises(ValueError, match="n ≥ 2"):
        regbench.create_regularizer("vicreg")(torch.randn(1, 3))
