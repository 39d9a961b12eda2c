"""Minimum hyperspherical covering: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    L(v) = −(1/γ) log((1/n') Σ_i exp(−γ (2 − 2 cos(ŵ_i, v)))),      penalty = λ · L(v),   γ = 10

L is a soft minimum over the filters of the squared chord to the pole. The pole maximises it (it
seeks the point farthest from every filter: the covering radius) and the network minimises it
(moving the nearest filters towards that hole), as in the authors' code (``loss_op += thom_loss``,
pole loss ``−thom_loss``). Computed with ``logsumexp``. Pole mechanics: :mod:`._poles`.
Half-space on hidden layers (n' = 2n) by default, λ hidden 0.01 / final 0.1.

``convention`` (see :mod:`._sphere_uniformity` and :mod:`._poles`): ``"paper"`` uses ``ŵ`` and a
unit pole moved by λ-free steps on the sphere. ``"authors"`` follows ``mhc/architecture.py``
(l. 85–91 hidden, l. 101–107 final, γ = ``self.gamma`` = 10 l. 138): rows normalised twice, the
pole as ``v / sqrt(|v|² + 1e-4)``, and the pole moved by the authors' momentum SGD on ``−λ·L``
plus weight decay.
"""
import math

import torch

from ..params import Param
from ..registry import register_regularizer
from ._energy import chords
from ._layerwise import coefficient
from ._poles import PoleRegularizer


@register_regularizer("mhc")
class MHC(PoleRegularizer):
    """Shrink the largest empty cap, found by the pole."""

    lam_hidden = coefficient(0.01, "hidden")
    lam_final = coefficient(0.1, "final (classifier)")
    gamma = Param(10.0, "sharpness γ of the soft minimum", gt=0)

    def payoff(self, c: torch.Tensor) -> torch.Tensor:
        return -(torch.logsumexp(-self.gamma * chords(c), 0) - math.log(len(c))) / self.gamma
