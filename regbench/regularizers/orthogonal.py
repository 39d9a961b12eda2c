"""Soft orthogonality, the "Orthogonal" baseline of Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong,
Bernhard Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021,
arXiv:2103.01649.

    penalty = λ · ‖G − I‖_F²,      G = W Wᵀ if n ≤ d else Wᵀ W   (the smaller Gram)

on the raw rows W (n×d) of each layer. With n ≤ d it asks for orthonormal filters; with n > d,
where that is impossible, for a tight frame (``Wᵀ W = I``). The paper's coefficient is
unconfirmed (values in 1e-4..1e-2 are usual); the default here is 1e-4 on every layer.
"""
import torch

from ..registry import register_regularizer
from ._energy import smaller_gram
from ._layerwise import WeightRegularizer, coefficient


@register_regularizer("orthogonal")
class Orthogonal(WeightRegularizer):
    """Squared Frobenius distance of the smaller Gram matrix from the identity."""

    layer_memory = "gram"

    lam_hidden = coefficient(1e-4, "hidden")
    lam_final = coefficient(1e-4, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        gram = smaller_gram(rows)
        return (gram - torch.eye(len(gram), dtype=gram.dtype, device=gram.device)).pow(2).sum()
