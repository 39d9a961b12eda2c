"""The regularizer interface: a ``torch.nn.Module`` that declares what it acts on.

Targets (``Regularizer.targets``):

- ``"codes"``: ``forward(z)`` with a batch of latent codes ``z`` of shape (n, d) returns a scalar.
- ``"weights"``: ``weight_penalty(layers)`` with the model's conv/linear layers as
  :class:`WeightLayer` (rows = flattened filters) returns a scalar.
- ``"posterior"``: a stochastic encoder. The regularizer owns the head's parametrisation: the
  task's encoder outputs ``head_size(d)`` features ``h`` per item; ``sample(h)`` draws
  reparameterised codes (training), ``mode(h)`` gives deterministic codes (evaluation), and
  ``kl(h)`` is the KL term to the prior, averaged over the batch.

Hyperparameters are declared as :class:`~regbench.params.Param` attributes and validated at
construction. The loss weight ``lam`` belongs to the task, which adds ``lam * regularizer``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..params import Configurable

CODES, WEIGHTS, POSTERIOR = "codes", "weights", "posterior"


class WeightLayer(NamedTuple):
    """One layer's filters as rows (conv ``[c_out, c_in, k, k]`` → ``c_out × c_in·k·k``)."""
    name: str
    rows: torch.Tensor
    final: bool


class Regularizer(Configurable, nn.Module):
    kind = "regularizer"
    targets: tuple[str, ...] = (CODES,)
    min_dim = 1  # smallest latent dimension d the regularizer is defined for
    inert = False  # True: adds nothing, so the task's ``regularizer_params`` do not change a run

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.registered_name} does not act on latent codes")

    def weight_penalty(self, layers: list[WeightLayer]) -> torch.Tensor:
        raise NotImplementedError(f"{self.registered_name} does not act on layer weights")

    # posterior target
    def head_size(self, d: int) -> int:
        raise NotImplementedError(f"{self.registered_name} has no stochastic encoder head")

    def sample(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mode(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def kl(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
