"""DeCov (Cogswell et al., "Reducing Overfitting in Deep Networks by Decorrelating Representations",
ICLR 2016, arXiv:1511.06068): half the squared off-diagonal batch covariances of the codes."""
import pytest
import torch
from scipy.linalg import hadamard

import regbench


def decov_loops(z):
    """½ Σ_{i≠j} C_ij², C_ij = 1/n Σ_k (z_ki − μ_i)(z_kj − μ_j), with explicit loops in float64."""
    z = z.tolist()
    n, d = len(z), len(z[0])
    means = [sum(row[j] for row in z) / n for j in range(d)]
    cov = [[sum((row[i] - means[i]) * (row[j] - means[j]) for row in z) / n for j in range(d)]
           for i in range(d)]
    return 0.5 * sum(cov[i][j] ** 2 for i in range(d) for j in range(d) if i != j)


@pytest.mark.parametrize("n, d", [(7, 4), (2, 3), (5, 1)])
def test_matches_loops_and_gradcheck(n, d):
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    z = (z + z[:, :1]).requires_grad_()  # correlated dimensions
    reg = regbench.create_regularizer("decov")
    assert reg(z).item() == pytest.approx(decov_loops(z), rel=1e-12, abs=1e-15)
    assert torch.autograd.gradcheck(reg, (z,))


def test_zero_for_decorrelated_codes_whatever_their_variances():
    """Columns of a Hadamard matrix (zero mean, orthogonal) scaled per dimension: C is diagonal."""
    z = torch.tensor(hadamard(8)[:, 1:6], dtype=torch.float64) * torch.tensor([0.1, 1, 3, 10, 100.0])
    assert regbench.create_regularizer("decov")(z).item() == 0


def test_two_perfectly_correlated_dimensions():
    """z_2 = a z_1: C_12 = C_21 = a Var(z_1) (1/n), so L = a² Var(z_1)²."""
    x = torch.tensor([0.0, 1.0, 3.0, -2.0], dtype=torch.float64)
    variance = x.var(correction=0).item()
    loss = regbench.create_regularizer("decov")(torch.stack([x, -3 * x], 1))
    assert loss.item() == pytest.approx(9 * variance ** 2, rel=1e-12)


def test_invariant_to_translation():
    z = torch.randn(9, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    reg = regbench.create_regularizer("decov")
    assert reg(z + torch.tensor([5.0, -3.0, 0.1, 100.0], dtype=torch.float64)).item() == \
        pytest.approx(reg(z).item(), rel=1e-10)


def test_finite_at_coincident_zero_and_few_codes():
    reg = regbench.create_regularizer("decov")
    base = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    for z in (base[:1].expand(5, 8), torch.cat([base, base]), torch.zeros(5, 8), base[:2], base[:1],
              1e6 * base):
        z = z.clone().requires_grad_()
        loss = reg(z)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), z
    assert reg(base[:1].expand(5, 8)).item() == 0
