"""``codes``: a batch of latent codes z (n × d); the term is λ · R(z), R the regularizer's ``forward``."""
from ..params import Param
from ..registry import register_target
from ._base import Target


@register_target("codes")
class Codes(Target):
    """Latent codes of a batch, e.g. an autoencoder's bottleneck."""

    method = "forward"
    lam = Param(1.0, "weight λ of the regularizer's term on the codes (a task may set its own "
                "default)", ge=0)
