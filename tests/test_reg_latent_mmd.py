"""mmd_imq (WAE) and coulomb (Coulomb AE): the shared MMD estimator of Tolstikhin et al.,
"Wasserstein Auto-Encoders", ICLR 2018, arXiv:1711.01558 (U-statistics within each sample, all pairs
across), with the Coulomb kernel of Sansone et al., "Coulomb Autoencoders", ECAI 2020, arXiv:1802.03505."""
import math

import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.regularizers import _pairwise as pairwise


def mmd_loops(q, p, kernel):
    """[Σ_{i≠j} k(q_i,q_j) + Σ_{i≠j} k(p_i,p_j)]/(n(n−1)) − 2 Σ_{i,j} k(q_i,p_j)/n², explicit loops."""
    q, p = q.tolist(), p.tolist()
    n = len(q)
    k = lambda a, b: kernel(math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))))
    within = sum(k(q[i], q[j]) + k(p[i], p[j]) for i in range(n) for j in range(n) if i != j)
    across = sum(k(q[i], p[j]) for i in range(n) for j in range(n))
    return within / (n * (n - 1)) - 2 * across / n ** 2


def imq(d, sigma2):
    return lambda dist: sum(c / (c + dist ** 2) for c in (2 * d * sigma2 * s for s in (.1, .2, .5, 1, 2, 5, 10)))


def coulomb(h, eps):
    return lambda dist: 1 / (dist ** (h - 2) + eps)


CASES = [  # name, hyperparameters, reference kernel for d = 3
    ("mmd_imq", {}, imq(3, 1.0)),
    ("mmd_imq", {"sigma2": 2.5}, imq(3, 2.5)),
    ("coulomb", {}, coulomb(3, 1.0)),
    ("coulomb", {"h": 5.5, "eps": 0.1}, coulomb(5.5, 0.1)),
]


@pytest.mark.parametrize("name, hparams, kernel", CASES)
@pytest.mark.parametrize("pairs", [None, 12])  # default (plain) path, then 2-row blocks for n = 6
def test_matches_loops_and_gradcheck(name, hparams, kernel, pairs, monkeypatch):
    if pairs:
        monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)
    torch.manual_seed(0)
    q = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    p = torch.randn(6, 3, dtype=torch.float64)
    reg = regbench.create_regularizer(name, **hparams)
    assert reg(q, p).item() == pytest.approx(mmd_loops(q, p, kernel), rel=1e-12, abs=1e-14)
    assert torch.autograd.gradcheck(lambda z: reg(z, p), (q,))


@pytest.mark.parametrize("name", ["mmd_imq", "coulomb"])
def test_blockwise_equals_plain_on_medium_n(name, monkeypatch):
    torch.manual_seed(1)
    q, p = (torch.randn(300, 5) + 0.5).requires_grad_(), torch.randn(300, 5)
    reg = regbench.create_regularizer(name)
    plain = reg(q, p)
    (grad_plain,) = torch.autograd.grad(plain, q)
    monkeypatch.setattr(pairwise, "CHUNK_PAIRS", 70 * 300)  # blocks of 70 rows, the last one shorter
    blockwise = reg(q, p)
    (grad_blockwise,) = torch.autograd.grad(blockwise, q)
    assert blockwise.item() == pytest.approx(plain.item(), rel=1e-4, abs=1e-7)
    torch.testing.assert_close(grad_blockwise, grad_plain, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("name, hparams", [("mmd_imq", {}), ("mmd_imq", {"sigma2": 1e-6}),
                                           ("mmd_imq", {"sigma2": 1e6}), ("coulomb", {}),
                                           ("coulomb", {"eps": 1e-8}), ("coulomb", {"h": 2.001, "eps": 1e-8}),
                                           ("coulomb", {"h": 200.0})])
@pytest.mark.parametrize("d", [3, 64])
@pytest.mark.parametrize("pairs", [None, 4])
def test_finite_at_coincident_tiny_and_huge_codes(name, hparams, d, pairs, monkeypatch):
    if pairs:
        monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)
    torch.manual_seed(2)
    reg = regbench.create_regularizer(name, **hparams)
    base, p = torch.randn(3, d), torch.randn(8, d)
    for z in (torch.cat([base, base, p[:2]]), torch.full((8, d), 1e-30), 1e6 * p):
        z = z.clone().requires_grad_()
        loss = reg(z, p)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), z


@pytest.mark.parametrize("name", ["mmd_imq", "coulomb"])
def test_near_zero_for_the_prior_and_positive_for_a_shift(name):
    torch.manual_seed(3)
    n, d, repeats = 128, 4, 30
    reg = regbench.create_regularizer(name)
    null = torch.stack([reg(torch.randn(n, d)) for _ in range(repeats)])
    shifted = torch.stack([reg(torch.randn(n, d) + 2) for _ in range(repeats)])
    standard_error = null.std() / math.sqrt(repeats)
    assert abs(null.mean()) < 4 * standard_error
    assert shifted.min() > 0 and shifted.mean() > 20 * null.std()


def test_prior_sample_is_drawn_with_sigma2():
    torch.manual_seed(4)
    reg = regbench.create_regularizer("mmd_imq", sigma2=9.0)
    z = 3 * torch.randn(256, 4)
    assert abs(reg(z).item()) < 0.1 * reg(z / 3).item()


@pytest.mark.parametrize("hparams", [{"h": 2.0}, {"h": 1.5}, {"h": -3.0}, {"eps": 0.0}, {"eps": -1.0}])
def test_coulomb_bad_hyperparameters_rejected(hparams):
    with pytest.raises(RegbenchError):
        regbench.create_regularizer("coulomb", **hparams)


def test_coulomb_default_h_needs_d_above_2():
    with pytest.raises(ValueError, match="h > 2"):
        regbench.create_regularizer("coulomb")(torch.randn(5, 2))
    assert torch.isfinite(regbench.create_regularizer("coulomb", h=3.0)(torch.randn(5, 2)))
