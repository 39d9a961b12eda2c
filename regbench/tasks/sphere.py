"""``sphere``: n free points in R^d optimised under the regularizer alone.

The setting of Li & Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without
explicit projection" (IJCNN 2022, arXiv:2104.11610), §2–3.3: the points start in a small Gaussian
cloud (std ``init_scale``) far inside the sphere of radius √d, so reaching mean norm ≈ √d is the
regularizer's doing. Full-batch Adam on the points, whose only loss is the regularizer's term (λ = 1).
The points are exposed both as a batch of latent codes and as one (hidden) weight matrix whose rows
are the points, so that every regularizer can be minimised alone here.
"""
import itertools

import torch
from torch import nn

from ..geometry import MAX_ROWS, describe
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, WEIGHTS, WeightLayer
from ..training import Training
from ._base import FLOAT32, TRAINED, MemoryNeed, Task, weight_penalty_bytes

WORKING_COPIES = 3  # float32 n × d copies beside the trained points: the diagnostics' and the term's
DIAGNOSTIC_COPIES = 5  # float64 MAX_ROWS × MAX_ROWS matrices of the pairwise diagnostics
PROJECTION_COPIES = 5  # float32 n × L copies for L sorted projections (values, int64 indices; codes, prior)


class Points(nn.Module):
    def __init__(self, points: torch.Tensor):
        super().__init__()
        self.points = nn.Parameter(points)


@register_task("sphere")
class Sphere(Task):
    """Free points under the regularizer alone; metrics describe the shape they reach."""

    supports = (CODES, WEIGHTS)
    metrics = ("norm_mean_over_sqrt_d", "norm_std", "loss_per_d", "min_angle_deg", "mean_angle_deg",
               "energy_s1")
    term_defaults = {"lam": 1.0}
    ranked = False  # under none the points never move: a sanity check of each regularizer alone

    n = Param(500, "number of points", ge=2)
    d = Param(16, "dimension", ge=2)
    steps = Param(1500, "full-batch optimisation steps", ge=1)
    lr = Param(0.02, "Adam learning rate", gt=0)
    init_scale = Param(0.1, "std of the initial Gaussian cloud", gt=0)

    def setup(self, regularizer, target, ctx):
        generator = torch.Generator().manual_seed(ctx.seed)
        model = Points(torch.randn(self.n, self.d, generator=generator) * self.init_scale).to(ctx.device)
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr), itertools.repeat(None),
                        self.steps, period=self.steps, unit="step")

    def memory_needs(self, regularizer, reg_params):
        """The points (with Adam's state when a term trains them) and their working copies; the
        term's matrices: rows × rows for a pairwise weight penalty, d × d covariances and sorted
        projections on codes (pair sums over codes run in bounded blocks); the pairwise diagnostics
        of at most ``MAX_ROWS`` points."""
        target = self.target_for(regularizer, reg_params.get("target", "auto"))
        rows = self.n * self.d * FLOAT32
        needs = [MemoryNeed("the points, their optimizer state and working copies",
                            rows * ((TRAINED if target else 1) + WORKING_COPIES),
                            "n" if self.n >= self.d else "d"),
                 MemoryNeed("pairwise diagnostics", DIAGNOSTIC_COPIES * 8 * min(self.n, MAX_ROWS) ** 2)]
        if target == WEIGHTS:
            needs.append(MemoryNeed("the regularizer's pairwise matrices",
                                    weight_penalty_bytes(regularizer, reg_params, self.n, self.d), "n"))
        elif target == CODES:
            needs.append(MemoryNeed("the regularizer's d × d matrices",
                                    TRAINED * FLOAT32 * self.d ** 2, "d"))
            projections = reg_params.get("projections", 0)
            needs.append(MemoryNeed("sorted projections of the points",
                                    PROJECTION_COPIES * FLOAT32 * self.n * projections, "n"))
        return needs

    def loss(self, model, batch):
        """No loss of the task's own (under ``none`` the points stay where they start)."""
        points = model.points
        return None, {CODES: points, WEIGHTS: [WeightLayer("points", points, final=False)]}

    def evaluate(self, model, summary, ctx):
        with torch.no_grad():
            final = summary.term(model, self.loss(model, None)[1])
        return {"loss_per_d": (0.0 if final is None else float(final)) / self.d, **describe(model.points)}
