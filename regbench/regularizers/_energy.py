"""Hyperspherical geometry shared by the weight regularizers and the geometry diagnostics.

Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard Schölkopf, Adrian Weller, "Learning with
Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649; the kernels are those of MHE (Weiyang
Liu, Rongmei Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai, Le Song, "Learning towards Minimum
Hyperspherical Energy", NeurIPS 2018, arXiv:1805.09298) as written in the authors' code
(``wy1iu/MHE``, ``code/architecture.py``):

- rows are normalised as ``ŵ = w / sqrt(|w|² + 1e-4)`` (a zero row stays a finite zero vector);
- ``c_ij = ŵ_i·ŵ_j`` is clamped to ``[−1 + 1e-6, 1 − 1e-6]``, so the squared chord ``2 − 2c`` is
  at least 2e-6 (duplicate filters give large but finite ``−log``/``1/x``) and ``acos`` has a
  finite derivative (at most ≈ 707). Beyond the clamp a pair contributes no gradient;
- Euclidean kernels use the squared chord ``x = 2 − 2c`` (the distance ρ is ``sqrt(x)``):
  s0 ``−log x``, s1 ``x^(−1/2) = 1/ρ``, s2 ``x^(−1) = 1/ρ²``;
- angular kernels use the distance ``ρ = θ/π + 1e-4``, ``θ = acos(c)``:
  a0 ``−log ρ``, a1 ``1/ρ``, a2 ``1/ρ²``.

The energy of many rows (latent codes) is summed over blocks of rows whose backward recomputes one
block at a time (as ``_pairwise.pairwise_sum``), so it holds O(block·n) memory instead of O(n²).
"""
import math

import torch
from torch.autograd.function import once_differentiable

from . import _pairwise

NORM_EPS = 1e-4  # ŵ = w / sqrt(|w|² + NORM_EPS)
COS_MARGIN = 1e-6  # cosines are clamped to [−1 + COS_MARGIN, 1 − COS_MARGIN]


def unit_rows(w: torch.Tensor) -> torch.Tensor:
    """``ŵ_i = w_i / sqrt(|w_i|² + 1e-4)`` for every row (last dimension) of ``w``."""
    return w * torch.rsqrt(w.pow(2).sum(-1, keepdim=True) + NORM_EPS)


def half_space(rows: torch.Tensor) -> torch.Tensor:
    """``[W; −W]``: the 2n vectors of the half-space variants (Liu et al., AISTATS 2021)."""
    return torch.cat([rows, -rows])


def cosines(u: torch.Tensor, v: torch.Tensor | None = None) -> torch.Tensor:
    """Clamped ``u_i·v_j`` (``v = u`` when omitted); rows should come from :func:`unit_rows`."""
    return (u @ (u if v is None else v).T).clamp(-1 + COS_MARGIN, 1 - COS_MARGIN)


def chords(c: torch.Tensor) -> torch.Tensor:
    """Squared chord ``2 − 2c`` (``|û − v̂|²`` for unit vectors), ≥ 2e-6 after the clamp."""
    return 2 - 2 * c


def angular(c: torch.Tensor) -> torch.Tensor:
    """Angular distance ``θ/π + 1e-4`` with ``θ = acos(c)`` (wy1iu/MHE)."""
    return torch.acos(c) / math.pi + 1e-4


KERNELS = {
    "s0": lambda c: -torch.log(chords(c)),
    "s1": lambda c: torch.rsqrt(chords(c)),
    "s2": lambda c: torch.reciprocal(chords(c)),
    "a0": lambda c: -torch.log(angular(c)),
    "a1": lambda c: torch.reciprocal(angular(c)),
    "a2": lambda c: angular(c).pow(-2),
}


def pair_values(m: torch.Tensor) -> torch.Tensor:
    """The entries ``m[i, j]`` with ``i < j`` of a square matrix, as a vector."""
    i, j = torch.triu_indices(len(m), len(m), offset=1, device=m.device)
    return m[i, j]


def smaller_gram(rows: torch.Tensor) -> torch.Tensor:
    """``W Wᵀ`` (n×n) when ``n ≤ d``, else ``Wᵀ W`` (d×d), for the n×d rows matrix ``W``."""
    return rows @ rows.T if rows.shape[0] <= rows.shape[1] else rows.T @ rows


def _upper_pair_sum(kernel: str, rows: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
    """Σ_{a<b} K(c_ab) for ``rows`` = ``later[:len(rows)]`` against ``later``: one block's pairs i < j."""
    return KERNELS[kernel](cosines(rows, later)).triu(1).sum()


class _BlockwiseEnergySum(torch.autograd.Function):
    """Σ_{i<j} K(c_ij) over blocks of ``chunk`` rows, each against the rows from its first one on.

    Only ``unit`` is saved; backward recomputes one block at a time under autograd (activation
    checkpointing, as ``torch.utils.checkpoint``), so the clamp and the kernel act exactly as in the
    dense sum: a pair clamped beyond ``[−1 + 1e-6, 1 − 1e-6]`` contributes no gradient.
    """

    @staticmethod
    def forward(ctx, unit, kernel, chunk):
        ctx.save_for_backward(unit)
        ctx.kernel, ctx.chunk = kernel, chunk
        total = unit.new_zeros(())
        for i in range(0, len(unit), chunk):
            total += _upper_pair_sum(kernel, unit[i:i + chunk], unit[i:])
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (unit,) = ctx.saved_tensors
        grad_unit = torch.zeros_like(unit)
        for i in range(0, len(unit), ctx.chunk):
            rows = unit[i:i + ctx.chunk].detach().requires_grad_()
            later = unit[i:].detach().requires_grad_()
            with torch.enable_grad():
                grad_rows, grad_later = torch.autograd.grad(_upper_pair_sum(ctx.kernel, rows, later),
                                                            (rows, later))
            grad_unit[i:i + ctx.chunk] += grad_rows
            grad_unit[i:] += grad_later
        return grad * grad_unit, None, None


def hyperspherical_energy(unit: torch.Tensor, kernel: str = "s1", chunk: int | None = None) -> torch.Tensor:
    """MHE: the mean over pairs ``i < j`` of ``KERNELS[kernel](c_ij)`` (0 with fewer than 2 rows).

    ``chunk`` is the number of rows per block; by default ``_pairwise.CHUNK_PAIRS // n``, and when
    that covers all rows the plain dense sum is used (the two agree up to float round-off; the
    blockwise one is once-differentiable).
    """
    n = len(unit)
    pairs = max(n * (n - 1) // 2, 1)
    chunk = _pairwise.block_rows(n) if chunk is None else chunk
    if chunk >= n:
        return KERNELS[kernel](pair_values(cosines(unit))).sum() / pairs
    return _BlockwiseEnergySum.apply(unit, kernel, chunk) / pairs
