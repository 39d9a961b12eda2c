import math

import pytest
import torch

from regbench.geometry import describe, describe_layers, effective_rank, eccentricity
from regbench.regularizers._base import WeightLayer


def test_orthonormal_rows_are_uniform_and_orthogonal():
    m = describe(torch.eye(6))
    assert m["min_angle_deg"] == pytest.approx(90) and m["mean_angle_deg"] == pytest.approx(90)
    assert m["orth_dev"] == pytest.approx(0, abs=1e-9)
    # every pair has cosine 0 → squared chord 2 (for ŵ = w/sqrt(1 + 1e-4), c = 0 exactly)
    assert m["energy_s0"] == pytest.approx(-math.log(2))
    assert m["energy_s1"] == pytest.approx(2 ** -0.5)
    assert m["energy_s2"] == pytest.approx(0.5)
    assert m["norm_mean"] == pytest.approx(1) and m["norm_std"] == pytest.approx(0)


def test_spectrum_metrics_against_direct_computation():
    z = torch.randn(500, 4, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    m = describe(z, spectrum=True)
    cov = torch.cov(z.T)
    eig = torch.linalg.eigvalsh(cov)
    assert m["cov_trace"] == pytest.approx(float(cov.trace()))
    assert m["spectrum"] == pytest.approx(sorted(eig.tolist(), reverse=True))
    expected_ecc = float(eig.std(unbiased=False) / eig.mean())
    assert m["eccentricity"] == pytest.approx(expected_ecc)
    p = eig / eig.sum()
    assert m["effective_rank"] == pytest.approx(float(torch.exp(-(p * p.log()).sum())))


def test_isotropic_spectrum_has_full_effective_rank_and_no_eccentricity():
    flat = torch.ones(5, dtype=torch.float64)
    assert effective_rank(flat) == pytest.approx(5)
    assert eccentricity(flat) == pytest.approx(0)


def test_mmd_to_normal_separates_prior_from_shifted():
    torch.manual_seed(1)
    prior = describe(torch.randn(400, 8))["mmd_normal"]
    shifted = describe(torch.randn(400, 8) + 2)["mmd_normal"]
    assert abs(prior) < 0.02 < shifted


def test_coincident_and_zero_vectors_stay_finite():
    z = torch.zeros(5, 3)
    z[3:] = 1.0
    m = describe(z)
    assert all(math.isfinite(v) for v in m.values())


def test_layer_diagnostics_average_over_layers():
    layers = [WeightLayer("a", torch.eye(3), False), WeightLayer("b", torch.randn(4, 3), True)]
    out = describe_layers(layers)
    assert set(out["layers"]) == {"a", "b"}
    assert out["weights.min_angle_deg"] == pytest.approx(
        (out["layers"]["a"]["min_angle_deg"] + out["layers"]["b"]["min_angle_deg"]) / 2)


def test_spectrum_with_fewer_rows_than_dimensions_matches_full_covariance():
    from regbench.geometry import covariance_spectrum
    z = torch.randn(5, 9, dtype=torch.float64)
    full = torch.linalg.eigvalsh(torch.cov(z.T)).flip(0).clamp_min(0)
    assert torch.allclose(covariance_spectrum(z), full, atol=1e-12)


def test_overflowing_rows_give_nan_spectrum_instead_of_an_error():
    z = torch.randn(20, 4, dtype=torch.float64)
    z[3] = 1e200  # its outer product overflows float64
    metrics = describe(z)
    assert math.isnan(metrics["eccentricity"]) and math.isnan(metrics["cov_trace"])
