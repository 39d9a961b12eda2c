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
  its gradient are twice the paper convention's. The mirrors must tie exactly, yet the entries
  (i, j) and (−i, −j) of a Gram matrix of ``[W; −W]`` come from different places of one matrix
  product, whose last bits differ between CPU kernels (the tie was missed on some machines, the
  penalty halved). So the Gram G of the layer's own rows is computed once, made exactly symmetric,
  and the half-space one assembled from it, ``[[G, −G], [−G, G]]``: ties are then found by ``==``
  as the authors' ``tf.equal`` does, and mirrors are equal by construction.
"""
import torch

from ..registry import register_regularizer
from ._base import WeightLayer
from ._energy import COS_MARGIN, chords, cosines, pair_values
from ._layerwise import coefficient
from ._sphere_uniformity import SphereUniformity


def mirrored_cosines(unit: torch.Tensor, half_space: bool) -> torch.Tensor:
    """The clamped cosines of ``unit`` (normalised rows), or of ``[unit; −unit]`` with
    ``half_space``, from one exactly symmetric Gram matrix, so that mirror entries are equal."""
    gram = unit @ unit.T
    gram = (gram + gram.T) / 2
    if half_space:
        gram = torch.cat([torch.cat([gram, -gram], 1), torch.cat([-gram, gram], 1)])
    return gram.clamp(-1 + COS_MARGIN, 1 - COS_MARGIN)


@register_regularizer("mhs")
class MHS(SphereUniformity):
    """Push apart the closest pair of normalised filters."""

    lam_hidden = coefficient(0.1, "hidden")
    lam_final = coefficient(1.0, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        """The paper's −min over the pairs of ``rows`` (already ``[W; −W]`` where half-space)."""
        if len(rows) < 2:
            return rows.sum() * 0.0
        return -pair_values(chords(cosines(self.unit(rows)))).min()

    def layer_value(self, layer: WeightLayer) -> torch.Tensor:
        if not self.authors:
            return super().layer_value(layer)
        mirrored = self.half_space and not layer.final
        if len(layer.rows) < 2 and not mirrored:
            return layer.rows.sum() * 0.0
        x = pair_values(chords(mirrored_cosines(self.unit(layer.rows), mirrored)))
        return -x[x == x.min()].sum()
