"""The contract of every registered task (:mod:`regbench.contract.tasks` defines each check;
``regbench check`` runs the same): its targets are known and it builds, its metrics are declared
with a direction, it has a docstring (a built-in one cites its paper), and a tiny configuration
trains under a regularizer on each target it exposes (and under ``none``), its record ``ok`` with
every metric the task declares.

Parametrised over the tasks under contract (``TASKS.names()``, or a plugin's alone under
``pytest --regbench-plugin MODULE``) × (the task's ``supports`` + ``none``), ids ``<task>-<reg>``;
a task gets its tiny settings from ``TINY`` (a task without an entry, a plugin's, runs at its
defaults) and, per target, a cheap regularizer (``regbench.contract.tasks.CHEAP``). Every dataset is a
synthetic stand-in written by ``tests/_contract.py`` (the real files are never read, so that the
runs are small and the same everywhere). Metrics that a single tiny run cannot have are declared,
with the reason and the evidence that the run skipped them for that reason, in ``NOT_IN_A_TINY_RUN``.
"""
from __future__ import annotations

import pytest

from regbench.contract import cites_paper, documentation, documented
from regbench.contract import tasks as contract
from regbench.metrics.alignment import KEY as ALIGNMENT_CODES
from regbench.metrics.declared import METRICS
from regbench.registry import REGULARIZERS, TASKS

from _contract import MNIST_TRAIN, synthetic_environment
from conftest import builtin, under_contract

# ---- declarations -----------------------------------------------------------------------------

_AE = {"epochs": 1, "train_size": 20, "batch_size": 10, "eval_size": 20, "d": 4, "gen_samples": 8,
       "align_samples": 4, "figures": False, "layer_geometry": False}
TINY: dict[str, dict] = {
    "digits_ae": _AE,
    "mnist_ae": {**_AE, "knn_repeats": 1, "val_size": 10},
    "celeba_ae": {**_AE, "train_size": 2, "batch_size": 2, "gen_samples": 4},
    "cifar100_cnn9": {"iterations": 2, "batch_size": 8, "check_every": 2, "test_size": 8, "val_size": 8},
    "cifar100_resnet18": {"iterations": 2, "batch_size": 8, "check_every": 2, "test_size": 8,
                          "val_size": 8},
    **{f"{graph}_node": {"epochs": 2} for graph in ("cora", "citeseer", "pubmed")},
    **{f"{graph}_link": {"epochs": 2, "d": 4, "reg_nodes": 64} for graph in ("cora", "citeseer", "pubmed")},
    "sphere": {"n": 12, "d": 4, "steps": 3},
    "mnist_vae": {"epochs": 1, "val_size": 20, "eval_size": 10, "iw_samples": 3, "hidden": 8,
                  "d": 3, "knn_repeats": 1},
    "vmf_circles": {"epochs": 1, "points": 40, "eval_size": 10, "iw_samples": 3, "figures": False},
    "coulomb_grid": {"iterations": 2, "width": 0.0625, "test_per_component": 2, "gen_samples": 40,
                     "cv_samples": 20, "val_per_component": 2},
    "digits_mlp": {"epochs": 1, "hidden": 8},
    "mnist_cnn": {"epochs": 1, "width": 0.0625, "train_size": 20, "val_size": 10, "test_size": 10},
}


def _fid_skipped(record, task_cls) -> bool:
    return "FID skipped" in record["info"].get("fid_note", "")


def _cross_run(metric):
    return lambda record, task_cls: (metric in task_cls.cross_run_metrics
                                     and ALIGNMENT_CODES in record["metrics"])


def _knn_size_beyond_pool(metric):
    size = int(metric.rsplit("_", 1)[1])
    return lambda record, task_cls: size > MNIST_TRAIN


_NO_FID = ("needs pytorch-fid's Inception weights (fid_weights / $REGBENCH_FID_WEIGHTS), an optional "
           "input; without them the task skips FID and says so in its info's fid_note")
