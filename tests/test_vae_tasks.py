"""The variational tasks of Davidson et al., "Hyperspherical Variational Auto-Encoders", UAI 2018,
arXiv:1804.00891: ``mnist_vae`` (§5.2) on a synthetic MNIST and ``vmf_circles`` (§5.1)."""
import math

import pytest
import torch

from regbench import RegbenchError, create_task
from regbench.runner import execute, prepare
from regbench.store import ResultsStore
from regbench.tasks.mnist_vae import binarised
from regbench.tasks.vmf_circles import circle_data, circle_recovery

from _contract import synthetic_environment

TINY_MNIST = {"epochs": 2, "val_size": 20, "eval_size": 20, "iw_samples": 50, "hidden": 8,
              "knn_repeats": 1, "warmup": 0, "patience": 0}
TINY_CIRCLES = {"epochs": 2, "points": 200, "eval_size": 200, "iw_samples": 50, "figures": False}


@pytest.fixture(scope="module", autouse=True)
def synthetic_data(tmp_path_factory):
    with synthetic_environment(tmp_path_factory.mktemp("vae")) as data:
        yield data


def run(task, reg, settings, seed=0):
    record = execute(prepare(task, reg, settings, seed))
    assert record["status"] == "ok", record["error"]
    return {**record["metrics"], **record["info"]}


@pytest.mark.parametrize("task, settings", [("mnist_vae", TINY_MNIST), ("vmf_circles", TINY_CIRCLES)])
@pytest.mark.parametrize("reg, d", [("kl_gauss", 2), ("vmf", 3), ("power_spherical", 3)])
def test_importance_sampled_likelihood_is_above_the_elbo(task, settings, reg, d):
    metrics = run(task, reg, {**settings, "d": d})
    assert metrics["target"] == "posterior"
    assert metrics["test_ll"] >= metrics["test_elbo"]
    assert metrics["test_elbo"] == pytest.approx(metrics["test_re"] - metrics["test_kl"])
    assert metrics["test_kl"] >= 0


@pytest.mark.parametrize("task, settings", [("mnist_vae", TINY_MNIST), ("vmf_circles", TINY_CIRCLES)])
def test_deterministic_codes_record_the_reconstruction_term_only(task, settings):
    for reg in ("none", "eccentric"):
        metrics = run(task, reg, settings)
        assert "test_re" in metrics and "val_re" in metrics
        assert not {"test_ll", "test_elbo", "test_kl", "val_elbo"} & set(metrics)


def test_mnist_training_batches_are_binarised_afresh_and_evaluation_data_fixed():
    x = torch.tensor([[0, 128, 255] * 100], dtype=torch.uint8)
    torch.manual_seed(0)
    first, second = binarised(x), binarised(x)
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)
    assert first[0, 0::3].eq(0).all() and first[0, 2::3].eq(1).all()
    tasks = [create_task("mnist_vae", **TINY_MNIST) for _ in range(2)]
    data = [task.load(None) for task in tasks]
    assert torch.equal(data[0].x_test, data[1].x_test) and torch.equal(data[0].x_val, data[1].x_val)
    assert set(data[0].x_test.unique().tolist()) <= {0.0, 1.0}


def test_kl_warm_up_rises_linearly_over_the_warm_up_epochs():
    from regbench import create_regularizer
    from regbench.tasks._base import RunContext
    task = create_task("vmf_circles", **{**TINY_CIRCLES, "warmup": 4, "batch_size": 50})
    training = task.setup(create_regularizer("kl_gauss"), "posterior", RunContext(seed=0))
    per_epoch = 4  # 200 points, batches of 50
    assert [training.term_schedule(epoch * per_epoch) for epoch in range(6)] == [0, 0.25, 0.5, 0.75, 1, 1]
    assert training.term_schedule(per_epoch - 1) == 0 and training.select == "val_elbo"


@pytest.mark.parametrize("reg", ["vmf", "power_spherical"])
def test_sphere_posteriors_put_the_test_codes_on_the_sphere(reg):
    metrics = run("mnist_vae", reg, {**TINY_MNIST, "d": 4})
    assert metrics["latent.norm_mean"] == pytest.approx(1, abs=1e-6)
    assert metrics["latent.norm_std"] < 1e-6


@pytest.mark.parametrize("task, settings, message", [
    ("mnist_vae", {"d": 1}, "d"), ("mnist_vae", {"val_size": 60000}, "val_size"),
    ("mnist_vae", {"iw_samples": 0}, "iw_samples"), ("mnist_vae", {"warmup": -1}, "warmup"),
    ("mnist_vae", {"batch_size": 0}, "batch_size"), ("vmf_circles", {"kappa": 0}, "kappa"),
    ("vmf_circles", {"points": 1}, "points"), ("vmf_circles", {"noise": -1}, "noise"),
    ("vmf_circles", {"patience": -1}, "patience")])
def test_bad_settings_are_refused_before_any_compute(task, settings, message):
    with pytest.raises(RegbenchError, match=message):
        prepare(task, "kl_gauss", settings)


def test_weight_regularizers_are_refused_by_the_variational_tasks():
    for task in ("mnist_vae", "vmf_circles"):
        with pytest.raises(RegbenchError, match="exposes only posterior, codes"):
            prepare(task, "orthogonal", {})


def test_sphere_posteriors_need_two_dimensions():
    with pytest.raises(RegbenchError, match="d ≥ 2"):
        prepare("vmf_circles", "vmf", {"d": 1})


# vmf_circles


def test_circle_data_is_a_function_of_its_seed_with_three_components():
    x, theta, component = circle_data(3000, kappa=10.0, noise=0.05, seed=0)
    again = circle_data(3000, kappa=10.0, noise=0.05, seed=0)
    assert torch.equal(x, again[0]) and x.shape == (3000, 100)
    assert not torch.equal(x, circle_data(3000, 10.0, 0.05, seed=1)[0])
    assert sorted(component.unique().tolist()) == [0, 1, 2]
    for k, mean in enumerate((0, 2 * math.pi / 3, 4 * math.pi / 3)):
        angles = theta[component == k]
        resultant = torch.polar(torch.ones_like(angles), angles).mean()
        assert abs(float(resultant.angle()) % (2 * math.pi) - mean) < 0.05 or abs(
            float(resultant.angle()) % (2 * math.pi) - mean - 2 * math.pi) < 0.05


@pytest.mark.parametrize("seed", range(4))
def test_circle_recovery_is_one_up_to_rotation_and_reflection_and_low_when_unrelated(seed):
    g = torch.Generator().manual_seed(seed)
    theta = 2 * math.pi * torch.rand(2000, generator=g, dtype=torch.float64)
    shift = float(torch.rand((), generator=g)) * 6
    assert circle_recovery(theta, theta + shift) == pytest.approx(1)
    assert circle_recovery(theta, -theta + shift) == pytest.approx(1)
    assert circle_recovery(theta, 2 * math.pi * torch.rand(2000, generator=g, dtype=torch.float64)) < 0.1


def test_circle_figures_are_written(tmp_path):
    config = prepare("vmf_circles", "vmf", {**TINY_CIRCLES, "figures": True}, 0)
    record = execute(config, results_dir=tmp_path)
    assert record["status"] == "ok"
    ResultsStore(tmp_path).append(record)  # its figures move into place with its record
    folder = tmp_path / "figures" / record["id"]
    assert sorted(record["metrics"]["figures"]) == ["data_latent.png", "learned_latent.png"]
    assert all((folder / name).stat().st_size > 0 for name in record["metrics"]["figures"])
