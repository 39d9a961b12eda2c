"""The learnable pole of MHP and MHC (Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649;
authors' code wy1iu/Sphere-Uniformity).

Both are a game between the network and one pole ``v`` per layer over a payoff ``P(c)`` of the
cosines ``c_i = cos(ŵ_i, v)``: the network minimises ``λ·P``, the pole maximises ``P``.

Each call in which autograd is on (a training step) first takes ``inner_steps`` momentum-SGD steps
of the pole on its loss, with the layer's weights detached, and then returns ``P`` with the pole
detached. A step from ``v`` with momentum buffer ``b``, learning rate η, momentum μ and weight
decay ω (``pole_lr``, ``pole_momentum``, ``pole_weight_decay``) is

    b ← μ·b + ∇_v(−s·P) + ω·v,      v ← v − η·b

(``torch.optim.SGD``'s, and TensorFlow's ``MomentumOptimizer``'s, rule). With ``pole_lr_steps`` = T
> 0, η follows the step schedule of the authors' network over T steps: ×0.1 from each of the
steps ``round(T·f)``, f = 30/75, 50/75, 65/75 (calls counted from 0). A call under
``torch.no_grad()`` (logging, evaluation) neither moves the pole nor counts. The pole is drawn on a
layer's first call (``randn`` from the global torch generator, keyed by the layer's name). Poles
are plain tensors, not parameters: an optimiser over the regularizer's parameters never sees them.

``convention`` (see :mod:`._sphere_uniformity`):

- ``"paper"``: ``s = 1`` (the step does not depend on λ); the pole is a unit vector, put back on
  the sphere after every step (``P`` depends only on its direction, so this only fixes the scale
  of its steps); by default plain steps (μ = 0, ω = 0, T = 0: constant η).
- ``"authors"``: as ``mhp/train.py`` and ``mhc/train.py`` of the authors' code. The pole is a free
  vector drawn from N(0, I) (``get_v``, ``mhp/architecture.py`` l. 15–20), used as
  ``v / sqrt(|v|² + 1e-4)`` (``cal``, l. 34–39). Its loss is the λ-scaled payoff, ``s = λ`` of the
  layer (``vloss_op`` from ``thom_loss``/``thom_final``, ``train.py`` l. 71), plus the L2 penalty
  ``(ω/2)|v|²`` with ω = 5e-4 (``get_v``'s ``l2_regularizer(self.wd)``, ``self.wd = 5e-4``
  l. 132/137 of ``mhp``/``mhc``'s ``architecture.py``; ``vreg_loss``, ``train.py`` l. 58–73). It
  is minimised by momentum SGD with μ = 0.9 at the network's learning rate (``updatev_op``,
  ``train.py`` l. 79: ``MomentumOptimizer(lr_, 0.9)``, ``lr_`` fed the network's ``lr``), η = 0.1
  (``--base_lr``, l. 163) ×0.1 from iterations 30000, 50000 and 65000 (l. 116–121), ``--iters`` =
  10 steps per iteration (l. 124–125), taken before the network's step (l. 127). regbench does not
  see the network's optimiser: its defaults η = 0.1, T = 75000 are the authors' schedule, which
  is also the CIFAR-100 tasks' at their default 75,000 iterations; set ``pole_lr`` and
  ``pole_lr_steps`` to the network's learning rate and iterations to follow another.
"""
import torch
import torch.nn.functional as F

from ..params import Param
from ._base import WeightLayer
from ._energy import cosines, unit_rows
from ._sphere_uniformity import SphereUniformity

DROPS = (30 / 75, 50 / 75, 65 / 75)  # the authors' lr drops: iterations 30000/50000/65000 of 75000


def by_convention(paper, authors):
    """A derived default: ``authors`` under the authors' convention, else ``paper``."""
    return lambda hp: authors if hp["convention"] == "authors" else paper


