"""The contract of every registered task: a tiny configuration trains under a regularizer on each
target it exposes (and under ``none``), and its record has status ``ok`` and every metric the task
declares, each with a declared direction.

Parametrised over ``TASKS.names()`` × (the task's ``supports`` + ``none``), ids ``<task>-<reg>``;
a task gets its tiny settings from ``TINY`` (a task without an entry, a plugin's, runs at its
defaults) and, per target, a cheap regularizer from ``REGULARIZER_FOR``. Every dataset is a
synthetic stand-in written by ``tests/_contract.py`` (the real files are never read, so that the
runs are small and the same everywhere). Metrics that a single tiny run cannot have are declared,
with the reason and the evidence that the run skipped them for that reason, in ``NOT_IN_A_TINY_RUN``.
"""
from __future__ import annotations

import math
import re
import sys

import pytest

from regbench.metrics.alignment import KEY as ALIGNMENT_CODES
from regbench.metrics.declared import DIRECTIONS, METRICS
from regbench.registry import REGULARIZERS, TASKS
from regbench.runner import execute, prepare

from _contract import MNIST_TRAIN, synthetic_environment

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

REGULARIZER_FOR = {"codes": "eccentric", "weights": "orthogonal", "posterior": "kl_gauss"}


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

YEAR = re.compile(r"\b(19|20)\d\d\b")
VENUE = re.compile(r"arXiv|NeurIPS|NIPS|ICML|ICLR|AISTATS|UAI|JMLR|ECAI|IJCNN|CVPR|ICCV|ECCV|AAAI|"
                   r"IJCAI|KDD|TPAMI|Proc\.|Journal|Transactions")


def regularizer_for(target: str) -> str:
    """The cheap regularizer of ``REGULARIZER_FOR``, else (a plugin's target) the first registered
    regularizer acting on ``target``."""
    if target in REGULARIZER_FOR:
        return REGULARIZER_FOR[target]
    return next(name for name in REGULARIZERS.names() if target in REGULARIZERS.get(name).targets)


def cases(task: str) -> list[tuple[str, str, str | None]]:
    return [(task, regularizer_for(t), t) for t in TASKS.get(task).supports] + [(task, "none", None)]


CASES = [case for task in TASKS.names() for case in cases(task)]


def run_and_check(task: str, reg: str, target: str | None, settings: dict | None = None) -> dict:
    """Run a tiny configuration through ``prepare`` / ``execute`` and check its record against the
    task's contract; the record."""
    task_cls = TASKS.get(task)
    settings = TINY.get(task, {}) if settings is None else settings
    record = execute(prepare(task, reg, settings))
    assert record["status"] == "ok", f"{task} × {reg}: {record['error']}\n{record['traceback']}"
    metrics = record["metrics"]
    assert record["info"].get("target") == target
    assert not any(isinstance(v, str) for v in metrics.values()), "strings are the run's info"
    assert record["directions"] == list(task_cls.directions().items())
    for metric in task_cls.directions():
        if metric in metrics:
            assert isinstance(metrics[metric], (int, float)) and math.isfinite(metrics[metric]), \
                f"{task} × {reg}: {metric} = {metrics[metric]!r}"
            continue
        assert metric in NOT_IN_A_TINY_RUN, f"{task} × {reg}: the record lacks the declared metric {metric}"
        reason, evidence = NOT_IN_A_TINY_RUN[metric]
        assert evidence(record, task_cls), f"{task} × {reg}: {metric} is missing, but not because it is {reason}"
    return record


@pytest.fixture(scope="module", autouse=True)
def synthetic_data(tmp_path_factory):
    """Synthetic datasets for the module (one intra-op thread: conftest.py's ``one_thread``)."""
    with synthetic_environment(tmp_path_factory.mktemp("contract")) as data:
        yield data


# ---- the tests --------------------------------------------------------------------------------

def test_declarations_name_registered_tasks_and_declared_metrics():
    assert set(TINY) <= set(TASKS.names()), set(TINY) - set(TASKS.names())
    assert set(NOT_IN_A_TINY_RUN) <= set(METRICS)
    assert all(target in REGULARIZERS.get(reg).targets for target, reg in REGULARIZER_FOR.items())


@pytest.mark.parametrize("task", TASKS.names())
def test_metric_directions_are_declared(task):
    task_cls = TASKS.get(task)
    for metric, direction in task_cls.directions().items():
        assert metric in METRICS, f"task '{task}' records '{metric}', which declared.py does not declare"
        assert direction in DIRECTIONS and direction == METRICS[metric].direction
    for metric in task_cls.cross_run_metrics:
        assert metric in METRICS, f"task '{task}': cross-run metric '{metric}' is not declared"


@pytest.mark.parametrize("task", TASKS.names())
def test_module_docstring_cites_a_paper(task):
    doc = sys.modules[TASKS.get(task).__module__].__doc__ or ""
    assert YEAR.search(doc) and VENUE.search(doc), \
        f"the module of task '{task}' does not cite its paper (a year and arXiv or a venue)"


@pytest.mark.parametrize("task, reg, target", CASES, ids=[f"{t}-{r}" for t, r, _ in CASES])
def test_tiny_run_records_every_declared_metric(task, reg, target):
    run_and_check(task, reg, target)
