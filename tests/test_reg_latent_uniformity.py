"""Uniformity loss of Wang & Isola, "Understanding Contrastive Representation Learning through Alignment
and Uniformity on the Hypersphere", ICML 2020, arXiv:2005.10242: log of the mean Gaussian potential
between L2-normalised codes."""
import math

import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.regularizers import _pairwise as pairwise


def uniformity_loops(z, t):
    """log 2/(n(n−1)) Σ_{i<j} exp(−t |x̂_i − x̂_j|²), x̂ = x/|x|, with explicit loops in float64."""
    rows = [[a / math.sqrt(sum(b * b for b in row)) for a in row] for row in z.tolist()]
    n = len(rows)
    total = sum(math.exp(-t * sum((a - b) ** 2 for a, b in zip(rows[i], rows[j])))
                for i in range(n) for j in range(i + 1, n))
    return math.log(total / (n * (n - 1) / 2))


def authors_lunif(z, t):
    """The authors' ``lunif`` on normalised codes: pdist(x).pow(2).mul(-t).exp().mean().log()."""
    x = z / z.norm(dim=1, keepdim=True)
    return torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()


@pytest.mark.parametrize("t", [0.5, 2.0, 7.0])
@pytest.mark.parametrize("pairs", [None, 12])  # default (plain) path, then 2-row blocks for n = 6
def test_matches_loops_and_gradients(t, pairs, monkeypatch):
    if pairs:
        monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)
    torch.manual_seed(0)
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    reg = regbench.create_regularizer("uniformity", t=t)
    value = reg(z)
    assert value.item() == pytest.approx(uniformity_loops(z, t), rel=1e-12)
    (grad,) = torch.autograd.grad(value, z)
    (expected,) = torch.autograd.grad(authors_lunif(z, t), z)
    torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(reg, (z,))


def test_blockwise_equals_plain_on_medium_n(monkeypatch):
    torch.manual_seed(1)
    z = torch.randn(300, 5).requires_grad_()
    reg = regbench.create_regularizer("uniformity")
    plain = reg(z)
    (grad_plain,) = torch.autograd.grad(plain, z)
    monkeypatch.setattr(pairwise, "CHUNK_PAIRS", 70 * 300)  # blocks of 70 rows, the last one shorter
    blockwise = reg(z)
    (grad_blockwise,) = torch.autograd.grad(blockwise, z)
    assert blockwise.item() == pytest.approx(plain.item(), rel=1e-5)
    torch.testing.assert_close(grad_blockwise, grad_plain, rtol=1e-4, atol=1e-7)


def test_invariant_to_positive_row_scales_and_rotations():
    torch.manual_seed(2)
    z = torch.randn(9, 4, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    scales = torch.rand(9, 1, dtype=torch.float64) * 100 + 1e-3
    reg = regbench.create_regularizer("uniformity")
    assert reg(scales * z @ q).item() == pytest.approx(reg(z).item(), rel=1e-12)


@pytest.mark.parametrize("t", [30.0, 1e4])
def test_no_underflow_for_large_t(t):
    """Two antipodal codes: L = −4t exactly, where the unshifted exp(−4t) is 0 in float32."""
    z = torch.tensor([[1.0, 2.0, -2.0], [-0.5, -1.0, 1.0]], requires_grad=True)
    loss = regbench.create_regularizer("uniformity", t=t)(z)
    (grad,) = torch.autograd.grad(loss, z)
    assert loss.item() == pytest.approx(-4 * t, rel=1e-6)
    assert torch.isfinite(grad).all()
    assert torch.exp(torch.tensor(-4 * t)) == 0  # the unshifted sum would underflow


def test_large_t_matches_loops_where_every_term_underflows_in_float32():
    """A perturbed regular tetrahedron: |x̂_i − x̂_j|² ≈ 8/3, so exp(−150 · 8/3) ≈ 1e-174 is 0 in float32
    (but not in the float64 loops)."""
    torch.manual_seed(3)
    z = torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) + 0.05 * torch.randn(4, 3)
    loss = regbench.create_regularizer("uniformity", t=150.0)(z)
    assert loss.item() == pytest.approx(uniformity_loops(z.double(), 150.0), rel=1e-5)
    assert torch.exp(-150 * torch.pdist(z / z.norm(dim=1, keepdim=True)).pow(2)).max() == 0


@pytest.mark.parametrize("t", [1e-8, 2.0, 1e4])
@pytest.mark.parametrize("pairs", [None, 4])
def test_finite_at_coincident_zero_and_two_codes(t, pairs, monkeypatch):
    if pairs:
        monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)
    torch.manual_seed(4)
    reg = regbench.create_regularizer("uniformity", t=t)
    base = torch.randn(3, 8)
    for z in (base[:1].expand(6, 8), torch.cat([base, base]), torch.zeros(5, 8), torch.full((5, 8), 1e-30),
              base[:2], 1e6 * base):
        z = z.clone().requires_grad_()
        loss = reg(z)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), z
    # all potentials are 1, up to t times the float32 round-off of the squared distances (≈ 1e-7)
    assert reg(base[:1].expand(6, 8)).item() == pytest.approx(0.0, abs=1e-6 * max(t, 1))


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_bad_t_rejected(t):
    with pytest.raises(RegbenchError, match="t > 0"):
        regbench.create_regularizer("uniformity", t=t)


def test_needs_two_codes():
    with pytest.raises(ValueError, match="n ≥ 2"):
        regbench.create_regularizer("uniformity")(torch.randn(1, 3))
