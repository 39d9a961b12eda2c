"""Cross-run alignment angles (§4.2 of Li & Blair, "Eccentric Regularization: Minimizing Hyperspherical
Energy without explicit projection", IJCNN 2022, arXiv:2104.11610) on synthetic codes."""
import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from regbench.metrics.alignment import (angle_aligned_deg, angle_raw_deg, pair_angles, principal_axes,
                                        record_codes)


def skewed_codes(n=3000, d=6, seed=0):
    """Codes with distinct variances and clearly skewed axes (so every axis is identifiable)."""
    rng = np.random.default_rng(seed)
    return rng.gamma(2.0, 1.0, size=(n, d)) * np.linspace(3, 0.5, d)


def test_principal_axes_order_and_orientation():
    z = skewed_codes()
    mean, values, axes = principal_axes(z)
    assert np.all(np.diff(values) < 0)
    assert np.allclose(axes.T @ axes, np.eye(6), atol=1e-10)
    projections = (z - mean) @ axes
    assert np.all(np.mean(projections ** 3, axis=0) > 0)


def test_rotated_run_has_identical_principal_codes():
    z = skewed_codes()
    rotated = z @ ortho_group.rvs(6, random_state=1) + 5.0
    a = record_codes(z[:2000], z[2000:], 500)
    b = record_codes(rotated[:2000], rotated[2000:], 500)
    raw, aligned = pair_angles(a, b)
    assert raw == pytest.approx(0, abs=1e-3) and aligned == pytest.approx(0, abs=1e-3)


def test_permuted_and_sign_flipped_copy_aligns_to_zero():
    a = record_codes(skewed_codes()[:2000], skewed_codes()[2000:], 1000)
    perm, signs = np.array([2, 0, 1, 5, 3, 4]), np.array([1, -1, -1, 1, -1, 1])
    b = {name: (np.asarray(codes)[:, perm] * signs).tolist() for name, codes in a.items()}
    raw, aligned = pair_angles(a, b)
    assert raw > 45
    assert aligned == pytest.approx(0, abs=1e-6)


def test_independent_runs_stay_apart():
    a = record_codes(skewed_codes(seed=0)[:2000], skewed_codes(seed=0)[2000:], 1000)
    b = record_codes(skewed_codes(seed=1)[:2000], skewed_codes(seed=1)[2000:], 1000)
    assert pair_angles(a, b)[1] > 30


def test_cross_run_functions_average_pairs_of_records():
    z = skewed_codes()
    codes = record_codes(z[:2000], z[2000:], 300)
    flipped = {k: (-np.asarray(v)).tolist() for k, v in codes.items()}
    records = [{"metrics": {"alignment_codes": c}} for c in (codes, codes, flipped)]
    assert angle_aligned_deg(records) == pytest.approx(0, abs=1e-6)
    assert angle_raw_deg(records) == pytest.approx(2 * 180 / 3)  # pairs: 0°, 180°, 180°
    assert math.isnan(angle_raw_deg(records[:1]))
