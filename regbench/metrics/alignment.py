"""Alignment of the deep principal components of independently trained runs: §4.1–4.2 and Table 1 of
Xuefeng Li and Alan Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit
projection", IJCNN 2022, arXiv:2104.11610.

Each run's codes are shifted to zero mean and rotated onto the eigenvectors of its training-code
covariance, in decreasing eigenvalue order (:func:`principal_axes`). The sign of an eigenvector is
arbitrary; the paper states no convention, so each axis is oriented to give its training
projections positive skewness, a choice one run can make on its own. Each record keeps these
principal-axis codes of a fixed subset of training images and of test images
(:func:`record_codes`).

For two runs with principal-axis codes p (first run) and q (second run) of the same images:
- raw angle: the mean over test images of the angle between the image's code vectors p_i and q_i
  ("the mean angle between encodings of the same (test set) images", §4.3);
- aligned angle: q's axes are first permuted by the Hungarian algorithm
  (``scipy.optimize.linear_sum_assignment``) to maximise the trace of |C|, C the training-image
  cross-covariance between p's and q's axes, and flipped in sign where the matched entry of C is
  negative; then the mean angle as above.
A configuration's value is the mean over all pairs of its runs (the paper: six pairs of four runs).
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

KEY = "alignment_codes"


def principal_axes(z_train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, eigenvalues in decreasing order, eigenvectors as columns, skewness-oriented)."""
    z = np.asarray(z_train, dtype=np.float64)
    mean = z.mean(0)
    values, vectors = np.linalg.eigh(np.cov(z - mean, rowvar=False))
    values, vectors = values[::-1], vectors[:, ::-1]
    signs = np.where(np.mean(((z - mean) @ vectors) ** 3, axis=0) < 0, -1.0, 1.0)
    return mean, values, vectors * signs


def record_codes(z_train: np.ndarray, z_test: np.ndarray, n: int, decimals: int = 4) -> dict:
    """Principal-axis codes of a fixed subset (seed 0) of ``n`` training and ``n`` test items."""
    mean, _, axes = principal_axes(z_train)
    rng = np.random.default_rng(0)
    out = {}
    for name, z in (("train", z_train), ("test", z_test)):
        pick = np.sort(rng.permutation(len(z))[:n])
        out[name] = np.round((np.asarray(z, dtype=np.float64)[pick] - mean) @ axes, decimals).tolist()
    return out


def match(p_train: np.ndarray, q_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(permutation, signs) bringing q's axes onto p's: ``q[:, perm] * signs``."""
    from scipy.optimize import linear_sum_assignment
    cross = (p_train - p_train.mean(0)).T @ (q_train - q_train.mean(0)) / (len(p_train) - 1)
    rows, perm = linear_sum_assignment(np.abs(cross), maximize=True)
    return perm, np.where(cross[rows, perm] < 0, -1.0, 1.0)


def mean_angle_deg(p: np.ndarray, q: np.ndarray) -> float:
    cos = np.sum(p * q, 1) / np.maximum(np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())


def pair_angles(a: dict, b: dict) -> tuple[float, float]:
    """(raw, aligned) mean angles between two runs' stored codes (see :func:`record_codes`)."""
    p_test, q_test = np.asarray(a["test"]), np.asarray(b["test"])
    perm, signs = match(np.asarray(a["train"]), np.asarray(b["train"]))
    return mean_angle_deg(p_test, q_test), mean_angle_deg(p_test, q_test[:, perm] * signs)


def _over_pairs(records: list[dict], which: int) -> float:
    codes = [r["metrics"][KEY] for r in records if KEY in r.get("metrics", {})]
    angles = [pair_angles(a, b)[which] for a, b in combinations(codes, 2)]
    return float(np.mean(angles)) if angles else float("nan")


def angle_raw_deg(records: list[dict]) -> float:
    """Mean raw angle over all pairs of the runs (records of one configuration, several seeds)."""
    return _over_pairs(records, 0)


def angle_aligned_deg(records: list[dict]) -> float:
    """Mean aligned angle over all pairs of the runs."""
    return _over_pairs(records, 1)


CROSS_RUN = {"angle_raw_deg": angle_raw_deg, "angle_aligned_deg": angle_aligned_deg}
