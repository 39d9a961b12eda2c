"""Geometry of a set of vectors: norms, pairwise angles, covariance spectrum, eccentricity.

Eccentricity follows seed 000 §4.3 (REFERENCE.md §3): ε = std(eigenvalues of the covariance)
/ mean(eigenvalues); the covariance trace of an eccentric-regularised latent space is ≈ d.
"""
import math

import torch


def covariance_spectrum(z: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the sample covariance of the rows of ``z``, in decreasing order (float64)."""
    z = z.detach().double()
    centred = z - z.mean(0)
    cov = centred.T @ centred / max(len(z) - 1, 1)
    return torch.linalg.eigvalsh(cov).flip(0).clamp_min(0)


def eccentricity(spectrum: torch.Tensor) -> float:
    """std / mean of the covariance eigenvalues (population std, as in seed 000 §4.3)."""
    return float(spectrum.std(unbiased=False) / spectrum.mean())


def norm_stats(z: torch.Tensor) -> dict[str, float]:
    norms = z.detach().double().norm(dim=1)
    d = z.shape[1]
    return {"norm_mean_over_sqrt_d": float(norms.mean()) / math.sqrt(d),
            "norm_std": float(norms.std(unbiased=False))}


def pairwise_angles_deg(z: torch.Tensor) -> torch.Tensor:
    """Angles in degrees between all pairs i < j (zero vectors count as angle 90°)."""
    z = z.detach().double()
    unit = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = (unit @ unit.T).clamp(-1, 1)
    i, j = torch.triu_indices(len(z), len(z), offset=1)
    return torch.rad2deg(torch.acos(cos[i, j]))


def angle_stats(z: torch.Tensor) -> dict[str, float]:
    angles = pairwise_angles_deg(z)
    return {"min_angle_deg": float(angles.min()), "mean_angle_deg": float(angles.mean())}
