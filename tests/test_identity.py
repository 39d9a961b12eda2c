"""A run's identity: task, regularizer, their versions, non-default hyperparameters, seed."""
import pytest

from regbench import Param, Task, TASKS
from regbench.grid import inline_grid
from regbench.runner import prepare


@pytest.fixture
def growing_task():
    """A task registered for the test only (removed from the registry afterwards)."""
    @TASKS.register("test_growing")
    class Growing(Task):
        """A task whose next version gains a hyperparameter."""
        width = Param(4, "width", check=lambda v: v >= 1, rule="≥ 1")
    yield Growing
    del TASKS._classes["test_growing"]


def test_adding_a_parameter_with_a_default_keeps_every_key(growing_task):
    before = prepare("test_growing", "eccentric", {"width": 8, "mu": 1.5}, seed=3)
    before.identity  # computed with the class as it was
    growing_task.depth = Param(2, "a new hyperparameter", check=lambda v: v >= 1, rule="≥ 1")
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
    assert config.identity["params"] == {"task": {"lam": 0.01}, "reg": {}}  # mu=1, epochs=60: defaults
    assert config.fields()["seed"] == 2
    other_seed = prepare("digits_ae", "eccentric", {"lam": 0.01}, seed=3)
    assert other_seed.config_key == config.config_key and other_seed.run_key != config.run_key


def test_a_default_derived_from_another_parameter_is_not_a_change():
    derived = prepare("cifar100_cnn9", "mhe", {"kernel": "s1"}, check_data=False)
    explicit = prepare("cifar100_cnn9", "mhe", {"kernel": "s1", "lam_hidden": derived.reg_params[
        "lam_hidden"]}, check_data=False)
    assert derived.identity["params"]["reg"] == {"kernel": "s1"}
    assert explicit.run_key == derived.run_key


def test_none_ignores_the_weight_and_target_it_does_not_use():
    keys = {prepare("digits_ae", "none", {"lam": lam}, seed=0).run_key for lam in (1e-3, 1.0, 0.0)}
    assert len(keys) == 1
    assert prepare("digits_ae", "none", {"d": 4}).run_key != keys.pop()
    eccentric = {prepare("digits_ae", "eccentric", {"lam": lam}).run_key for lam in (1e-3, 1.0)}
    assert len(eccentric) == 2


def test_none_key_points_at_the_baseline_configuration():
    kl = prepare("digits_ae", "kl_gauss", {"lam": 1.0, "target": "posterior", "d": 4}, seed=1)
    none = prepare("digits_ae", "none", {"d": 4}, seed=1)
    assert kl.fields()["none_key"] == none.config_key == none.fields()["none_key"]


def test_a_grid_over_lambda_schedules_none_once_per_seed():
    grid = inline_grid(["digits_ae"], ["none", "eccentric"], {"lam": "0.001,0.01"}, seeds=[0, 1])
    trials = grid.trials()
    assert sum(t.reg == "none" for t in trials) == 2
    assert sum(t.reg == "eccentric" for t in trials) == 4
