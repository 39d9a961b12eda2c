"""Eccentric regularizer and the bounded-memory pair sums (§2 of Li & Blair, "Eccentric Regularization:
Minimizing Hyperspherical Energy without explicit projection", IJCNN 2022, arXiv:2104.11610)."""
import math
import os
import subprocess
import sys

import pytest
import torch
from scipy import integrate, optimize, special

import regbench
from regbench import RegbenchError
from regbench.regularizers import _pairwise as pairwise
from regbench.regularizers.eccentric import eccentric_m


def eccentric_loops(z, mu):
    """l = 1/(n(n−1)) Σ_{i≠j} [(|z_i|² + |z_j|²)/2 − μ M log(1 + |z_i − z_j|²/M)] with explicit loops."""
    z = z.tolist()
    n, d = len(z), len(z[0])
    m = 2 * d * (1 + 1 / (2 * mu * (d - 1))) / (2 * mu - 1)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                sq_i, sq_j = sum(a * a for a in z[i]), sum(a * a for a in z[j])
                dist = sum((a - b) ** 2 for a, b in zip(z[i], z[j]))
                total += (sq_i + sq_j) / 2 - mu * m * math.log1p(dist / m)
    return total / (n * (n - 1))


def force_chunk(monkeypatch, pairs):
    """Blocks of ``pairs // n`` rows (the blockwise path) instead of the default size."""
    monkeypatch.setattr(pairwise, "CHUNK_PAIRS", pairs)


@pytest.mark.parametrize("mu", [1.0, 2.5, 64.5])
@pytest.mark.parametrize("pairs", [None, 12])  # default (plain) path, then 2-row blocks for n = 6
def test_matches_loops_and_gradcheck(mu, pairs, monkeypatch):
    if pairs:
        force_chunk(monkeypatch, pairs)
    torch.manual_seed(0)
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    reg = regbench.create_regularizer("eccentric", mu=mu)
    assert reg(z).item() == pytest.approx(eccentric_loops(z, mu), rel=1e-12, abs=1e-12)
    assert torch.autograd.gradcheck(reg, (z,))


def test_blockwise_equals_plain_on_medium_n(monkeypatch):
    torch.manual_seed(1)
    z = (3 * torch.randn(300, 5)).requires_grad_()
    reg = regbench.create_regularizer("eccentric", mu=1.5)
    plain = reg(z)
    (grad_plain,) = torch.autograd.grad(plain, z)
    force_chunk(monkeypatch, 70 * 300)  # blocks of 70 rows, the last one shorter
    blockwise = reg(z)
    (grad_blockwise,) = torch.autograd.grad(blockwise, z)
    assert blockwise.item() == pytest.approx(plain.item(), rel=1e-5)
    torch.testing.assert_close(grad_blockwise, grad_plain, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mu", [0.5001, 1.0, 1e6])
@pytest.mark.parametrize("pairs", [None, 4])
def test_finite_at_coincident_and_tiny_codes(mu, pairs, monkeypatch):
    if pairs:
        force_chunk(monkeypatch, pairs)
    reg = regbench.create_regularizer("eccentric", mu=mu)
    base = torch.randn(3, 8)
    for z in (torch.cat([base, base, torch.zeros(2, 8)]), torch.full((5, 8), 1e-30), 1e6 * base):
        z = z.clone().requires_grad_()
        loss = reg(z)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("mu", [0.5, 0.2, -1.0])
def test_mu_at_most_half_rejected(mu):
    with pytest.raises(RegbenchError, match="mu > 0.5"):
        regbench.create_regularizer("eccentric", mu=mu)


def theorem1_radius(d, mu):
    """ρ at which the stationarity expression of Theorem 1 of Li & Blair (IJCNN 2022) equals 1/μ,
    with M = eccentric_m(μ, d)."""
    m = eccentric_m(mu, d)
    gamma_ratio = math.exp(special.gammaln(d / 2) - special.gammaln((d - 1) / 2))

    def expression(rho):
        a = m / (2 * rho ** 2)
        f = lambda u: (a * (u - 1)) ** ((d - 1) / 2) * (2 - a * (u - 1)) ** ((d - 3) / 2) / u
        value, _ = integrate.quad(f, 1, 1 + 2 / a, epsabs=0, epsrel=1e-11, limit=200)
        return m / (rho ** 2 * math.sqrt(math.pi)) * gamma_ratio * value

    return optimize.brentq(lambda rho: expression(rho) - 1 / mu, 0.5 * math.sqrt(d), 2 * math.sqrt(d),
                           xtol=1e-12)


@pytest.mark.parametrize("d", [12, 32, 64])
def test_theorem1_radius_is_sqrt_d(d):
    for mu in (1.0, 1.5, 2.0, 4.5, d / 2, 2 * d + 1):
        assert abs(theorem1_radius(d, mu) / math.sqrt(d) - 1) < 1e-3, mu


class SavedTensors:
    """Largest tensor (in elements) that autograd saves for backward while active."""

    def __init__(self):
        self.largest = 0

    def pack(self, tensor):
        self.largest = max(self.largest, tensor.numel())
        return tensor

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda tensor: tensor)


def largest_saved(name, n, d):
    """Forward + backward of regularizer ``name`` on n × d codes; the largest saved tensor."""
    torch.manual_seed(0)
    z = torch.randn(n, d, requires_grad=True)
    saved = SavedTensors()
    with saved.hooks():
        regbench.create_regularizer(name)(z).backward()
    assert torch.isfinite(z.grad).all()
    return saved.largest


FULL_SIZE = pytest.mark.slow  # full-size mmd_imq (≈ 30 s each on one core)


@pytest.mark.parametrize("name", ["eccentric", pytest.param("mmd_imq", marks=FULL_SIZE)])
def test_saved_tensors_bounded_at_n_16384(name):
    """At n = 16384, d = 64 nothing larger than one block or the codes themselves is saved."""
    n, d = 16384, 64
    chunk = pairwise.CHUNK_PAIRS // n
    assert largest_saved(name, n, d) <= max(chunk, d) * n <= n * n // 256


def test_saved_tensors_bounded_for_mmd_imq(monkeypatch):
    """The same bound for mmd_imq at a smaller n, with blocks forced small."""
    n, d, chunk = 2048, 64, 64
    force_chunk(monkeypatch, chunk * n)
    assert largest_saved("mmd_imq", n, d) <= max(chunk, d) * n


@FULL_SIZE
def test_peak_memory_at_n_16384():
    """Peak RSS growth of forward + backward at n = 16384, d = 64 stays far below one n×n tensor (1 GiB)."""
    script = """
import resource, torch, regbench
z = torch.randn(16384, 64, requires_grad=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for name in ("eccentric", "mmd_imq"):
    regbench.create_regularizer(name)(z).backward()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert int(out.stdout.split()[-1]) < 256 * 2 ** 20
