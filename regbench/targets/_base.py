"""The target interface: what a task exposes to a regularizer, and the term it adds to the loss.

A target (``codes``, ``weights``, ``posterior``, or a plugin's) names the regularizer method that
acts on it (``method``), finds what it acts on among a training step's outputs (``expose``), and
computes the regularizer's value on it (``penalty``) and its weight in the loss (``weight``). The
``Param``s it declares (the weight λ) become hyperparameters of every regularizer acting on it, so
a regularizer that acts on nothing (``none``) has none. ``example`` gives a small input for the registry-wide tests.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..params import Configurable


class Target(Configurable):
    kind = "target"
    method = "forward"  # the regularizer method that acts on this target

    def expose(self, model: nn.Module, outputs: dict[str, Any]) -> Any:
        """What the regularizer acts on, from the model and the outputs of a training step."""
        return outputs[self.registered_name]

    def penalty(self, regularizer: nn.Module, exposed: Any) -> torch.Tensor:
        """The regularizer's value on what is exposed."""
        return getattr(regularizer, self.method)(exposed)

    def weight(self, regularizer: nn.Module) -> float:
        """The weight of the penalty in the loss (the regularizer's λ where the target declares one)."""
        return regularizer.hparams.get("lam", 1.0) if "lam" in self.params() else 1.0

    def example(self, regularizer: nn.Module, n: int, d: int, generator: torch.Generator,
                dtype=torch.float32) -> Any:
        """A small random input of this target for ``regularizer``: ``n`` items of dimension ``d``."""
        return torch.randn(n, d, generator=generator, dtype=dtype)
