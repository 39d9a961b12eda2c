"""A run's identity: task, regularizer, their versions, non-default hyperparameters, seed."""
import pytest

from regbench import Param, RegbenchError, Task, TASKS
from regbench.grid import inline_grid
from regbench.runner import prepare


@pytest.fixture
def growing_task():
    """A task registered for the test only (removed from the registry afterwards)."""
    @TASKS.register("test_growing")
    class Growing(Task):
        """A task whose next version gains a hyperparameter."""
        width = Param(4, "width", ge=1)
    yield Growing  # conftest removes it from the registry after the test


def test_adding_a_parameter_with_a_default_keeps_every_key(growing_task):
    before = prepare("test_growing", "eccentric", {"width": 8, "mu": 1.5}, seed=3)
    before.identity  # computed with the class as it was
    growing_task.depth = Param(2, "a new hyperparameter", ge=1)
    growing_task.depth.__set_name__(growing_task, "depth")
    after = prepare("test_growing", "eccentric", {"width": 8, "mu": 1.5}, seed=3)
    assert after.task_params == {**before.task_params, "depth": 2}
    assert (after.run_key, after.config_key) == (before.run_key, before.config_key)
    assert prepare("test_growing", "eccentric", {"width": 8, "mu": 1.5, "depth": 3}, 3).run_key \
        != before.run_key


def test_a_version_bump_separates_runs(growing_task):
    before = prepare("test_growing", "none", {}, seed=0).run_key
    growing_task.version = 2
    after = prepare("test_growing", "none", {}, seed=0)
    assert after.run_key != before and after.identity["task_version"] == 2


def test_identity_holds_exactly_the_non_default_values():
    config = prepare("digits_ae", "eccentric", {"lam": 0.01, "mu": 1.0, "epochs": 60}, seed=2)
    assert config.identity["params"] == {"task": {}, "reg": {"lam": 0.01}}  # mu=1, epochs=60: defaults
    assert config.fields()["seed"] == 2
    other_seed = prepare("digits_ae", "eccentric", {"lam": 0.01}, seed=3)
    assert other_seed.config_key == config.config_key and other_seed.run_key != config.run_key


def test_a_default_derived_from_another_parameter_is_not_a_change():
    derived = prepare("cifar100_cnn9", "mhe", {"kernel": "s1"}, check_data=False)
    explicit = prepare("cifar100_cnn9", "mhe", {"kernel": "s1", "lam_hidden": derived.reg_params[
        "lam_hidden"]}, check_data=False)
    assert derived.identity["params"]["reg"] == {"kernel": "s1"}
    assert explicit.run_key == derived.run_key


def test_none_has_no_weight_or_target_and_lambda_belongs_to_the_regularizer():
    with pytest.raises(RegbenchError, match="'none' acts on nothing, so it has no lam"):
        prepare("digits_ae", "none", {"lam": 1.0})
    with pytest.raises(RegbenchError, match="'none' acts on nothing"):
        prepare("digits_ae", "none", {"target": "codes"})
    eccentric = {prepare("digits_ae", "eccentric", {"lam": lam}).run_key for lam in (1e-3, 1.0)}
    assert len(eccentric) == 2
    default = prepare("digits_ae", "eccentric", {})
    assert default.reg_params["lam"] == 1e-3 and default.identity["params"]["reg"] == {}
    assert default.run_key == prepare("digits_ae", "eccentric", {"lam": 1e-3}).run_key
    assert prepare("celeba_ae", "eccentric", {}, check_data=False).reg_params["lam"] == 1e-4


def test_none_key_points_at_the_baseline_configuration():
    kl = prepare("digits_ae", "kl_gauss", {"lam": 1.0, "d": 4}, seed=1)
    none = prepare("digits_ae", "none", {"d": 4}, seed=1)
    assert kl.fields()["none_key"] == none.config_key == none.fields()["none_key"]


def test_a_grid_over_lambda_schedules_none_once_per_seed():
    grid = inline_grid(["digits_ae"], ["none", "eccentric"], {"lam": "0.001,0.01"}, seeds=[0, 1])
    trials = grid.trials()
    assert sum(t.reg == "none" for t in trials) == 2
    assert sum(t.reg == "eccentric" for t in trials) == 4
