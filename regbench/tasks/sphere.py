"""``sphere``: n free points in R^d optimised under the regularizer alone (seed 000 §2–3.3).

The points start in a small Gaussian cloud (std ``init_scale``) far inside the sphere of radius √d,
so reaching mean norm ≈ √d is the regularizer's doing. Full-batch Adam on the points.
"""
import math

import torch

from ..geometry import angle_stats, norm_stats
from ..params import Param
from ..registry import register_task
from ..regularizers.base import CODES
from ..training import check_finite
from .base import Task


@register_task("sphere")
class Sphere(Task):
    """Free points under the regularizer alone; metrics describe the shape they reach."""

    supports = (CODES,)
    metrics = {"norm_mean_over_sqrt_d": "target1", "norm_std": "min", "loss_per_d": "",
               "min_angle_deg": "max", "mean_angle_deg": "max"}

    n = Param(500, "number of points", check=lambda v: v >= 2, rule="n ≥ 2")
    d = Param(16, "dimension", check=lambda v: v >= 2, rule="d ≥ 2")
    steps = Param(1500, "full-batch optimisation steps", check=lambda v: v >= 1, rule="≥ 1")
    lr = Param(0.02, "Adam learning rate", check=lambda v: v > 0, rule="> 0")
    init_scale = Param(0.1, "std of the initial Gaussian cloud", check=lambda v: v > 0, rule="> 0")

    def run(self, regularizer, ctx):
        generator = torch.Generator().manual_seed(ctx.seed)
        points = torch.randn(self.n, self.d, generator=generator) * self.init_scale
        points = points.to(ctx.device).requires_grad_()
        optimizer = torch.optim.Adam([points], lr=self.lr)
        for step in ctx.progress(range(self.steps), desc="sphere"):
            optimizer.zero_grad()
            loss = regularizer(points)
            check_finite(loss, step)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            final_loss = float(regularizer(points))
        return {**norm_stats(points), "loss_per_d": final_loss / self.d, **angle_stats(points),
                "radius_target": math.sqrt(self.d)}
