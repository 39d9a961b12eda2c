import math

import pytest
import torch

from regbench import CODES, RegbenchError, Regularizer, register_regularizer
from regbench.runner import execute, prepare


class NanRegularizer(Regularizer):
    """Finite on the first call, NaN afterwards (a diverging trial)."""
    targets = (CODES,)
    calls = 0

    def forward(self, z):
        NanRegularizer.calls += 1
        return z.sum() * (1.0 if NanRegularizer.calls == 1 else float("nan"))


class RaisingRegularizer(Regularizer):
    targets = (CODES,)

    def forward(self, z):
        raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def failing_regularizers():
    """Registered for each test (conftest removes them after it)."""
    register_regularizer("test_nan_after_first")(NanRegularizer)
    register_regularizer("test_raises")(RaisingRegularizer)


def test_sphere_eccentric_reaches_radius_sqrt_d_and_minimum_loss():
    record = execute(prepare("sphere", "eccentric", {"mu": 1}, seed=0))
    assert record["status"] == "ok"
    metrics = record["metrics"]
    assert abs(metrics["norm_mean_over_sqrt_d"] - 1) < 0.01
    assert abs(metrics["loss_per_d"] / (1 - 2 * math.log(2)) - 1) < 0.01


def test_same_config_and_seed_give_identical_metrics():
    config = prepare("digits_ae", "eccentric", {"epochs": 3}, seed=7)
    first, second = execute(config), execute(config)
    assert first["metrics"] == second["metrics"]
    assert first["run_key"] == second["run_key"] and first["id"] != second["id"]
    other_seed = execute(prepare("digits_ae", "eccentric", {"epochs": 3}, seed=8))
    assert other_seed["metrics"] != first["metrics"]


def test_record_has_resolved_hyperparameters_versions_and_device():
    record = execute(prepare("digits_ae", "none", {"epochs": "1", "d": "4"}, seed=1))
    assert record["task_params"]["d"] == 4 and "lam" not in record["task_params"]
    assert record["reg_params"] == {}  # none has no λ
    ecc = prepare("digits_ae", "eccentric", {"epochs": "1"}, seed=1)
    assert ecc.reg_params["lam"] == 1e-3  # the task's default λ, the regularizer's hyperparameter
    assert set(record["versions"]) == {"python", "torch", "regbench", "git_commit", "cuda", "platform"}
    assert record["device"].startswith("cpu") and record["wall_time_s"] > 0
    assert {"test_mse", "cov_trace_per_d", "eccentricity", "knn_error"} <= set(record["metrics"])
    curve = record["metrics"]["curve"]  # what the loop reported per epoch
    assert curve["step"] == [0] and len(curve["train_loss"]) == len(curve["val_mse"]) == 1


def test_regularizer_shrinks_latent_trace_towards_d():
    plain = execute(prepare("digits_ae", "none", {"epochs": 15}, seed=0))["metrics"]
    ecc = execute(prepare("digits_ae", "eccentric", {"epochs": 15, "lam": 1e-2}, seed=0))["metrics"]
    assert abs(ecc["cov_trace_per_d"] - 1) < abs(plain["cov_trace_per_d"] - 1)
    assert abs(ecc["cov_trace_per_d"] - 1) < 0.3


def test_non_finite_loss_is_recorded_as_diverged_with_its_epoch():
    NanRegularizer.calls = 0
    record = execute(prepare("digits_ae", "test_nan_after_first", {"epochs": 2}))
    assert record["status"] == "diverged"
    assert "epoch 0" in record["error"]


def test_exception_is_recorded_as_failed():
    record = execute(prepare("sphere", "test_raises", {"steps": 2}))
    assert record["status"] == "failed"
    assert "RuntimeError: boom" in record["error"] and "Traceback" in record["traceback"]


def test_setting_routing_and_ambiguity():
    config = prepare("sphere", "eccentric", {"task.d": 4, "reg.mu": 3})
    assert config.reg_params == {"mu": 3.0, "lam": 1.0} and config.task_params["d"] == 4
    with pytest.raises(RegbenchError, match="sets both 'mu' and 'reg.mu': give each hyperparameter once"):
        prepare("sphere", "eccentric", {"mu": 2, "task.d": 4, "reg.mu": 3})
    with pytest.raises(RegbenchError, match="unknown hyperparameter .* 'steeps'; did you mean 'steps'"):
        prepare("sphere", "eccentric", {"steeps": 3})
    with pytest.raises(RegbenchError, match="seed must be a non-negative integer"):
        prepare("sphere", "eccentric", seed=-1)
