"""Every regularizer minimised alone on the free points of the ``sphere`` task."""
import pytest

from regbench import RegbenchError
from regbench.registry import REGULARIZERS
from regbench.runner import execute, prepare

SMALL = {"n": 60, "d": 6, "steps": 200, "lr": 0.02}


def metrics(reg, **settings):
    record = execute(prepare("sphere", reg, {**SMALL, **settings}, seed=1))
    assert record["status"] == "ok", record["error"]
    return record["metrics"]


@pytest.fixture(scope="module")
def initial():
    """``none`` has zero gradient: the points stay at their random initialisation."""
    return metrics("none")


@pytest.mark.parametrize("reg, settings", [
    ("mhe", {"target": "codes"}),
    ("mhe", {"target": "weights", "kernel": "s1"}),
    ("mhs", {}), pytest.param("mhc", {"steps": 1200}, marks=pytest.mark.slow), ("mgd", {}),
])
def test_uniformity_regularizers_raise_min_angle_and_lower_energy(initial, reg, settings):
    m = metrics(reg, **settings)
    assert m["min_angle_deg"] > initial["min_angle_deg"] + 2
    assert m["energy_s1"] < initial["energy_s1"]


@pytest.mark.parametrize("reg", ["eccentric", "mmd_imq", "coulomb"])
def test_latent_regularizers_spread_points_out_from_the_initial_cloud(initial, reg):
    m = metrics(reg)
    assert m["norm_mean_over_sqrt_d"] > 3 * initial["norm_mean_over_sqrt_d"]


def test_every_code_and_weight_regularizer_runs_on_sphere():
    for name in REGULARIZERS.names():
        if name.startswith("test_"):
            continue
        cls = REGULARIZERS.get(name)
        if {"codes", "weights"} & set(cls.targets):
            record = execute(prepare("sphere", name, {"n": 12, "d": 4, "steps": 3}))
            assert record["status"] == "ok", (name, record["error"])


def test_posterior_regularizer_is_rejected_before_training():
    with pytest.raises(RegbenchError, match="'kl_gauss' acts on posterior but task 'sphere' exposes"):
        prepare("sphere", "kl_gauss")
    with pytest.raises(RegbenchError, match="'eccentric' acts on codes only"):
        prepare("sphere", "eccentric", {"target": "weights"})
