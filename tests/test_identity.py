"""A run's identity: task, regularizer, their versions, non-default hyperparameters, seed."""
from pathlib import Path

import pytest

from regbench import Param, RegbenchError, Task, TASKS
from regbench.grid import inline_grid, load_grid
from regbench.runner import prepare, resolve
from regbench.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS, TASKS_DIR = ROOT / "results", ROOT / "tasks"


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


# ---- pinned keys, switches, and the committed studies -----------------------------------------

GOLDEN = [  # (task, regularizer, settings, seed) → (run_key, config_key, none_key), as the
    # committed stores hold them (digits_latent, graph_node, graph_link): a change to the digest
    # or to what identity holds would orphan every committed record
    (("digits_ae", "eccentric", {}, 0), ("a360579dd3aef453", "1945440d37ba3692", "800922894bb4277b")),
    (("cora_node", "none", {}, 0), ("15c574cc9de2ff84", "95c0e49dd9899f0d", "95c0e49dd9899f0d")),
    (("cora_link", "vmf", {"d": 64, "logit_scale": 2.0}, 3),
     ("81ad41cdea947e5f", "ec9296ae6175d480", "748819e2be1181e7")),
]


@pytest.mark.parametrize("config, expected", GOLDEN, ids=[c[0][0] for c in GOLDEN])
def test_run_keys_are_pinned(config, expected):
    resolved = resolve(*config)
    assert (resolved.run_key, resolved.config_key, resolved.fields()["none_key"]) == expected


@pytest.mark.parametrize("task, switches", [
    ("mnist_ae", {"channels_last": True, "figures": False, "layer_geometry": False,
                  "fid_weights": "/somewhere/pt_inception.pth"}),
    ("cifar100_cnn9", {"compile": True, "channels_last": True, "layer_geometry": False}),
    ("vmf_circles", {"figures": False})])
def test_switches_that_cannot_change_a_result_are_not_identity(task, switches, monkeypatch):
    monkeypatch.setattr("regbench.tasks._autoencoder.weights_file", lambda path: None)
    plain, switched = resolve(task, "none", {}), resolve(task, "none", switches)
    assert switched.task_params != plain.task_params  # they are set and recorded
    assert (switched.run_key, switched.identity) == (plain.run_key, plain.identity)
    assert resolve(task, "none", {"lr": 0.5}).run_key != plain.run_key  # a result-changing one is


# Studies committed part-way (results/README.md gives the command that continues each): how many of
# their trials have no ok record yet. Any other count means run identity moved.
PENDING = {}


def committed_studies():
    """(grid file, store) of every study committed with a store in results/."""
    return [(path, RESULTS / path.stem) for path in sorted(TASKS_DIR.glob("*.toml"))
            if (RESULTS / path.stem / "records.jsonl").exists()]


@pytest.mark.parametrize("grid_file, store_dir", committed_studies(),
                         ids=[path.stem for path, _ in committed_studies()])
def test_every_committed_study_resolves_to_its_committed_records(grid_file, store_dir):
    """Each trial of a committed grid has its ok record in the committed store (what
    ``regbench grid <study> --dry-run`` would find all done), from identity alone; a study
    committed part-way misses exactly its pending trials."""
    keys = load_grid(grid_file).run_keys()
    done = {key for key, (status, _) in ResultsStore(store_dir).outcomes().items() if status == "ok"}
    missing = [key for key in keys if key not in done]
    assert len(missing) == PENDING.get(grid_file.stem, 0), (
        f"{len(missing)} of {len(keys)} trials of {grid_file.name} have no ok record")


def test_the_committed_cpu_suite_plans_no_run():
    """Every trial of ``suites/cpu.toml`` (selection, and evaluation at the recorded choices) has
    its record in ``results/suite_cpu``, from identity alone: the committed suite is complete."""
    from regbench.suite import load_suite
    from regbench.suite_run import plan
    selection, evaluation, _ = plan(load_suite(ROOT / "suites" / "cpu.toml"), ResultsStore(RESULTS / "suite_cpu"))
    assert (selection, evaluation) == ([], [])


def test_reading_a_study_plans_no_run(tmp_path, monkeypatch):
    """A leaderboard of a study renders where planning its trials is refused (memory)."""
    from conftest import make_record
    from regbench.leaderboard import study_report
    grid_file = tmp_path / "study.toml"
    grid_file.write_text('[grid]\nname = "study"\ntasks = ["sphere"]\nregularizers = ["none", "eccentric"]\n'
                         'seeds = 2\nmetric = "norm_std"\n[params]\nn = 20\n')
    store = ResultsStore(tmp_path / "store")
    for reg in ("none", "eccentric"):
        for seed in (0, 1):
            store.append(make_record("sphere", reg, seed, {"norm_std": 0.1 + seed}, n=20))
    monkeypatch.setenv("REGBENCH_MEMORY_FRACTION", "1e-12")
    grid = load_grid(grid_file)
    with pytest.raises(RegbenchError, match="needs about"):
        grid.trials()
    markdown, _ = study_report(grid, store)
    assert "| eccentric | n=20 |" in markdown and "| none | n=20 |" in markdown


def test_a_record_names_its_cpu_and_blas_which_are_not_identity(monkeypatch):
    import torch

    from regbench import record
    config = resolve("sphere", "none", {"n": 20}, 0)
    here = record.make_record(config, "cpu", "ok", None)
    assert set(here["hardware"]) == {"cpu", "isa", "blas", "threads"}
    assert here["hardware"]["threads"] == torch.get_num_threads()
    monkeypatch.setattr(record, "_cpu_and_blas", lambda: {"cpu": "Other CPU", "blas": "openblas"})
    elsewhere = record.make_record(config, "cpu", "ok", None)
    assert elsewhere["hardware"]["cpu"] == "Other CPU"
    assert (elsewhere["run_key"], elsewhere["config_key"]) == (here["run_key"], here["config_key"])
