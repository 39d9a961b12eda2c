"""``posterior``: a stochastic encoder whose head the regularizer parametrises; the term is λ · KL.

The task's encoder outputs ``regularizer.head_size(d)`` features h per item; the regularizer draws
codes (``sample(h)`` in training, ``mode(h)`` in evaluation) and gives ``kl(h)``, the KL divergence
of the posterior to its prior averaged over the batch. With λ = β this is a β-VAE's loss term.

A sampler whose reparameterised gradient needs a score-function term (``vmf`` with ``g_cor``: the
rejection step's g_cor) offers ``correction(objective)``: the objective is the task's loss, not
this λ-weighted KL, so the task adds it to its own loss, with the loss or, per item, the loss terms
of that item's code (``graph_link`` gives each node's share of the reconstruction loss).
"""
import torch

from ..params import Param
from ..registry import register_target
from ._base import Target


@register_target("posterior")
class Posterior(Target):
    """The encoder head h of a batch (the regularizer's parametrisation of q(z | x))."""

    method = "kl"
    lam = Param(1.0, "weight λ (β) of the KL term (a task may set its own default)", ge=0)

    def example(self, regularizer, n, d, generator, dtype=torch.float32):
        return torch.randn(n, regularizer.head_size(d), generator=generator, dtype=dtype)
