"""Base of MHS, MHP, MHC and MGD (Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard Schölkopf,
Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649): the
half-space option and the ``convention`` they follow.

- ``"paper"`` (default): the formulas of the paper on ``ŵ = w / sqrt(|w|² + 1e-4)``, cosines
  clamped as in :mod:`._energy`.
- ``"authors"``: the authors' code, wy1iu/Sphere-Uniformity (each of ``mhs``, ``mhp``, ``mhc``,
  ``mgd`` has an ``architecture.py`` and a ``train.py``). Its ``norm()`` divides each filter by
  ``sqrt(|w|² + 1e-4)`` (``mhs/architecture.py`` l. 31–33) and its ``cal()`` divides the inner
  products of the normalised filters by ``sqrt(|ŵ|² + 1e-4)`` once more (l. 24–29; MHP/MHC's
  ``cal`` l. 34–39, which also divides by ``sqrt(|v|² + 1e-4)`` of the pole): the rows are
  normalised twice, ``ŵ ↦ ŵ / sqrt(|ŵ|² + 1e-4)``. This matters for small filters: at
  ``|w|² = 1e-4``, ``|ŵ|² = 1/2`` but the twice-normalised row has ``|·|² ≈ 0.9998``. The rows then
  have ``|·|² ≤ 1/(1 + 1e-4)``, so the cosine clamp of :mod:`._energy` never acts and the
  squared chord ``2 − 2c`` is at least about 1e-4. What else the convention changes is in each
  regularizer's module (MHS's tie counting) and in :mod:`._poles` (the pole's optimiser).
"""
import torch

from ..params import Param
from ._energy import unit_rows
from ._layerwise import WeightRegularizer

CONVENTIONS = ("paper", "authors")


class SphereUniformity(WeightRegularizer):
    """A weight regularizer of Liu et al. (AISTATS 2021) with its half-space option and convention."""

    half_space = Param(True, "use [W; −W] on hidden layers (half-space, as in the authors' code)")
    convention = Param("paper", "paper: the paper's formulas; authors: the authors' code "
                       "wy1iu/Sphere-Uniformity (rows normalised twice, MHS sums tied minima, the "
                       "poles' momentum SGD on the λ-scaled loss)", choices=CONVENTIONS)

    @property
    def authors(self) -> bool:
        return self.convention == "authors"

    def unit(self, rows: torch.Tensor) -> torch.Tensor:
        """``ŵ`` (paper), or ``ŵ / sqrt(|ŵ|² + 1e-4)`` (authors: normalised twice)."""
        unit = unit_rows(rows)
        return unit_rows(unit) if self.authors else unit