_CROSS_RUN = ("a cross-run metric (Task.cross_run_metrics): the leaderboard computes it from the "
              "alignment codes of several seeds; a run records those codes (alignment_codes)")
_KNN = (f"a KNN protocol size larger than the {MNIST_TRAIN} labelled codes of the synthetic MNIST: "
        f"metrics.downstream.knn_protocol leaves such sizes out")

_POSTERIOR_ONLY = ("a variational task's likelihood, ELBO and KL need a posterior (a stochastic encoder); a "
                   "run with deterministic codes (a code regularizer or none) records the reconstruction "
                   "term (test_re, val_re) only")


def _deterministic(record, task_cls) -> bool:
    return record["info"].get("target") != "posterior" and "test_re" in record["metrics"]


# metric → (reason, evidence(record, task class) that the run left it out for that reason)
NOT_IN_A_TINY_RUN = {
    "fid": (_NO_FID, _fid_skipped),
    "fid_normal": (_NO_FID, _fid_skipped),
    "angle_raw_deg": (_CROSS_RUN, _cross_run("angle_raw_deg")),
    "angle_aligned_deg": (_CROSS_RUN, _cross_run("angle_aligned_deg")),
    **{f"knn_error_{n}": (_KNN, _knn_size_beyond_pool(f"knn_error_{n}")) for n in (600, 1000, 10000, 60000)},
    **{metric: (_POSTERIOR_ONLY, _deterministic) for metric in ("test_ll", "test_elbo", "test_kl", "val_elbo")},
}

NAMES = under_contract(TASKS)
CASES = [case for task in NAMES for case in contract.cases(task)]


def excused(metric: str, record: dict) -> bool:
    """Whether a tiny run left out ``metric`` for its declared reason (:data:`NOT_IN_A_TINY_RUN`)."""
    return metric in NOT_IN_A_TINY_RUN and NOT_IN_A_TINY_RUN[metric][1](record, TASKS.get(record["task"]))


def run_and_check(task: str, reg: str, target: str | None, settings: dict | None = None) -> dict:
    """A tiny configuration's record, checked against the task's contract."""
    return contract.tiny_run(task, reg, target, TINY.get(task, {}) if settings is None else settings,
                             excused)


@pytest.fixture(scope="module", autouse=True)
def synthetic_data(tmp_path_factory):
    """Synthetic datasets for the module (one intra-op thread: conftest.py's ``one_thread``)."""
    with synthetic_environment(tmp_path_factory.mktemp("contract")) as data:
        yield data


# ---- the tests --------------------------------------------------------------------------------

def test_declarations_name_registered_tasks_and_declared_metrics():
    assert set(TINY) <= set(TASKS.names()), set(TINY) - set(TASKS.names())
    assert set(NOT_IN_A_TINY_RUN) <= set(METRICS)
    assert all(target in REGULARIZERS.get(reg).targets for target, reg in contract.CHEAP.items())


@pytest.mark.parametrize("task", NAMES)
def test_targets_are_known_and_it_builds(task):
    contract.known_targets(task)
    contract.hyperparameters(task)


@pytest.mark.parametrize("task", NAMES)
def test_metric_directions_are_declared(task):
    contract.metrics_declared(task)


@pytest.mark.parametrize("task", NAMES)
def test_documented(task):
    documented(TASKS.get(task))


@pytest.mark.parametrize("task", [name for name in NAMES if builtin(TASKS.get(name))])
def test_docstrings_cite_a_paper(task):
    assert cites_paper(documentation(TASKS.get(task))), \
        f"the module of task '{task}' does not cite its paper in its module's or class's docstring (a year and arXiv or a venue)"


@pytest.mark.parametrize("task, reg, target", CASES, ids=[f"{t}-{r}" for t, r, _ in CASES])
def test_tiny_run_records_every_declared_metric(task, reg, target):
    run_and_check(task, reg, target)
