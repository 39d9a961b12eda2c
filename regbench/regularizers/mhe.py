"""Minimum hyperspherical energy: Weiyang Liu, Rongmei Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai,
Le Song, "Learning towards Minimum Hyperspherical Energy", NeurIPS 2018, arXiv:1805.09298.

    E_s = 2/(n(n−1)) Σ_{i<j} K_s(c_ij),      c_ij = ŵ_i·ŵ_j,   ŵ = w / sqrt(|w|² + 1e-4)

with the kernels of :mod:`._energy` (s0 ``−log(2−2c)``, s1 ``(2−2c)^(−1/2)``, s2 ``(2−2c)^(−1)``;
a0/a1/a2 the same with ``ρ = acos(c)/π + 1e-4`` as the distance: ``−log ρ``, ``1/ρ``, ``1/ρ²``,
as in the authors' code wy1iu/MHE). On weights: ``Σ_layers λ·E_s(rows)``; the paper's
coefficients are hidden 1 / final 10 for s0, s1, s2, a0 and hidden 0.1 / final 1 for a1, a2, and
they are the defaults of ``lam_hidden`` and ``lam_final`` for the chosen kernel (a value given
explicitly is used as is). ``half_space`` uses ``[W; −W]`` on hidden layers (the authors'
"half_mhe"). On codes: ``E_s`` of the codes projected the same way, without a coefficient (the
term's weight is its ``lam``), summed in blocks of rows for large batches (O(block·n) memory;
weight layers are small and take the dense sum). MHE is also the energy-based member of the family
studied by Liu et al., "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649.
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, WEIGHTS
from ._energy import KERNELS, hyperspherical_energy, unit_rows
from ._layerwise import WeightRegularizer

PAPER_COEFFICIENTS = {"s0": (1.0, 10.0), "s1": (1.0, 10.0), "s2": (1.0, 10.0), "a0": (1.0, 10.0),
                      "a1": (0.1, 1.0), "a2": (0.1, 1.0)}  # (hidden, final), wy1iu/MHE


@register_regularizer("mhe")
class MHE(WeightRegularizer):
    """Repulsive Riesz/log energy between normalised filters (or codes)."""

    targets = (WEIGHTS, CODES)  # weights first: the papers' use; tasks pick the first they expose
    kernel = Param("s0", "energy kernel: s0/s1/s2 on the chord, a0/a1/a2 on the angle",
                   choices=tuple(KERNELS))
    lam_hidden = Param(1.0, "coefficient on the hidden layers; by default the paper's for the kernel",
                       ge=0, derive=lambda hp: PAPER_COEFFICIENTS[hp["kernel"]][0])
    lam_final = Param(10.0, "coefficient on the final (classifier) layer; by default the paper's "
                      "for the kernel", ge=0, derive=lambda hp: PAPER_COEFFICIENTS[hp["kernel"]][1])
    half_space = Param(False, "use [W; −W] on hidden layers (half-space MHE)")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return hyperspherical_energy(unit_rows(z), self.kernel)

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return hyperspherical_energy(unit_rows(rows), self.kernel, chunk=len(rows))  # one dense block
