"""Spectral restricted isometry property regularization: Nitin Bansal, Xiaohan Chen, Zhangyang
Wang, "Can We Gain More from Orthogonality Regularizations in Training Deep CNNs?", NeurIPS 2018,
arXiv:1810.09102.

    A = G − I  (G the smaller Gram, as in ``orthogonal``),   v = A b / |A b|,   penalty = λ · |A v|²

with a fresh random ``b`` (uniform in [0, 1)^k, as in the authors' code
VITA-Group/Orthogonality-in-CNNs) at every call: one power-iteration step, so ``|A v|² ≈ σ_max(A)²``.
Gradients flow through ``v`` as in that code; ``|A b|`` is floored at 1e-30 so an exactly
orthogonal layer gives 0, not NaN. Summed over layers with λ = 0.01 on every layer; the authors
lower the coefficient during training (0.01 → 1e-5 → 1e-6 → 1e-8 → 0, multiplying it by 1e-3 after
epoch 20, 1e-4 after 50, 1e-6 after 70 and 0 after 120 of 200) — that schedule is the task's
business. The random ``b`` comes from the global torch generator.
"""
import torch

from ..registry import register_regularizer
from ._energy import smaller_gram
from ._layerwise import WeightRegularizer, coefficient


@register_regularizer("srip")
class SRIP(WeightRegularizer):
    """Squared spectral norm of ``G − I``, estimated by one power-iteration step."""

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.01, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        gram = smaller_gram(rows)
        a = gram - torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
        b = torch.rand(len(a), dtype=a.dtype, device=a.device)
        ab = a @ b
        v = ab / torch.linalg.vector_norm(ab).clamp_min(1e-30)
        return (a @ v).pow(2).sum()
