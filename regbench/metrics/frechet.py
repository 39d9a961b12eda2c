"""Fréchet distance between Gaussians fitted to two feature sets (the FID formula, Heusel et al.
2017; Dowson & Landau 1982):

    d² = |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)

in float64; tr((Σ₁^½ Σ₂ Σ₁^½)^½) is the sum of the square roots of that symmetric matrix's
eigenvalues, which equals pytorch-fid's tr(sqrtm(Σ₁Σ₂)) without its complex round-off.
"""
from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np
import torch


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1, as pytorch-fid) of the rows of ``features``."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(0), np.cov(features, rowvar=False)


def sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    root = sqrt_psd(np.asarray(sigma1, dtype=np.float64))
    cross = np.linalg.eigvalsh(root @ np.asarray(sigma2, dtype=np.float64) @ root).clip(min=0)
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(cross).sum())


@torch.no_grad()
def embed_all(embed: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
              batch_size: int, device) -> np.ndarray:
    """Features of uint8 images (n×C×H×W), passed to ``embed`` as floats in [0, 1] on ``device``."""
    out = [embed(images[i:i + batch_size].to(device).float().div(255)).double().cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy()


def fingerprint(*tensors: torch.Tensor) -> str:
    """A short sha256 of the tensors' bytes: the cache key of statistics or networks built from them."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.cpu().numpy().tobytes())
    return digest.hexdigest()[:16]
