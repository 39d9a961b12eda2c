"""The MMD estimator shared by ``mmd_imq`` and ``coulomb``.

    MMD = [Σ_{i≠j} k(q_i, q_j) + Σ_{i≠j} k(p_i, p_j)] / (n(n−1)) − 2 Σ_{i,j} k(q_i, p_j) / n²

for codes q and a prior sample p of the same size n: U-statistics within each sample, all pairs
across: Arthur Gretton et al., "A Kernel Two-Sample Test", JMLR 2012, as in the WAE code
``tolstikhin/wae`` (Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018, arXiv:1711.01558)
and in Sansone et al., "Coulomb Autoencoders", ECAI 2020, arXiv:1802.03505.
The kernel is a function of the squared distance; the pair sums run in bounded memory.
"""
import torch

from ._pairwise import Kernel, pairwise_sum


def mmd(kernel: Kernel, q: torch.Tensor, p: torch.Tensor, derivative: Kernel | None = None) -> torch.Tensor:
    """Unbiased within-sample, all-pairs-across MMD² estimate between the rows of ``q`` and ``p``.

    ``kernel`` (and optionally its ``derivative``) act on squared distances, as in ``pairwise_sum``.
    """
    n = len(q)
    if n < 2 or p.shape != q.shape:
        raise ValueError(f"MMD needs n ≥ 2 codes and a prior sample of the same shape, "
                         f"got {tuple(q.shape)} and {tuple(p.shape)}")
    within = pairwise_sum(kernel, q, derivative=derivative) + pairwise_sum(kernel, p, derivative=derivative)
    return within / (n * (n - 1)) - 2 * pairwise_sum(kernel, q, p, derivative=derivative) / n ** 2
