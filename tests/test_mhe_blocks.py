"""MHE on codes in blocks of rows (Liu et al., "Learning towards Minimum Hyperspherical Energy",
NeurIPS 2018, arXiv:1805.09298): the blockwise sum with a recomputing backward against the dense
one and against direct loops."""
import math

import pytest
import torch

import regbench
from regbench.regularizers import _pairwise as pairwise
from regbench.regularizers._energy import KERNELS, hyperspherical_energy, unit_rows

DISTANCE = {  # kernel of the clamped cosine c, with math only (wy1iu/MHE)
    "s0": lambda c: -math.log(2 - 2 * c),
    "s1": lambda c: (2 - 2 * c) ** -0.5,
    "s2": lambda c: 1 / (2 - 2 * c),
    "a0": lambda c: -math.log(math.acos(c) / math.pi + 1e-4),
    "a1": lambda c: 1 / (math.acos(c) / math.pi + 1e-4),
    "a2": lambda c: (math.acos(c) / math.pi + 1e-4) ** -2,
}


def mhe_loops(w, kernel):
    """2/(n(n−1)) Σ_{i<j} K(clamp(ŵ_i·ŵ_j)), ŵ = w / sqrt(|w|² + 1e-4), with explicit loops."""
    rows = [[a / math.sqrt(sum(b * b for b in row) + 1e-4) for a in row] for row in w.tolist()]
    n, total = len(rows), 0.0
    for i in range(n):
        for j in range(i + 1, n):
            c = min(max(sum(a * b for a, b in zip(rows[i], rows[j])), -1 + 1e-6), 1 - 1e-6)
            total += DISTANCE[kernel](c)
    return total / (n * (n - 1) / 2)


def hard_rows():
    """Random rows, a duplicate pair, a zero row, and large parallel/antipodal rows whose cosines
    are clamped (c = ±(1 − 1e-10) before the clamp)."""
    torch.manual_seed(0)
    w = torch.randn(9, 4, dtype=torch.float64)
    w[3] = w[1]
    w[5] = 0
    w[7] = 1e3 * w[2]
    w[8] = -1e3 * w[2]
    w[2] = 1e3 * w[2]
    return w


def energy_and_grad(w, kernel, chunk):
    w = w.clone().requires_grad_()
    value = hyperspherical_energy(unit_rows(w), kernel, chunk)
    (grad,) = torch.autograd.grad(value, w)
    return value, grad


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("chunk", [1, 2, 4])  # the last block shorter for 2 and 4 (n = 9)
def test_blockwise_equals_dense_and_loops(kernel, chunk):
    w = hard_rows()
    dense, grad_dense = energy_and_grad(w, kernel, len(w))
    blockwise, grad_blockwise = energy_and_grad(w, kernel, chunk)
    assert dense.item() == pytest.approx(mhe_loops(w, kernel), rel=1e-12)
    assert blockwise.item() == pytest.approx(dense.item(), rel=1e-12)
    torch.testing.assert_close(grad_blockwise, grad_dense, rtol=1e-10, atol=1e-12)
    assert grad_blockwise[[2, 7, 8]].abs().min() > 0  # their unclamped pairs still pull on them


def test_clamped_pairs_pass_no_gradient():
    """Two coincident large rows only: their cosine is clamped, so the energy has zero gradient."""
    w = 1e3 * torch.ones(2, 3, dtype=torch.float64)
    for kernel in KERNELS:
        for chunk in (1, 2):
            value, grad = energy_and_grad(w, kernel, chunk)
            assert value.item() == pytest.approx(mhe_loops(w, kernel), rel=1e-12)
            assert torch.equal(grad, torch.zeros_like(w))


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_gradcheck_blockwise(kernel):
    torch.manual_seed(1)
    w = torch.randn(7, 3, dtype=torch.float64)
    w[4] = 0
    w.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: hyperspherical_energy(unit_rows(x), kernel, 3), (w,))


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_codes_regularizer_blockwise_matches_loops(kernel, monkeypatch):
    monkeypatch.setattr(pairwise, "CHUNK_PAIRS", 2 * 9)  # blocks of 2 rows for n = 9
    w = hard_rows().requires_grad_()
    value = regbench.create_regularizer("mhe", kernel=kernel)(w)
    assert value.item() == pytest.approx(mhe_loops(w, kernel), rel=1e-12)
    value.backward()
    assert torch.isfinite(w.grad).all()


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_finite_at_coincident_zero_tiny_and_huge_codes(kernel):
    base = torch.randn(3, 8)
    for w in (torch.cat([base, base, torch.zeros(2, 8)]), torch.full((5, 8), 1e-30), 1e30 * base,
              torch.ones(6, 8)):
        w = w.clone().requires_grad_()
        value = hyperspherical_energy(unit_rows(w), kernel, 2)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(w.grad).all()


def test_default_blocks_match_dense_in_float32():
    """n = 600 exceeds one default block (CHUNK_PAIRS // 600 = 436 rows): blockwise by default."""
    torch.manual_seed(2)
    z = torch.randn(600, 16)
    assert pairwise.CHUNK_PAIRS // len(z) < len(z)
    dense, grad_dense = energy_and_grad(z, "s1", len(z))
    blockwise, grad_blockwise = energy_and_grad(z, "s1", None)
    assert blockwise.item() == pytest.approx(dense.item(), rel=1e-5)
    torch.testing.assert_close(grad_blockwise, grad_dense, rtol=1e-4, atol=1e-9)
