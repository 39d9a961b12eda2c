"""``coulomb_grid``: the "Grid" data set and test log-likelihood of Sansone, Tiomoko Ali, Sun,
"Coulomb Autoencoders", ECAI 2020, arXiv:1802.03505."""
import math

import numpy as np
import pytest

from regbench import RegbenchError
from regbench.runner import execute, prepare
from regbench.tasks.coulomb_grid import VARIANCE, grid_log_density, grid_means, grid_points, kde_log_likelihood

TINY = {"iterations": 20, "width": 0.125, "test_per_component": 20, "gen_samples": 300, "cv_samples": 100}


def test_grid_points_are_stratified_over_the_25_components():
    points = grid_points(20, np.random.default_rng(0))
    assert points.shape == (500, 2)
    nearest = ((points[:, None] - grid_means()[None]) ** 2).sum(-1).argmin(1)
    assert np.bincount(nearest, minlength=25).tolist() == [20] * 25
    assert sorted(set(grid_means()[:, 0])) == [-21, -10.5, 0, 10.5, 21]
    spread = points - grid_means()[nearest]
    assert spread.var(0) == pytest.approx([VARIANCE] * 2, rel=0.2)


def test_true_log_density_matches_a_loop_over_components():
    x = np.random.default_rng(1).uniform(-25, 25, (30, 2))
    for point, value in zip(x, grid_log_density(x)):
        density = sum(math.exp(-((point - mean) ** 2).sum() / (2 * VARIANCE)) / (2 * math.pi * VARIANCE)
                      for mean in grid_means()) / 25
        assert value == pytest.approx(math.log(density), rel=1e-9, abs=1e-300) if density > 0 else True
    test = grid_points(400, np.random.default_rng(2))
    expected = -(math.log(25) + math.log(2 * math.pi * math.e * VARIANCE))  # no overlap between components
    assert grid_log_density(test).mean() == pytest.approx(expected, abs=0.03)


def test_kde_of_true_samples_approaches_the_true_density_and_penalises_a_wrong_one():
    rng = np.random.default_rng(3)
    test = grid_points(200, rng)
    true = kde_log_likelihood(grid_points(800, rng), grid_points(200, rng), test)[0]
    assert true == pytest.approx(grid_log_density(test).mean(), abs=0.15)
    wrong = rng.normal(0, 12, (20000, 2))
    assert kde_log_likelihood(wrong, rng.normal(0, 12, (5000, 2)), test)[0] < true - 2


@pytest.mark.parametrize("reg, settings", [("coulomb", {}), ("kl_gauss", {"lam": 2}), ("vmf", {}), ("none", {})])
def test_runs_record_the_likelihoods_and_the_true_one(reg, settings):
    record = execute(prepare("coulomb_grid", reg, {**TINY, **settings}))
    assert record["status"] == "ok", record["error"]
    metrics = record["metrics"]
    assert all(math.isfinite(metrics[m]) for m in ("test_ll", "test_ll_fitted", "test_mse", "test_ll_data"))
    assert metrics["test_ll"] < metrics["test_ll_data"]
    if reg == "none":  # no prior: the fitted Gaussian
        assert metrics["test_ll"] == metrics["test_ll_fitted"]


@pytest.mark.parametrize("settings, message", [
    ({"per_component": 0}, "per_component"), ({"test_per_component": 0}, "test_per_component"), ({"width": 0}, "width"),
    ({"iterations": 0}, "iterations"), ({"gen_samples": 1}, "gen_samples")])
def test_bad_settings_are_refused_before_any_compute(settings, message):
    with pytest.raises(RegbenchError, match=message):
        prepare("coulomb_grid", "coulomb", settings)
