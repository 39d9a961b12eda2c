"""The marginal log-likelihood of a latent-variable model by importance sampling, and its ELBO.

Yuri Burda, Roger Grosse, Ruslan Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016,
arXiv:1509.00519: with K codes z_k ~ q(z | x) from the encoder's posterior,

    log p(x) ≈ L_K = log (1/K) Σ_k w_k,   w_k = p(x | z_k) p(z_k) / q(z_k | x),

whose expectation is a lower bound on log p(x) that rises with K to log p(x) (and equals it for
every K when q is the exact posterior). By Jensen's inequality L_K ≥ (1/K) Σ_k log w_k, the
K-sample estimate of the ELBO E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)). Densities of codes on the
sphere are taken with respect to its surface measure, for the posterior and the prior alike.
"""
from __future__ import annotations

import math
from typing import Callable

import torch


def log_mean_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


@torch.no_grad()
def importance_sampled(head: torch.Tensor, posterior, log_likelihood: Callable, samples: int
                       ) -> dict[str, torch.Tensor]:
    """Per item of the posterior heads ``head`` (n × head size): ``ll`` = L_K with K = ``samples``,
    ``re`` = the mean over the K codes of log p(x | z_k) and ``elbo`` = the mean of log w_k.
    ``log_likelihood(z, items)`` gives log p(x_items | z) for codes ``z`` of the items ``items``
    (both n·K long, each item's K codes together); ``posterior`` is a posterior regularizer
    (``sample``, ``log_prob``, ``prior_log_prob``)."""
    n = len(head)
    items = torch.arange(n, device=head.device).repeat_interleave(samples)
    h = head[items]
    z = posterior.sample(h)
    log_px = log_likelihood(z, items)
    log_w = (log_px + posterior.prior_log_prob(z) - posterior.log_prob(h, z)).view(n, samples)
    return {"ll": log_mean_exp(log_w, 1), "re": log_px.view(n, samples).mean(1),
            "elbo": log_w.mean(1)}
