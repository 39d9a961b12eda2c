"""Maximum hyperspherical separation: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    penalty = −λ · min_{i<j} (2 − 2c_ij),      c_ij = ŵ_i·ŵ_j

i.e. maximise the smallest squared chord (the Tammes problem), half-space ``[W; −W]`` on hidden
layers by default, λ hidden 0.1 / final 1. The gradient is a subgradient through the arg-min
pair; exact ties share it equally (``torch.min``). The authors' code instead sums the penalty over
all pairs tied at the minimum, which in half-space counts the pair (i, j) and its mirror
(−i, −j) twice; here the value is exactly ``−λ·min``. A layer with one row contributes 0.
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from ._energy import chords, cosines, pair_values, unit_rows
from ._layerwise import WeightRegularizer, coefficient


@register_regularizer("mhs")
class MHS(WeightRegularizer):
    """Push apart the closest pair of normalised filters."""

    lam_hidden = coefficient(0.1, "hidden")
    lam_final = coefficient(1.0, "final (classifier)")
    half_space = Param(True, "use [W; −W] on hidden layers (half-space)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        if len(rows) < 2:
            return rows.sum() * 0.0
        return -pair_values(chords(cosines(unit_rows(rows)))).min()
