"""The coding rate of Yaodong Yu, Kwan Ho Ryan Chan, Chong You, Chaobing Song, Yi Ma, "Learning
Diverse and Discriminative Representations via the Principle of Maximal Coding Rate Reduction",
NeurIPS 2020, arXiv:2006.08558, as a diversity regularizer (a plugin: ``--plugin
examples.my_regularizer``).

For n vectors on the unit sphere, the rows of U (n × d), the coding rate

    R(U, ε) = ½ log det(I + d / (n ε²) · Uᵀ U)

is the number of nats needed to code them up to distortion ε: it grows with the volume
they span. Both regularizers below minimise −R, so that the vectors spread over every direction:

- ``coding_rate`` on a batch of latent codes (the loss term is λ · (−R));
- ``filter_coding_rate`` on the filters of every layer (Σ_layers λ_layer · (−R)), a
  :class:`regbench.WeightRegularizer`.

Rows are put on the sphere as u = w / sqrt(|w|² + 1e-8), so that a zero row stays finite; the
determinant is that of the smaller of the two Gram matrices (Sylvester: det(I + c UᵀU) =
det(I + c UUᵀ)).
"""
import torch

from regbench import CODES, Param, Regularizer, WeightRegularizer, register_regularizer

NORM_EPS = 1e-8


def coding_rate(rows: torch.Tensor, eps: float) -> torch.Tensor:
    """R(U, ε) of the rows of ``rows`` put on the unit sphere."""
    n, d = rows.shape
    unit = rows * torch.rsqrt(rows.pow(2).sum(1, keepdim=True) + NORM_EPS)
    gram = unit.T @ unit if d <= n else unit @ unit.T
    eye = torch.eye(len(gram), dtype=rows.dtype, device=rows.device)
    return 0.5 * torch.logdet(eye + d / (n * eps ** 2) * gram)


@register_regularizer("coding_rate")
class CodingRate(Regularizer):
    """−R(z, ε): the codes of a batch spread over every direction (MCR², NeurIPS 2020)."""

    targets = (CODES,)
    eps = Param(0.5, "distortion ε of the coding rate", gt=0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return -coding_rate(z, self.eps)


@register_regularizer("filter_coding_rate")
class FilterCodingRate(WeightRegularizer):
    """−R(W, ε) of each layer's filters, weighted by ``lam_hidden`` / ``lam_final``."""

    layer_memory = "gram"
    eps = Param(0.5, "distortion ε of the coding rate", gt=0)
    lam_hidden = Param(1e-4, "coefficient on the hidden layers", ge=0)
    lam_final = Param(1e-4, "coefficient on the final (classifier) layer", ge=0)

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return -coding_rate(rows, self.eps)
