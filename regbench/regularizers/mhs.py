"""Maximum hyperspherical separation: Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity.

    penalty = −λ · min_{i<j} (2 − 2c_ij),      c_ij = ŵ_i·ŵ_j

i.e. maximise the smallest squared chord (the Tammes problem), half-space ``[W; −W]`` on hidden
layers by default, λ hidden 0.1 / final 1. A layer with one row contributes 0.

``convention`` (see :mod:`._sphere_uniformity`):

- ``"paper"``: the value is exactly ``−λ·min``; the gradient is a subgradient through the arg-min
  pair, exact ties sharing it equally (``torch.min``).
- ``"authors"``: rows normalised twice, and the penalty is ``−λ Σ_{i<j: x_ij = min x} x_ij`` with
  ``x = 2 − 2c``: the sum over every pair tied (exactly) at the minimum, each with the full gradient
  (``mhs/architecture.py`` l. 90–96 hidden, l. 104–110 final: ``tf.equal(final, target)`` then
  ``reduce_sum`` of ``tf.boolean_mask``). In half-space every pair of ``[W; −W]`` but ``(i, −i)``
  has a mirror of the same value, ``(i, j)`` and ``(−i, −j)``, so on hidden layers the penalty and
  its gradient are twice the paper convention's. A pair counts as tied when it is within
  ``TIE_ULPS`` float epsilons (of the values' range, 4) of the minimum, not by ``==``: the two
  mirror values come from different entries of one Gram matrix, whose last bits differ between
  CPU kernels, so exact equality would count one mirror on some machines and both on others.
"""
import torch

from ..registry import register_regularizer
from ._energy import chords, cosines, pair_values
from ._layerwise import coefficient
from ._sphere_uniformity import SphereUniformity

TIE_ULPS = 64


def tied_at_minimum(x: torch.Tensor) -> torch.Tensor:
    """The entries of ``x`` (values in [0, 4]) equal to its minimum up to round-off."""
    return x <= x.min() + TIE_ULPS * 4 * torch.finfo(x.dtype).eps


@register_regularizer("mhs")
class MHS(SphereUniformity):
    """Push apart the closest pair of normalised filters."""

    lam_hidden = coefficient(0.1, "hidden")
    lam_final = coefficient(1.0, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        if len(rows) < 2:
            return rows.sum() * 0.0
        x = pair_values(chords(cosines(self.unit(rows))))
        return -x[tied_at_minimum(x.detach())].sum() if self.authors else -x.min()
