"""The learnable pole of MHP and MHC (Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity).

Both are a game between the network and one pole ``v`` per layer over a payoff ``P(c)`` of the
cosines ``c_i = cos(ŵ_i, v)``: the network minimises ``λ·P``, the pole maximises ``P``.

Each call first takes ``inner_steps`` gradient-ascent steps of size ``pole_lr`` on ``P`` for the
pole, with the layer's weights detached, and then returns ``P`` with the pole detached. The pole
is created on a layer's first call (a random unit vector from the global torch generator, keyed
by the layer's name) and is kept on the unit sphere: ``P`` depends only on its direction, so this
only fixes the scale of its steps. The pole moves only when autograd is on, so a penalty evaluated
under ``torch.no_grad()`` (logging, evaluation) leaves it alone. Poles are plain tensors, not
parameters: an optimiser over the regularizer's parameters never sees them.

Differences from the authors' code, which updates the pole with momentum SGD (momentum 0.9, the
network's learning rate, weight decay 5e-4) on ``λ·P``: here the steps are plain, on the sphere,
and independent of λ.
"""
import torch
import torch.nn.functional as F

from ..params import Param
from ._energy import cosines, unit_rows
from ._layerwise import WeightRegularizer


class PoleRegularizer(WeightRegularizer):
    """A layer's penalty is ``payoff(cos(ŵ_i, v))`` against its pole ``v`` (see module)."""

    inner_steps = Param(10, "pole ascent steps per call", ge=0)
    pole_lr = Param(0.1, "step size of the pole's ascent", gt=0)
    half_space = Param(True, "use [W; −W] on hidden layers (half-space, as in the authors' code)")

    def __init__(self, **values):
        super().__init__(**values)
        self.poles: dict[str, torch.Tensor] = {}

    def payoff(self, c: torch.Tensor) -> torch.Tensor:
        """``P`` from the cosines of the n' rows with the pole; the network minimises it."""
        raise NotImplementedError

    def pole_cosines(self, rows: torch.Tensor, pole: torch.Tensor) -> torch.Tensor:
        return cosines(unit_rows(rows), pole[None]).squeeze(1)

    def step_pole(self, name: str, rows: torch.Tensor) -> torch.Tensor:
        """The layer's pole after ``inner_steps`` ascent steps on ``P`` against ``rows`` (detached)."""
        pole = self.poles.get(name)
        if pole is None or pole.shape != rows.shape[1:]:
            pole = F.normalize(torch.randn(rows.shape[1]), dim=0)
        pole = pole.to(rows)
        if torch.is_grad_enabled():
            rows = rows.detach()
            for _ in range(self.inner_steps):
                pole = pole.detach().requires_grad_()
                (grad,) = torch.autograd.grad(self.payoff(self.pole_cosines(rows, pole)), pole)
                pole = F.normalize(pole.detach() + self.pole_lr * grad, dim=0)
        self.poles[name] = pole.detach()
        return self.poles[name]

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return self.payoff(self.pole_cosines(rows, self.step_pole(name, rows)))
