"""A plugin written against the older regularizer interface: only ``forward`` (codes) or only
``weight_penalty(layers)`` (weights), hyperparameters as ``Param(default, doc, gt=...)`` with bounds,
no λ of its own (the codes target gives it ``lam``), names from the top-level ``regbench`` package.

- ``old_radius``: the mean squared deviation of the codes' squared norms from ``radius2``
  (a shell constraint, as the norm term of Li & Blair, "Eccentric Regularization", IJCNN 2022,
  arXiv:2104.11610);
- ``old_weight_decay``: ``coefficient`` times the sum of the squared weights of every layer
  (Krogh & Hertz, "A Simple Weight Decay Can Improve Generalization", NeurIPS 1991). Each call is
  logged in :data:`CALLS` as ``[(name, shape, final), ...]`` so that a test can see the layers it got.
"""
from regbench import WEIGHTS, Param, Regularizer, WeightLayer, register_regularizer

CALLS: list[list[tuple[str, tuple[int, ...], bool]]] = []


@register_regularizer("old_radius")
class OldRadius(Regularizer):
    """Squared norms of the codes pulled to ``radius2``."""

    radius2 = Param(1.0, "target squared norm of a code", gt=0)

    def forward(self, z):
        return (z.pow(2).sum(1) - self.radius2).pow(2).mean()


@register_regularizer("old_weight_decay")
class OldWeightDecay(Regularizer):
    """Sum of squared weights, times ``coefficient``."""

    targets = (WEIGHTS,)
    coefficient = Param(1e-3, "weight of the penalty", ge=0, le=1)

    def weight_penalty(self, layers: list[WeightLayer]):
        CALLS.append([(layer.name, tuple(layer.rows.shape), layer.final) for layer in layers])
        return self.coefficient * sum(layer.rows.pow(2).sum() for layer in layers)