class PoleRegularizer(SphereUniformity):
    """A layer's penalty is ``payoff(cos(ŵ_i, v))`` against its pole ``v`` (see module)."""

    layer_memory = "rows"

    inner_steps = Param(10, "pole steps per network step (the authors' --iters)", ge=0)
    pole_lr = Param(0.1, "the pole's learning rate η (authors: the network's initial one, 0.1)", gt=0)
    pole_momentum = Param(0.0, "momentum μ of the pole's SGD; by default 0.9 under the authors' "
                          "convention, 0 under the paper's", ge=0, lt=1, derive=by_convention(0.0, 0.9))
    pole_weight_decay = Param(0.0, "weight decay ω on the pole; by default 5e-4 under the authors' "
                              "convention, 0 under the paper's", ge=0, derive=by_convention(0.0, 5e-4))
    pole_lr_steps = Param(0, "training length T (network steps) of the pole's learning-rate schedule, "
                          "×0.1 at 40 %, 2/3 and 13/15 of T; 0: constant. By default 75000 (the "
                          "authors') under their convention, 0 under the paper's", ge=0,
                          derive=by_convention(0, 75000))

    def __init__(self, **values):
        super().__init__(**values)
        self.poles: dict[str, torch.Tensor] = {}
        self.pole_momenta: dict[str, torch.Tensor] = {}
        self.network_steps = 0

    def payoff(self, c: torch.Tensor) -> torch.Tensor:
        """``P`` from the cosines of the n' rows with the pole; the network minimises it."""
        raise NotImplementedError

    def pole_cosines(self, rows: torch.Tensor, pole: torch.Tensor) -> torch.Tensor:
        direction = unit_rows(pole) if self.authors else pole
        return cosines(self.unit(rows), direction[None]).squeeze(1)

    def pole(self, name: str, rows: torch.Tensor) -> torch.Tensor:
        """The layer's pole, drawn on first use (or when the layer's width changed)."""
        pole = self.poles.get(name)
        if pole is None or pole.shape != rows.shape[1:]:
            pole = torch.randn(rows.shape[1])
            pole = pole if self.authors else F.normalize(pole, dim=0)
            self.pole_momenta.pop(name, None)
        self.poles[name] = pole.to(rows)
        return self.poles[name]

    def scheduled_pole_lr(self) -> float:
        """η at this network step (see ``pole_lr_steps``)."""
        total = self.pole_lr_steps
        drops = sum(self.network_steps >= round(total * f) for f in DROPS) if total else 0
        return self.pole_lr * 0.1 ** drops

    def step_pole(self, name: str, rows: torch.Tensor, lam: float) -> None:
        """``inner_steps`` steps of the layer's pole against the (detached) ``rows``."""
        pole = self.pole(name, rows)
        momentum = self.pole_momenta.get(name, torch.zeros_like(pole)).to(rows)
        scale = lam if self.authors else 1.0
        lr = self.scheduled_pole_lr()
        for _ in range(self.inner_steps):
            pole = pole.detach().requires_grad_()
            (grad,) = torch.autograd.grad(-scale * self.payoff(self.pole_cosines(rows, pole)), pole)
            momentum = self.pole_momentum * momentum + grad + self.pole_weight_decay * pole.detach()
            pole = pole.detach() - lr * momentum
            if not self.authors:
                pole = F.normalize(pole, dim=0)
        self.poles[name], self.pole_momenta[name] = pole.detach(), momentum

    def weight_penalty(self, layers: list[WeightLayer]) -> torch.Tensor:
        if torch.is_grad_enabled():
            for layer in layers:
                self.step_pole(layer.name, self.layer_rows(layer).detach(), self.layer_lambda(layer))
            self.network_steps += 1
        return super().weight_penalty(layers)

    def layer_penalty(self, rows: torch.Tensor, name: str) -> torch.Tensor:
        return self.payoff(self.pole_cosines(rows, self.pole(name, rows)))
