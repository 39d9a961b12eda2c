"""Spectral restricted isometry property regularization: Nitin Bansal, Xiaohan Chen, Zhangyang
Wang, "Can We Gain More from Orthogonality Regularizations in Training Deep CNNs?", NeurIPS 2018,
arXiv:1810.09102.

    A = G − I  (G the smaller Gram, as in ``orthogonal``),   v = A b / |A b|,   penalty = λ · |A v|²

with a fresh random ``b`` (uniform in [0, 1)^k, as in the authors' code
VITA-Group/Orthogonality-in-CNNs) at every call: one power-iteration step, so ``|A v|² ≈ σ_max(A)²``.
Gradients flow through ``v`` as in that code; ``|A b|`` is floored at 1e-30 so an exactly
orthogonal layer gives 0, not NaN. Summed over layers with λ = 0.01 on every layer. The authors
lower the coefficient during training, 0.01 → 1e-5 → 1e-6 → 1e-8 → 0: in their
``Wide-Resnet/train_n.py`` (commit 99897ee), ``adjust_ortho_decay_rate`` (lines 325–337) multiplies
``--ortho-decay`` (1e-2, line 40) by 1e-3 from epoch 21, 1e-4 from 51, 1e-6 from 71 and 0 from 121
of 200 (``--epochs``, line 27; the epoch is counted from 1, line 184). :data:`SCHEDULE` holds these
steps as fractions of training, the regularizer's ``schedule`` (``decay``, on by default), which
every task applies to its term over the run's length. The random ``b`` comes from the global torch
generator.
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from ._energy import smaller_gram
from ._layerwise import WeightRegularizer, coefficient

# (fraction of training from which on, multiplier of λ): epochs 20, 50, 70 and 120 of 200 done
SCHEDULE = ((20 / 200, 1e-3), (50 / 200, 1e-4), (70 / 200, 1e-6), (120 / 200, 0.0))


@register_regularizer("srip")
class SRIP(WeightRegularizer):
    """Squared spectral norm of ``G − I``, estimated by one power-iteration step."""

    layer_memory = "gram"

    version = 2  # 2: its coefficient follows :data:`SCHEDULE` (``decay``)

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.01, "final (classifier)")
    decay = Param(True, "lower the coefficient over training as the authors: ×1e-3, 1e-4, 1e-6, 0 "
                  "from 10, 25, 35, 60 % of it")

    @property
    def schedule(self):
        return SCHEDULE if self.decay else ()

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        gram = smaller_gram(rows)
        a = gram - torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
        b = torch.rand(len(a), dtype=a.dtype, device=a.device)
        ab = a @ b
        v = ab / torch.linalg.vector_norm(ab).clamp_min(1e-30)
        return (a @ v).pow(2).sum()
