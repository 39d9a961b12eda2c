"""Maximum hyperspherical polarization: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    E(v) = (1/n') Σ_i (2 − 2 cos(ŵ_i, v))^(−1),      penalty = −λ · E(v)

The pole ``v`` minimises E (it finds the point of least potential, the paper's
``min_v Σ K_s(v, ŵ_i)``) and the network maximises it (network loss ``−λE``), as in the authors'
code (``loss_op += −thom_loss``, pole loss ``+thom_loss``). Pole mechanics: :mod:`._poles`.
Half-space on hidden layers (n' = 2n) by default, λ hidden 1 / final 10.

``convention`` (see :mod:`._sphere_uniformity` and :mod:`._poles`): ``"paper"`` uses ``ŵ`` and a
unit pole, the chord floored at 2e-6 (see :mod:`._energy`), so a pole on top of a filter gives a
large but finite E, and moves the pole by λ-free steps on the sphere. ``"authors"`` follows
``mhp/architecture.py`` (l. 85–89 hidden, l. 98–102 final): rows normalised twice, the pole as
``v / sqrt(|v|² + 1e-4)`` (so the chord is at least about 1e-4), and the pole moved by the
authors' momentum SGD on ``λ·E`` plus weight decay.
"""
import torch

from ..registry import register_regularizer
from ._energy import chords
from ._layerwise import coefficient
from ._poles import PoleRegularizer


@register_regularizer("mhp")
class MHP(PoleRegularizer):
    """Raise the potential at the least-covered point of the sphere."""

    lam_hidden = coefficient(1.0, "hidden")
    lam_final = coefficient(10.0, "final (classifier)")

    def payoff(self, c: torch.Tensor) -> torch.Tensor:
        return -torch.reciprocal(chords(c)).mean()
