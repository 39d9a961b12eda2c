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
    layer_memory = "pairwise"  # what a layer's penalty holds: rows × rows ("pairwise"), the
    # smaller Gram matrix ("gram") or per-row terms only ("rows"); for memory estimates
    lam_hidden = coefficient(1.0, "hidden")
    lam_final = coefficient(1.0, "final (classifier)")

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        """The unweighted penalty of one layer's rows (already ``[W; −W]`` where half-space)."""
        raise NotImplementedError

    def layer_rows(self, layer: WeightLayer) -> torch.Tensor:
        """The rows the layer's penalty sees: ``[W; −W]`` on a hidden layer under ``half_space``."""
        return half_space(layer.rows) if self.hparams.get("half_space") and not layer.final else layer.rows

    def layer_lambda(self, layer: WeightLayer) -> float:
        """The layer's coefficient: ``lam_final`` on the final layer, else ``lam_hidden``."""
        return self.lam_final if layer.final else self.lam_hidden

    def layer_value(self, layer: WeightLayer) -> torch.Tensor:
        """The unweighted penalty of a layer: :meth:`layer_penalty` of its :meth:`layer_rows`."""
        return self.layer_penalty(self.layer_rows(layer), layer.name)

    def weight_penalty(self, layers: list[WeightLayer]) -> torch.Tensor:
        total = 0
        for layer in layers:
            total = total + self.layer_lambda(layer) * self.layer_value(layer)
        return total
