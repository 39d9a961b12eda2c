"""Sampling around e1 and carrying the sample to the mean direction μ (vmf, power_spherical).

``tangent_gaussians``: the Gaussian draws whose directions v / |v| are uniform on S^{m−2}, the
part of a sample orthogonal to e1. A draw of norm 0 would give 0/0 = NaN; at m = 2, v has one
coordinate and float32 ``randn`` returns exactly 0 about once in a few million draws (a 2-d
latent of 500 codes meets one within 10,000 steps), so such a draw is replaced by e1 of R^{m−1}.

The Householder reflection: with u = e1 − μ, U = I − 2uuᵀ/|u|² is orthogonal and U e1 = e1 − u = μ
(u·e1 = 1 − μ_1 = |u|²/2). At μ = e1, u = 0 and U = I: |u|² is clamped at the smallest normal float,
so that the formula gives y − 0 = y, and those rows return y through ``torch.where``, so that no
gradient goes through the division by the clamped |u|² (an upstream gradient above about 4
overflowed there, to inf · 0 = NaN); U is discontinuous at μ = e1, and its gradient in μ there is 0.
"""
import torch


def reflect(mu: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """U y per row, U = I − 2uuᵀ/|u|², u = e1 − μ (maps e1 to μ); ``mu``, ``y`` (..., m)."""
    u = torch.cat([1 - mu[..., :1], -mu[..., 1:]], -1)  # e1 − μ
    u_sq = u.pow(2).sum(-1, keepdim=True)
    reflected = y - 2 * u * (u * y).sum(-1, keepdim=True) / u_sq.clamp_min(torch.finfo(mu.dtype).tiny)
    return torch.where(u_sq > 0, reflected, y)


def tangent_gaussians(mu: torch.Tensor) -> torch.Tensor:
    """Standard normal draws (..., m − 1), one per row of ``mu`` (..., m), none of norm 0."""
    v = torch.randn(*mu.shape[:-1], mu.shape[-1] - 1, dtype=mu.dtype, device=mu.device)
    e1 = torch.zeros_like(v)
    e1[..., 0] = 1
    return torch.where((v == 0).all(-1, keepdim=True), e1, v)
