"""Pairwise squared distances shared by the pairwise regularizers."""
import torch


def pairwise_sq_dists(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """|x_i − y_j|² via the Gram matrix, clamped at ≥ 0 (round-off can make it negative).

    Without ``y`` the diagonal is exactly 0, so coincident points stay finite.
    """
    same = y is None
    y = x if same else y
    sq = x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1) - 2 * x @ y.T
    sq = sq.clamp_min(0)
    if same:
        sq = sq - torch.diag_embed(sq.diagonal())
    return sq
