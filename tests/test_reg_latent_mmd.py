"""mmd_imq (WAE) and coulomb (Coulomb AE): the shared MMD estimator of Tolstikhin et al.,
"Wasserstein Auto-Encoders", ICLR 2018, arXiv:1711.01558 (U-statistics within each sample, all pairs
across), with the Coulomb kernel of Sansone et al., "Coulomb Autoencoders", ECAI 2020, arXiv:1802.03505."""
import math

import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.regularizers import _pairwise as pairwise
from regbench.regularizers.coulomb import kernel as coulomb_kernel
from regbench.regularizers.coulomb import kernel_derivative as coulomb_derivative


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
    ("coulomb", {"h_is_d": True, "eps": 0.5}, coulomb(3, 0.5)),  # h = d
    ("coulomb", {"h": 5.5, "eps": 0.1}, coulomb(5.5, 0.1)),
    ("coulomb", {"h": 64.0, "eps": 1e-3}, coulomb(64, 1e-3)),
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
@pytest.mark.parametrize("d", [4, 64])
def test_near_zero_for_the_prior_and_positive_for_a_shift(name, d):
    torch.manual_seed(3)
    n, repeats = 128, 30
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


def test_coulomb_h_is_d_takes_the_dimension():
    with pytest.raises(ValueError, match="h > 2"):
        regbench.create_regularizer("coulomb", h_is_d=True)(torch.randn(5, 2))
    q, p = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    by_dimension = regbench.create_regularizer("coulomb", h_is_d=True, h=7.0)(q, p)
    by_value = regbench.create_regularizer("coulomb", h=5.0)(q, p)
    assert by_dimension.item() == pytest.approx(by_value.item(), rel=1e-14)


@pytest.mark.parametrize("pairs", [None, 64 * 16])  # plain path, then blocks of 16 rows
@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_coulomb_default_acts_in_float32_at_d_64(shift, pairs, monkeypatch):
    """With h = d = 64 the kernel is ~1e-66 at these distances: value and gradient were 0 in float32."""
    if pairs:
        monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)
    torch.manual_seed(5)
    q, p = torch.randn(64, 64) + shift, torch.randn(64, 64)
    reg = regbench.create_regularizer("coulomb")
    values, grads = [], []
    for dtype in (torch.float32, torch.float64):
        z = q.to(dtype).requires_grad_()
        values.append(reg(z, p.to(dtype)))
        grads.append(torch.autograd.grad(values[-1], z)[0])
    assert torch.isfinite(values[0]) and values[0] != 0
    assert torch.isfinite(grads[0]).all() and (grads[0] != 0).all()
    assert values[0].item() == pytest.approx(values[1].item(), rel=1e-3)
    torch.testing.assert_close(grads[0].double(), grads[1], rtol=1e-3,
                               atol=1e-4 * grads[1].abs().max().item())
    assert torch.isfinite(torch.autograd.grad(reg(q.requires_grad_()), q)[0]).all()  # fresh prior sample


@pytest.mark.parametrize("h", [2.001, 2.5, 3.0, 4.0, 5.5, 16.0, 64.0, 200.0])
@pytest.mark.parametrize("eps", [1e-8, 1.0, 1e3])
def test_coulomb_derivative_matches_autograd_of_the_kernel(h, eps):
    """Closed-form dk/dr against autograd of the kernel in float64 for r from 1e-300 to 1e300, where
    the autograd chain k · sigmoid(a log r − log ε) · a / r holds no subnormal factor; 0 at r = 0;
    in float32 from the smallest normal r to the largest float, the float64 values rounded (inf only
    where those overflow float32: h → 2 with ε → 0 near r = 0)."""
    r = torch.logspace(-300, 300, 1201, dtype=torch.float64)
    x = r.clone().requires_grad_()
    (autograd,) = torch.autograd.grad(coulomb_kernel(x, h, eps).sum(), x)
    closed_form = coulomb_derivative(r, h, eps)
    assert torch.isfinite(closed_form).all() and (closed_form <= 0).all()
    normal = (h - 2) / 2 * r.log() - math.log(eps) > -600
    torch.testing.assert_close(closed_form[normal], autograd[normal], rtol=1e-11, atol=1e-300)
    info = torch.finfo(torch.float32)
    extremes = torch.tensor([info.tiny, info.eps, 1.0, 1 / info.eps, info.max])
    for f in (coulomb_kernel, coulomb_derivative):
        torch.testing.assert_close(f(extremes, h, eps), f(extremes.double(), h, eps).float(),
                                   rtol=1e-4, atol=0)
    for zero in (torch.zeros(2), torch.zeros(2, dtype=torch.float64)):
        assert (coulomb_derivative(zero, h, eps) == 0).all()
        assert torch.isfinite(coulomb_kernel(zero, h, eps)).all()
