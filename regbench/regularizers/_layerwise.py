"""Base of the weight regularizers (mhe, mhs, mhp, mhc, r_mhp, mgd, orthogonal, srip): one penalty
per layer, summed.

Hidden layers and the final (classifier) layer get their own coefficients ``lam_hidden`` and
``lam_final``; regularizers with a ``half_space`` option use ``[W; −W]`` on hidden layers only, as
in Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard Schölkopf, Adrian Weller, "Learning with
Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649, and the authors' code (wy1iu/MHE,
wy1iu/Sphere-Uniformity).
"""
import torch

from ..params import Param
from ._base import WEIGHTS, Regularizer, WeightLayer
from ._energy import half_space


def coefficient(default: float, where: str) -> Param:
    """A non-negative coefficient ``Param`` for the ``where`` layers."""
    return Param(default, f"coefficient on the {where} layers", ge=0)


class WeightRegularizer(Regularizer):
    """``Σ_layers λ_layer · layer_penalty(rows)``; subclasses implement :meth:`layer_penalty`."""

    targets = (WEIGHTS,)
    lam_hidden = coefficient(1.0, "hidden")
    lam_final = coefficient(1.0, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        """The unweighted penalty of one layer's rows (already ``[W; −W]`` where half-space)."""
        raise NotImplementedError

    def weight_penalty(self, layers: list[WeightLayer]) -> torch.Tensor:
        total = 0
        for layer in layers:
            rows = layer.rows
            if self.hparams.get("half_space") and not layer.final:
                rows = half_space(rows)
            lam = self.lam_final if layer.final else self.lam_hidden
            total = total + lam * self.layer_penalty(rows, layer.name)
        return total
