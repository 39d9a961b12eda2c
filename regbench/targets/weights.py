"""``weights``: every conv and linear layer of the model, filters as rows (:func:`regbench.weights.weight_layers`).

The term is the regularizer's ``weight_penalty(layers)``; its own coefficients (``lam_hidden``,
``lam_final``) weight the layers, so this target adds no λ. A task may expose other rows as layers
(``outputs["weights"]``, e.g. free points).
"""
import torch

from ..registry import register_target
from ..regularizers._base import WeightLayer
from ..weights import weight_layers
from ._base import Target


@register_target("weights")
class Weights(Target):
    """The model's layers as :class:`~regbench.regularizers.WeightLayer` rows, the last one final."""

    method = "weight_penalty"

    def expose(self, model, outputs):
        return outputs["weights"] if "weights" in outputs else weight_layers(model)

    def example(self, regularizer, n, d, generator, dtype=torch.float32):
        return [WeightLayer("hidden", torch.randn(n, d, generator=generator, dtype=dtype), False),
                WeightLayer("final", torch.randn(n, d, generator=generator, dtype=dtype), True)]
