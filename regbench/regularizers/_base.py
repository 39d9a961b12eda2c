"""The regularizer interface: a ``torch.nn.Module`` that declares what it acts on.

Targets (``Regularizer.targets``, see :mod:`regbench.targets`):

- ``"codes"``: ``forward(z)`` with a batch of latent codes ``z`` of shape (n, d) returns a scalar;
  the loss term is ``lam · forward(z)``.
- ``"weights"``: ``weight_penalty(layers)`` with the model's conv/linear layers as
  :class:`WeightLayer` (rows = flattened filters) returns the weighted term itself (weight
  regularizers declare their ``lam_hidden`` / ``lam_final``).
- ``"posterior"``: a stochastic encoder. The regularizer owns the head's parametrisation: the
  task's encoder outputs ``head_size(d)`` features ``h`` per item; ``sample(h)`` draws
  reparameterised codes (training), ``mode(h)`` gives deterministic codes (evaluation), and
  ``kl(h)`` is the KL term to the prior, averaged over the batch; the loss term is ``lam · kl(h)``.
  ``log_prob(h, z)`` and ``prior_log_prob(z)`` give log q(z | h) and log p(z) per row (densities
  on the space the codes live in: R^d, or the sphere S^{d−1} with its surface measure), for
  importance-sampled likelihoods. A sampler whose gradient needs a correction (``corrects``) gets
  each item's share of the task's loss through ``correction``.

A regularizer that matches the codes to a distribution (a posterior's prior, an MMD's or a sliced
Wasserstein distance's target) draws from it with ``prior_sample(n, d, generator)``; the others
return ``None``. Tasks decode such draws to generate.

Hyperparameters are declared as :class:`~regbench.params.Param` attributes and validated at
construction. A regularizer's hyperparameters also include those of its targets (``lam``), and
``target`` when it can act on several: the weight of its term is the regularizer's, declared once.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..params import Configurable, Param

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
    # its term's weight over training: (fraction of training from which on, multiplier) steps,
    # applied by every task (:meth:`regbench.tasks.Task.run`); empty: constant
    schedule: tuple[tuple[float, float], ...] = ()

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Its own hyperparameters, then those of its targets (λ), then ``target`` if it has several."""
        from ..registry import TARGETS
        found = super().params()
        for target in cls.targets:
            found.update({k: v for k, v in TARGETS.get(target).params().items() if k not in found})
        if len(cls.targets) > 1 and "target" not in found:
            found["target"] = target_param(cls.targets)
        return found

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

    def log_prob(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log q(z_i | h_i) per row."""
        raise NotImplementedError(f"{self.registered_name} has no posterior density")

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_i) of the prior per row."""
        raise NotImplementedError(f"{self.registered_name} has no prior density")

    def prior_sample(self, n: int, d: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """``n`` codes of dimension ``d`` from the distribution the regularizer matches the codes
        to; ``None`` for one that matches none."""
        return None

    corrects = False  # its sampler's gradient needs ``correction`` (vmf with g_cor)

    def correction(self, shares: torch.Tensor) -> torch.Tensor:
        """0 in value; its gradient corrects the last draw's reparameterised gradient, given each
        item's share of the task's loss (tasks add it when ``corrects``)."""
        raise NotImplementedError


def target_param(targets: tuple[str, ...]) -> Param:
    """The ``target`` hyperparameter of a regularizer that acts on several targets."""
    param = Param("auto", "what the regularizer acts on; auto = the first of its targets that the "
                  "task exposes", choices=("auto", *targets))
    param.name = "target"
    return param
