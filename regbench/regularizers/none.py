"""``none``: the unregularized baseline (a zero loss with a gradient path, on any target)."""
import torch

from ..registry import register_regularizer
from ._base import CODES, WEIGHTS, Regularizer


@register_regularizer("none")
class NoRegularizer(Regularizer):
    """No regularization: contributes exactly 0 to the loss."""

    targets = (CODES, WEIGHTS)
    inert = True

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.sum() * 0.0

    def weight_penalty(self, layers) -> torch.Tensor:
        return sum(layer.rows.sum() * 0.0 for layer in layers)
