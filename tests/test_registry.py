import pytest
import torch

from regbench import CODES, Param, RegbenchError, Regularizer, create_regularizer, create_task
from regbench.registry import REGULARIZERS, Registry, register_regularizer


def test_unknown_name_lists_available_and_closest():
    with pytest.raises(RegbenchError) as err:
        create_regularizer("eccentirc")
    message = str(err.value)
    assert "did you mean 'eccentric'" in message
    assert "available:" in message and "none" in message
    with pytest.raises(RegbenchError, match="unknown task 'sphear'; did you mean 'sphere'"):
        create_task("sphear")


def test_hyperparameters_are_validated_at_construction():
    assert create_regularizer("eccentric").hparams == {"mu": 1.0, "lam": 1.0}  # λ: its target's
    assert create_regularizer("eccentric", mu="1.5").mu == 1.5
    with pytest.raises(RegbenchError, match=r"mu=0.5 is out of range \(needs mu > 0.5"):
        create_regularizer("eccentric", mu=0.5)
    with pytest.raises(RegbenchError, match="not a valid float"):
        create_regularizer("eccentric", mu="abc")
    with pytest.raises(RegbenchError, match="must be finite"):
        create_regularizer("eccentric", mu="nan")
    with pytest.raises(RegbenchError, match="unknown hyperparameter .* 'lamda'; did you mean 'lam'"):
        create_regularizer("eccentric", lamda=1)
    with pytest.raises(RegbenchError, match="not a valid int"):
        create_task("digits_ae", d=2.5)
    assert create_task("digits_ae", d="4").d == 4


def test_two_owners_of_one_name_fail_naming_both():
    registry = Registry("regularizer", "regbench.test-none")

    @registry.register("twice")
    class First(Regularizer):
        pass

    class Second(Regularizer):
        pass

    with pytest.raises(RegbenchError, match=r"registered twice: by .*First and by .*Second"):
        registry.register("twice")(Second)


def test_entry_point_plugins_are_discovered(tmp_path, monkeypatch):
    (tmp_path / "ep_plugin.py").write_text(
        "import torch\n"
        "from regbench import Regularizer\n"
        "class Mean(Regularizer):\n"
        "    def forward(self, z):\n"
        "        return z.mean()\n")
    dist = tmp_path / "ep_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[regbench.test-plugins]\nmean_code = ep_plugin:Mean\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("regularizer", "regbench.test-plugins")
    assert registry.names() == ["mean_code"]
    assert float(registry.create("mean_code")(torch.ones(3, 2))) == 1.0


def test_broken_entry_point_is_a_clear_error(tmp_path, monkeypatch):
    dist = tmp_path / "broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[regbench.test-broken]\nx = no_such_module_xyz:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegbenchError, match="entry point 'x = no_such_module_xyz:X'.*failed to import"):
        Registry("regularizer", "regbench.test-broken").names()


def test_builtin_registry_lists_targets():
    assert {"none", "eccentric"} <= set(REGULARIZERS.names())
    assert CODES in REGULARIZERS.get("eccentric").targets


def test_params_declared_in_order_with_base_first():
    class Base(Regularizer):
        a = Param(1, "a")

    class Child(Base):
        b = Param(2.0, "b")

    assert list(Child.params()) == ["a", "b", "lam"]  # then the weight of its target (codes)
    assert Child(b=3).hparams == {"a": 1, "b": 3.0, "lam": 1.0}



def test_the_installed_version_is_the_package_version():
    from importlib.metadata import version

    import regbench
    assert version("regbench") == regbench.__version__


def test_a_class_registered_by_a_test_is_there_during_it():
    register_regularizer("test_temporary")(type("Temporary", (Regularizer,), {}))
    assert "test_temporary" in REGULARIZERS.names()


def test_and_gone_after_it():  # conftest's registries_as_before, run in file order after the above
    assert "test_temporary" not in REGULARIZERS.names()
