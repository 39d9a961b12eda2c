"""``none``: the unregularized baseline. It acts on nothing, so it has no λ and adds no term."""
from ..registry import register_regularizer
from ._base import Regularizer


@register_regularizer("none")
class NoRegularizer(Regularizer):
    """No regularization: the task's loss alone."""

    targets = ()
