"""Geometry diagnostics of a set of vectors (latent codes, or one layer's filters as rows).

Reported by every task for what it regularises, whatever regularizer trained it, so that a
leaderboard shows whether each regularizer does what it claims:

- hyperspherical energy s = 0, 1, 2 of the normalised vectors (the MHE kernels of Weiyang Liu, Rongmei
  Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai, Le Song, "Learning towards Minimum Hyperspherical
  Energy", NeurIPS 2018, arXiv:1805.09298; code ``wy1iu/MHE``);
- min and mean pairwise angle; norm mean / std (and mean norm / √d);
- covariance spectrum, its trace, eccentricity ε = std / mean of the eigenvalues (§4.3 of
  Xuefeng Li and Alan Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without
  explicit projection", IJCNN 2022, arXiv:2104.11610)
  and effective rank exp(H(λ/Σλ)) (Roy & Vetterli 2007);
- ‖G − I‖_F for the smaller Gram matrix G of the raw rows (as the ``orthogonal`` regularizer);
- MMD to N(0, I) with the WAE IMQ kernel (the ``mmd_imq`` estimator, a fixed prior sample).

Pairwise quantities use at most ``MAX_ROWS`` rows (a fixed random subset) to bound their cost.
"""
from __future__ import annotations

import math

import torch

from .regularizers._energy import hyperspherical_energy, pair_values, smaller_gram, unit_rows

MAX_ROWS = 2000


def covariance_spectrum(z: torch.Tensor) -> torch.Tensor:
    """The d eigenvalues of the sample covariance of the rows of ``z``, decreasing (float64).

    With fewer rows than dimensions the nonzero ones come from the smaller n×n Gram matrix of
    the centred rows (same nonzero spectrum), padded with zeros. Rows that overflow (weights blown
    up by a diverging run) give NaN eigenvalues, which the runner records as ``diverged``."""
    z = z.detach().double()
    n, d = z.shape
    centred = z - z.mean(0)
    small = centred @ centred.T if n < d else centred.T @ centred
    if not torch.isfinite(small).all():
        return torch.full((d,), math.nan, dtype=torch.float64)
    eig = torch.linalg.eigvalsh(small / max(n - 1, 1)).flip(0).clamp_min(0)
    return torch.cat([eig, eig.new_zeros(d - len(eig))])


def eccentricity(spectrum: torch.Tensor) -> float:
    """std / mean of the covariance eigenvalues (population std, as in Li & Blair, IJCNN 2022, §4.3)."""
    return float(spectrum.std(unbiased=False) / spectrum.mean())


def effective_rank(spectrum: torch.Tensor) -> float:
    p = spectrum / spectrum.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def pairwise_angles_deg(z: torch.Tensor) -> torch.Tensor:
    """Angles in degrees between all pairs i < j (zero vectors count as orthogonal)."""
    unit = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.rad2deg(torch.acos(pair_values(unit @ unit.T).clamp(-1, 1)))


def subset(z: torch.Tensor, max_rows: int = MAX_ROWS) -> torch.Tensor:
    if len(z) <= max_rows:
        return z
    keep = torch.randperm(len(z), generator=torch.Generator().manual_seed(0))[:max_rows]
    return z[keep]


def mmd_to_normal(z: torch.Tensor) -> float:
    """WAE IMQ MMD between ``z`` and a fixed N(0, I) sample of the same size."""
    from .registry import create_regularizer
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return float(create_regularizer("mmd_imq")(z))


def describe(vectors: torch.Tensor, spectrum: bool = False) -> dict:
    """All diagnostics of the rows of ``vectors`` (float64, on the CPU)."""
    z = vectors.detach().double().cpu()
    n, d = z.shape
    few = subset(z)
    eig = covariance_spectrum(z)
    norms = z.norm(dim=1)
    unit = unit_rows(few)
    angles = pairwise_angles_deg(few) if n > 1 else torch.zeros(1)
    gram = smaller_gram(z)
    out = {"norm_mean": float(norms.mean()), "norm_std": float(norms.std(unbiased=False)),
           "norm_mean_over_sqrt_d": float(norms.mean()) / math.sqrt(d),
           **{f"energy_s{s}": float(hyperspherical_energy(unit, f"s{s}", chunk=len(unit)))
              for s in (0, 1, 2)},  # the dense sum, bit for bit as recorded before blocks existed
           "min_angle_deg": float(angles.min()), "mean_angle_deg": float(angles.mean()),
           "cov_trace": float(eig.sum()), "eccentricity": eccentricity(eig),
           "effective_rank": effective_rank(eig),
           "orth_dev": float(torch.linalg.matrix_norm(gram - torch.eye(len(gram), dtype=gram.dtype))),
           "mmd_normal": mmd_to_normal(few) if n > 1 else float("nan")}
    if spectrum:
        out["spectrum"] = eig.tolist()
    return out


def describe_layers(layers) -> dict:
    """``weights.<metric>``: the mean over layers of each diagnostic; ``layers``: each layer's."""
    per_layer = {layer.name: describe(layer.rows) for layer in layers}
    summary = {}
    for name in next(iter(per_layer.values()), {}):
        summary[f"weights.{name}"] = sum(m[name] for m in per_layer.values()) / len(per_layer)
    return {**summary, "layers": per_layer}
