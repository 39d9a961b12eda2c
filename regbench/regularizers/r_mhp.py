"""Relaxed maximum hyperspherical polarization: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    penalty = λ · |Σ_i w_i|₂      on the raw (unnormalised) rows of each layer

λ hidden 0.01 / final 0.1. It drives the filters' resultant to zero, a necessary condition of a
uniform spread rather than a uniformity objective in itself. At ``Σ w_i = 0`` the gradient is the
subgradient 0.
"""
import torch

from ..registry import register_regularizer
from ._layerwise import WeightRegularizer, coefficient


@register_regularizer("r_mhp")
class RelaxedMHP(WeightRegularizer):
    """Norm of the sum of a layer's filters."""

    layer_memory = "rows"

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.1, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return torch.linalg.vector_norm(rows.sum(0))
