"""Minimum hyperspherical energy (Liu et al., NeurIPS 2018; REFERENCE.md §2; seed 002).

    E_s = 2/(n(n−1)) Σ_{i<j} K_s(c_ij),      c_ij = ŵ_i·ŵ_j,   ŵ = w / sqrt(|w|² + 1e-4)

with the kernels of :mod:`.energy` (s0 ``−log(2−2c)``, s1 ``(2−2c)^(−1/2)``, s2 ``(2−2c)^(−1)``;
a0/a1/a2 the same with ``ρ = acos(c)/π + 1e-4`` as the distance: ``−log ρ``, ``1/ρ``, ``1/ρ²``,
as in the authors' code wy1iu/MHE). On weights: ``Σ_layers λ·E_s(rows)``; the paper's
coefficients are hidden 1 / final 10 for s0, s1, s2, a0 and hidden 0.1 / final 1 for a1, a2, which
is what a coefficient of −1 (the default) selects. ``half_space`` uses ``[W; −W]`` on hidden layers
(the authors' "half_mhe"). On codes: ``E_s`` of the codes projected the same way, without a
coefficient (the task weights it with its own ``lam``).
"""
import torch

from ..params import Param
from ..registry import register_regularizer
from ._base import CODES, WEIGHTS
from ._energy import KERNELS, hyperspherical_energy, unit_rows
from ._layerwise import WeightRegularizer

PAPER_COEFFICIENTS = {"s0": (1.0, 10.0), "s1": (1.0, 10.0), "s2": (1.0, 10.0), "a0": (1.0, 10.0),
                      "a1": (0.1, 1.0), "a2": (0.1, 1.0)}  # (hidden, final), wy1iu/MHE


def paper_or_given(default: float, where: str) -> Param:
    return Param(default, f"coefficient on the {where} layers; −1: the paper's for the kernel",
                 check=lambda v: v >= 0 or v == -1, rule="≥ 0, or −1")


@register_regularizer("mhe")
class MHE(WeightRegularizer):
    """Repulsive Riesz/log energy between normalised filters (or codes)."""

    targets = (WEIGHTS, CODES)  # weights first: the papers' use; tasks pick the first they expose
    kernel = Param("s0", "energy kernel: s0/s1/s2 on the chord, a0/a1/a2 on the angle",
                   choices=tuple(KERNELS))
    lam_hidden = paper_or_given(-1.0, "hidden")
    lam_final = paper_or_given(-1.0, "final (classifier)")
    half_space = Param(False, "use [W; −W] on hidden layers (half-space MHE)")

    @classmethod
    def resolve(cls, values):
        """Parameters as declared, with a −1 coefficient replaced by the paper's for the kernel."""
        resolved = super().resolve(values)
        for name, paper in zip(("lam_hidden", "lam_final"), PAPER_COEFFICIENTS[resolved["kernel"]]):
            if resolved[name] == -1:
                resolved[name] = paper
        return resolved

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return hyperspherical_energy(unit_rows(z), self.kernel)

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return self.forward(rows)
