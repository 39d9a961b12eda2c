"""Pieces shared by every training loop: seeded minibatches, fixed subsets, the divergence check."""
import math

import torch

from .errors import Diverged


def check_finite(loss: torch.Tensor, step: int, where: str = "step") -> float:
    """The loss as a float; raises :class:`Diverged` when it is NaN or infinite."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise Diverged(step, value, where)
    return value


def minibatches(n: int, batch_size: int, generator: torch.Generator, device=None):
    """Index tensors of a random permutation of ``range(n)`` in batches (the last may be short)."""
    order = torch.randperm(n, generator=generator).to(device)
    return order.split(batch_size)


def fixed_subset(total: int, size: int) -> torch.Tensor:
    """Indices of a fixed random subset (seed 0, the same for every run); ``size`` 0 = all."""
    if size <= 0 or size >= total:
        return torch.arange(total)
    return torch.randperm(total, generator=torch.Generator().manual_seed(0))[:size].sort().values
