"""``sphere``: n free points in R^d optimised under the regularizer alone (seed 000 §2–3.3).

The points start in a small Gaussian cloud (std ``init_scale``) far inside the sphere of radius √d,
so reaching mean norm ≈ √d is the regularizer's doing. Full-batch Adam on the points. The points
are exposed both as a batch of latent codes and as one (hidden) weight matrix whose rows are the
points, so that every regularizer can be minimised alone here.
"""
import torch

from ..geometry import describe
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, WEIGHTS, WeightLayer
from ..training import check_finite
from ._base import Task


@register_task("sphere")
class Sphere(Task):
    """Free points under the regularizer alone; metrics describe the shape they reach."""

    supports = (CODES, WEIGHTS)
    metrics = {"norm_mean_over_sqrt_d": "target1", "norm_std": "min", "loss_per_d": "",
               "min_angle_deg": "max", "mean_angle_deg": "max", "energy_s1": "min"}

    n = Param(500, "number of points", check=lambda v: v >= 2, rule="n ≥ 2")
    d = Param(16, "dimension", check=lambda v: v >= 2, rule="d ≥ 2")
    steps = Param(1500, "full-batch optimisation steps", check=lambda v: v >= 1, rule="≥ 1")
    lr = Param(0.02, "Adam learning rate", check=lambda v: v > 0, rule="> 0")
    init_scale = Param(0.1, "std of the initial Gaussian cloud", check=lambda v: v > 0, rule="> 0")

    def run(self, regularizer, ctx):
        target = self.target_for(type(regularizer))

        def loss_of(points):
            if target == WEIGHTS:
                return regularizer.weight_penalty([WeightLayer("points", points, final=False)])
            return regularizer(points)

        generator = torch.Generator().manual_seed(ctx.seed)
        points = torch.randn(self.n, self.d, generator=generator) * self.init_scale
        points = points.to(ctx.device).requires_grad_()
        optimizer = torch.optim.Adam([points], lr=self.lr)
        for step in ctx.progress(range(self.steps), desc="sphere"):
            optimizer.zero_grad()
            loss = loss_of(points)
            check_finite(loss, step)
            loss.backward()
            optimizer.step()
        final_loss = float(loss_of(points).detach())
        return {"target": target, "loss_per_d": final_loss / self.d, **describe(points)}
