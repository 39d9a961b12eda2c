"""The eccentric paper's figures as PNG files, with matplotlib: Xuefeng Li and Alan Blair, "Eccentric
Regularization: Minimizing Hyperspherical Energy without explicit projection", IJCNN 2022,
arXiv:2104.11610.

Per run (written by the autoencoder tasks into the run's artifacts directory):
- ``latent_scatter``: test codes on the first two principal axes (Figure 3);
- ``spectrum``: eigenvalues of the latent covariance in decreasing order (Figure 5);
- ``eigen_images``: images decoded at mean ± 2√λ_k·e_k along the principal axes (Figures 6–7);
- with another title, ``latent_scatter`` also draws the panels of Figure 1 of Davidson et al.,
  "Hyperspherical Variational Auto-Encoders", UAI 2018, arXiv:1804.00891 (``vmf_circles``).
Across runs: ``generation_vs_eccentricity``, a generation metric against ε (Figure 10), drawn by
the leaderboard (:mod:`regbench.leaderboard.figure_links`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path.name


def latent_scatter(codes: np.ndarray, labels: np.ndarray | None, path: Path,
                   title: str = "test codes on the principal axes", axes: tuple[str, str] = ("p1", "p2")) -> str:
    """``codes``: n × 2 coordinates (by default on the first two principal axes); ``labels`` colour them."""
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    points = ax.scatter(codes[:, 0], codes[:, 1], s=3, c=labels, cmap="tab10" if labels is not None else None)
    if labels is not None:
        fig.colorbar(points, ax=ax)
    ax.set(xlabel=axes[0], ylabel=axes[1], title=title, aspect="equal")
    return _save(fig, path)


def spectrum(eigenvalues, path: Path) -> str:
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.subplots()
    ax.plot(np.arange(1, len(eigenvalues) + 1), eigenvalues, marker="o", ms=3)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="principal component", ylabel="eigenvalue", title="latent covariance spectrum")
    return _save(fig, path)


def eigen_images(images: np.ndarray, path: Path) -> str:
    """``images``: 2 × K × C × H × W in [0, 1]; rows mean + and mean − along each axis."""
    rows, count = images.shape[:2]
    fig = Figure(figsize=(1.1 * count, 1.2 * rows))
    for (r, k), ax in np.ndenumerate(np.array(fig.subplots(rows, count, squeeze=False))):
        picture = images[r, k].transpose(1, 2, 0)
        ax.imshow(picture[..., 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(f"p{k + 1}", fontsize=8)
    fig.axes[0].set_ylabel("+2σ")
    fig.axes[count].set_ylabel("−2σ")
    return _save(fig, path)


def generation_vs_eccentricity(points: dict[str, tuple], metric: str, path: Path) -> str:
    """``points``: regularizer → (eccentricities, values of ``metric``), one pair per run."""
    fig = Figure(figsize=(5, 3.8))
    ax = fig.subplots()
    for reg, (x, y) in sorted(points.items()):
        ax.scatter(x, y, label=reg)
    ax.set(xlabel="eccentricity ε", ylabel=metric, title=f"{metric} against ε")
    ax.legend(fontsize=8)
    return _save(fig, path)
