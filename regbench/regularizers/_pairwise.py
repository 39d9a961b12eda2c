"""Pairwise squared distances and bounded-memory sums of a kernel over all pairs.

Squared distances use the Gram trick |x|² + |y|² − 2 x·y, clamped at ≥ 0 because round-off can
make them negative. Summing a kernel over all n·m pairs with plain autograd keeps
several n×m tensors alive for backward (1 GiB each at n = m = 16384 in float32), so for large inputs
``pairwise_sum`` walks over blocks of rows and recomputes each block during backward (activation
checkpointing, as ``torch.utils.checkpoint``), holding O(block·m) memory instead of O(n·m).
"""
import math
from typing import Callable

import torch
from torch.autograd.function import once_differentiable

Kernel = Callable[[torch.Tensor], torch.Tensor]

CHUNK_PAIRS = 1 << 18
"""Pairs per block (rows × m); larger inputs are summed blockwise. 1 MiB per float32 temporary keeps
the elementwise kernel in cache (about 4× faster than 16 MiB blocks on a CPU)."""


def block_rows(m: int) -> int:
    """Rows per block against ``m`` rows: ``CHUNK_PAIRS // m`` (at least 1)."""
    return max(1, CHUNK_PAIRS // max(m, 1))


def _sq_dists(x: torch.Tensor, y: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """|x_i|² + |y_j|² − 2 x_i·y_j clamped at ≥ 0, with ``y_sq`` = |y_j|² precomputed."""
    return torch.addmm(y_sq, x, y.T, alpha=-2).add_(x.pow(2).sum(1, keepdim=True)).clamp_min(0)


def _block_sum(kernel: Kernel, x: torch.Tensor, y: torch.Tensor, y_sq: torch.Tensor,
               diagonal: int | None) -> torch.Tensor:
    """Σ_ij kernel(|x_i − y_j|²), leaving out the pairs (i, i + diagonal) when ``diagonal`` is given."""
    k = kernel(_sq_dists(x, y, y_sq))
    if diagonal is not None:  # zeroed rather than subtracted: k(0) may be huge (e.g. 1/ε)
        k = k.diagonal_scatter(k.new_zeros(len(x)), diagonal)
    return k.sum()


def _derivative_by_autograd(kernel: Kernel, sq: torch.Tensor) -> torch.Tensor:
    sq = sq.detach().requires_grad_()
    with torch.enable_grad():
        return torch.autograd.grad(kernel(sq).sum(), sq)[0]


class _BlockwisePairSum(torch.autograd.Function):
    """``_block_sum`` over blocks of ``chunk`` rows; backward recomputes one block at a time.

    Only ``x`` and ``y`` are saved. With f' the kernel's derivative (given, or by autograd on the
    elementwise kernel alone), ∂/∂x_i Σ_j f(|x_i − y_j|²) = 2 Σ_j f'_ij (x_i − y_j) and
    ∂/∂y_j = −2 Σ_i f'_ij (x_i − y_j); when y is x (``same``) each pair appears twice, so
    ∂/∂x_i = 4 Σ_{j≠i} f'_ij (x_i − x_j).
    """

    @staticmethod
    def forward(ctx, x, y, kernel, derivative, chunk, same):
        ctx.save_for_backward(x, y)
        ctx.kernel, ctx.derivative, ctx.chunk, ctx.same = kernel, derivative, chunk, same
        y_sq = y.pow(2).sum(1)
        total = x.new_zeros(())
        for i in range(0, len(x), chunk):
            total += _block_sum(kernel, x[i:i + chunk], y, y_sq, i if same else None)
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1] and not ctx.same
        y_sq = y.pow(2).sum(1)
        grad_x, grad_y, df_col_sums = torch.zeros_like(x), torch.zeros_like(y), y.new_zeros(len(y))
        for i in range(0, len(x), ctx.chunk):
            xb = x[i:i + ctx.chunk]
            sq = _sq_dists(xb, y, y_sq)
            df = ctx.derivative(sq) if ctx.derivative else _derivative_by_autograd(ctx.kernel, sq)
            if ctx.same:
                df.diagonal(i).zero_()
            if need_x:
                grad_x[i:i + ctx.chunk] = xb * df.sum(1, keepdim=True) - df @ y
            if need_y:
                df_col_sums += df.sum(0)
                grad_y.addmm_(df.T, xb, alpha=-1)
        scale = (4 if ctx.same else 2) * grad
        grad_x = scale * grad_x if need_x else None
        grad_y = scale * (grad_y + y * df_col_sums.unsqueeze(1)) if need_y else None
        return grad_x, grad_y, None, None, None, None


def pairwise_sum(kernel: Kernel, x: torch.Tensor, y: torch.Tensor | None = None,
                 derivative: Kernel | None = None, chunk: int | None = None) -> torch.Tensor:
    """Σ_{i,j} kernel(|x_i − y_j|²); without ``y``, Σ_{i≠j} kernel(|x_i − x_j|²) (i = j left out exactly).

    ``kernel`` maps a tensor of squared distances to kernel values elementwise and must have a
    finite derivative at 0 (the left-out diagonal still passes through it); ``derivative``, its
    derivative in the squared distance, speeds up the blockwise backward. ``chunk`` is the number
    of rows per block; by default ``CHUNK_PAIRS // m``, and when that covers all rows the plain
    autograd sum is used (the two agree up to float round-off; the blockwise one is
    once-differentiable).
    """
    same = y is None
    y = x if same else y
    chunk = block_rows(len(y)) if chunk is None else chunk
    if chunk >= len(x):
        return _block_sum(kernel, x, y, y.pow(2).sum(1), 0 if same else None)
    return _BlockwisePairSum.apply(x, y, kernel, derivative, chunk, same)


@torch.no_grad()
def min_pair_sq_dist(x: torch.Tensor) -> torch.Tensor:
    """min_{i≠j} |x_i − x_j|², over the blocks of rows and from the squared distances of
    ``pairwise_sum`` (so in the same bounded memory, and consistent with its values)."""
    chunk, sq_norms = block_rows(len(x)), x.pow(2).sum(1)
    smallest = x.new_full((), math.inf)
    for i in range(0, len(x), chunk):
        sq = _sq_dists(x[i:i + chunk], x, sq_norms)
        sq.diagonal(i).fill_(math.inf)
        smallest = torch.minimum(smallest, sq.min())
    return smallest
