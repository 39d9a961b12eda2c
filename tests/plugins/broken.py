"""A plugin whose regularizers break the contract, each in one way, for the tests of ``regbench check``
and of the suite's refusal:

- ``nan_gradient``: the mean distance of the codes to their mean, sqrt(|z − z̄|²): at coincident
  codes (all zero) the square root's gradient is infinite times zero, NaN;
- ``unknown_target``: declares the target ``latent``, which regbench does not know;
- ``wrong_target``: declares the ``weights`` target but implements only ``forward`` (codes).
"""
import torch

from regbench import WEIGHTS, Regularizer, register_regularizer


@register_regularizer("nan_gradient")
class NanGradient(Regularizer):
    """Mean distance of the codes to their mean (NaN gradient at coincident codes)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z - z.mean(0)).pow(2).sum(1).sqrt().mean()


@register_regularizer("unknown_target")
class UnknownTarget(Regularizer):
    """Declares a target that regbench does not know."""

    targets = ("latent",)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.pow(2).mean()


@register_regularizer("wrong_target")
class WrongTarget(Regularizer):
    """Declares the weights but acts on codes."""

    targets = (WEIGHTS,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.pow(2).mean()
