"""Plugins extend regbench without editing it.

- ``tests/plugins/embedding_rows.py``: a new kind of target (``embeddings``, the rows of every
  embedding table, found in ``expose``), a regularizer acting on it and a task exposing it; run
  through the real command line with ``--plugin``, and held to the regularizer and task contracts
  (:mod:`regbench.contract`, as ``regbench check`` runs them) with no new test code.
- ``tests/plugins/old_interface.py``: regularizers written against the older interface (only
  ``forward``, or only ``weight_penalty(layers)``; ``Param`` with bounds), run on
  ``digits_ae``.

In-process tests load a plugin through the ``plugin`` fixture, which removes its classes (and the
metrics it declares) from the global registries afterwards and forgets the module, so that the next
load registers them again.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path

import pytest
import torch

from regbench.contract import checks_of, cites_paper, documentation, outcomes
from regbench.contract import regularizers as reg_contract
from regbench.contract import tasks as task_contract
from regbench.errors import RegbenchError
from regbench.metrics.declared import METRICS
from regbench.registry import (REGULARIZERS, TARGETS, TASKS, create_regularizer, create_task,
                               load_plugin)
from regbench.runner import execute, prepare
from regbench.store import ResultsStore
from regbench.training import Term
from regbench.weights import weight_layers

import test_contract_tasks as tiny
from conftest import registries_restored, run_cli

ROOT = Path(__file__).resolve().parents[1]
EMBEDDING_ROWS = "tests.plugins.embedding_rows"
OLD_INTERFACE = "tests.plugins.old_interface"
REGISTRIES = (REGULARIZERS, TASKS, TARGETS)
DIGITS = {**tiny.TINY["digits_ae"], "train_size": 100, "batch_size": 50}  # two steps


@contextlib.contextmanager
def plugin_loaded(module: str):
    """``module`` imported (re-executed if it was imported before) while the block runs; then its
    classes and metrics are removed from the registries and the module is forgotten."""
    with registries_restored(), pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        try:
            if module in sys.modules:
                importlib.reload(sys.modules[module])
            else:
                load_plugin(module)
            yield sys.modules[module]
        finally:
            sys.modules.pop(module, None)


@pytest.fixture
def plugin():
    """``plugin(module)`` loads a plugin module for the test (see :func:`plugin_loaded`)."""
    with contextlib.ExitStack() as stack:
        yield lambda module: stack.enter_context(plugin_loaded(module))


# ---- a new kind of target ---------------------------------------------------------------------

def cli_record(results: Path, reg: str, *settings: str) -> dict:
    args = ["--plugin", EMBEDDING_ROWS, "run", "--task", "embedding_bag", "--reg", reg,
            "--results", str(results), "--quiet"]
    result = run_cli(*args, *(["--set", *settings] if settings else []), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedding_bag × " + reg in result.stdout
    records = [r for r in ResultsStore(results).records() if r["reg"] == reg]
    assert len(records) == 1
    return records[0]


def test_cli_runs_a_plugin_target_and_the_term_acts(tmp_path):
    spread = cli_record(tmp_path, "embedding_spread")
    plain = cli_record(tmp_path, "none")
    for record in (spread, plain):
        assert record["status"] == "ok" and record["task"] == "embedding_bag"
        assert 0 <= record["metrics"]["test_error"] <= 1
    assert spread["info"]["target"] == "embeddings" and "target" not in plain["info"]
    assert spread["reg_params"] == {"lam": 0.5}  # the target's λ, at the task's default
    assert plain["reg_params"] == {} and plain["metrics"]["penalty"] == 0
    assert spread["metrics"]["penalty"] > 0
    # the term pushed the embedding rows apart: smaller |cos| than the same run without it
    assert spread["metrics"]["embedding_abs_cos"] < 0.75 * plain["metrics"]["embedding_abs_cos"]


def test_cli_without_the_plugin_names_the_unknown_regularizer(tmp_path):
    result = run_cli("run", "--task", "digits_ae", "--reg", "embedding_spread", "--results",
                     str(tmp_path), cwd=ROOT)
    assert result.returncode == 2 and "unknown regularizer 'embedding_spread'" in result.stderr


def test_the_regularizer_gets_lam_from_the_target(plugin):
    plugin(EMBEDDING_ROWS)
    cls = REGULARIZERS.get("embedding_spread")
    assert "lam" not in vars(cls) and cls.params()["lam"] is TARGETS.get("embeddings").lam
    assert create_regularizer("embedding_spread").hparams == {"lam": 1.0}
    assert create_regularizer("embedding_spread", lam="0.25").hparams == {"lam": 0.25}
    with pytest.raises(RegbenchError, match="lam=-1.0 is out of range"):
        create_regularizer("embedding_spread", lam=-1)
    assert prepare("embedding_bag", "embedding_spread").reg_params == {"lam": 0.5}  # task default


def test_lam_scales_the_plugin_term(plugin):
    plugin(EMBEDDING_ROWS)
    settings = {"steps": 5}
    records = {lam: execute(prepare("embedding_bag", "embedding_spread", {**settings, "lam": lam}))
               for lam in (0.0, 0.5, 1.0)}
    plain = execute(prepare("embedding_bag", "none", settings))
    assert all(r["status"] == "ok" for r in [*records.values(), plain])
    same = ("test_error", "embedding_abs_cos", "train_loss")
    assert [records[0.0]["metrics"][m] for m in same] == [plain["metrics"][m] for m in same]
    assert records[0.5]["metrics"]["embedding_abs_cos"] != plain["metrics"]["embedding_abs_cos"]
    # first step's term: λ · penalty (the recorded mean differs because the rows move)
    term = {lam: Term(create_regularizer("embedding_spread", lam=lam), "embeddings")
            for lam in (0.5, 1.0)}
    model = torch.nn.Sequential(torch.nn.Embedding(7, 3))
    assert float(term[0.5](model, {}).detach()) == pytest.approx(0.5 * float(term[1.0](model, {}).detach()))


def failed_checks(regularizers=(), tasks=()) -> list[tuple[str, str]]:
    return [(check.what, why) for check, why in outcomes(checks_of(regularizers, tasks)) if why]


def test_the_plugin_regularizer_meets_the_regularizer_contract(plugin):
    plugin(EMBEDDING_ROWS)
    assert failed_checks(["embedding_spread"]) == []
    for invariance in ("row_permutation", "rotation"):  # a plugin target has none by default
        reg_contract.invariant("embedding_spread", "embeddings", invariance)
    assert cites_paper(documentation(REGULARIZERS.get("embedding_spread")))


def test_the_plugin_task_meets_the_task_contract(plugin):
    plugin(EMBEDDING_ROWS)
    assert task_contract.cases("embedding_bag") == [("embedding_bag", "embedding_spread", "embeddings"),
                                                    ("embedding_bag", "none", None)]
    assert failed_checks(tasks=["embedding_bag"]) == []  # no TINY entry: the tiny runs at its defaults
    assert cites_paper(documentation(TASKS.get("embedding_bag")))


def test_a_task_that_does_not_expose_the_target_refuses_it(plugin):
    plugin(EMBEDDING_ROWS)
    with pytest.raises(RegbenchError, match="acts on embeddings but task 'digits_ae' exposes only"):
        prepare("digits_ae", "embedding_spread")
    with pytest.raises(RegbenchError, match="acts on codes but task 'embedding_bag' exposes only embeddings"):
        prepare("embedding_bag", "eccentric")


def test_loading_a_plugin_twice_and_removing_it():
    names = ("embedding_spread", "embedding_bag", "embeddings")
    with plugin_loaded(EMBEDDING_ROWS) as module:
        first = REGULARIZERS.get("embedding_spread")
        load_plugin(EMBEDDING_ROWS)  # imported already: nothing happens
        assert REGULARIZERS.get("embedding_spread") is first
        reloaded = importlib.reload(module)  # the decorators run again: same origin, no conflict
        assert REGULARIZERS.get("embedding_spread") is reloaded.EmbeddingSpread is not first
        assert TASKS.get("embedding_bag") is reloaded.EmbeddingBagTask
        assert TARGETS.get("embeddings") is reloaded.Embeddings
        assert float(create_regularizer("embedding_spread")
                     .embedding_penalty([reloaded.WeightLayer("t", torch.eye(3), False)])) == 0
    for registry, name in zip(REGISTRIES, names):
        assert name not in registry.names()
    assert "embedding_abs_cos" not in METRICS and EMBEDDING_ROWS not in sys.modules
    with plugin_loaded(EMBEDDING_ROWS):  # and it can be loaded again afterwards
        assert all(name in registry.names() for registry, name in zip(REGISTRIES, names))


# ---- the older interface ----------------------------------------------------------------------

def test_old_interface_regularizers_are_created_with_validated_hyperparameters(plugin):
    plugin(OLD_INTERFACE)
    radius = create_regularizer("old_radius", radius2="2")
    assert radius.hparams == {"radius2": 2.0, "lam": 1.0}  # lam from the codes target
    assert create_regularizer("old_weight_decay").hparams == {"coefficient": 1e-3}  # weights: no λ
    with pytest.raises(RegbenchError, match=r"radius2=0.0 is out of range \(needs radius2 > 0"):
        create_regularizer("old_radius", radius2=0)
    with pytest.raises(RegbenchError, match=r"needs coefficient ≥ 0 and ≤ 1"):
        create_regularizer("old_weight_decay", coefficient=2)
    z = torch.randn(6, 3)
    assert float(radius(z)) == pytest.approx(float((z.pow(2).sum(1) - 2).pow(2).mean()))


def test_old_codes_regularizer_runs_on_digits_with_the_tasks_lam(plugin):
    plugin(OLD_INTERFACE)
    config = prepare("digits_ae", "old_radius", DIGITS)
    assert config.reg_params == {"radius2": 1.0, "lam": 1e-3}  # digits_ae's default λ
    record = tiny.run_and_check("digits_ae", "old_radius", "codes", DIGITS)
    plain = tiny.run_and_check("digits_ae", "none", None, DIGITS)
    off = tiny.run_and_check("digits_ae", "old_radius", "codes", {**DIGITS, "lam": 0.0})
    metrics = ("test_mse", "val_mse", "cov_trace_per_d")
    assert [off["metrics"][m] for m in metrics] == [plain["metrics"][m] for m in metrics]  # λ = 0: no term
    assert record["metrics"]["test_mse"] != plain["metrics"]["test_mse"]
    # λ multiplies the term the loop adds
    z = torch.randn(10, 4)
    terms = [Term(create_regularizer("old_radius", lam=lam), "codes")(None, {"codes": z}) for lam in (1e-3, 1.0)]
    assert float(terms[0]) == pytest.approx(1e-3 * float(terms[1]))
    assert float(terms[1]) == pytest.approx(float(create_regularizer("old_radius")(z)))


def test_old_weight_regularizer_gets_the_models_layers(plugin):
    module = plugin(OLD_INTERFACE)
    module.CALLS.clear()
    record = tiny.run_and_check("digits_ae", "old_weight_decay", "weights", DIGITS)
    assert record["reg_params"] == {"coefficient": 1e-3}
    task = create_task("digits_ae", **DIGITS)
    model = task.build(create_regularizer("old_weight_decay"), "weights", torch.device("cpu"))
    expected = [(layer.name, tuple(layer.rows.shape), layer.final) for layer in weight_layers(model)]
    assert len(expected) == 6 and expected[-1][2] and not any(final for _, _, final in expected[:-1])
    assert module.CALLS == [expected] * 2  # once per training step (2 steps of 50 images)


def test_old_weight_regularizer_term_reaches_the_weights(plugin):
    plugin(OLD_INTERFACE)
    task = create_task("digits_ae", **DIGITS)
    reg = create_regularizer("old_weight_decay", coefficient=0.5)
    model = task.build(reg, "weights", torch.device("cpu"))
    term = Term(reg, "weights")(model, {})
    term.backward()
    for layer in weight_layers(model):
        weight = dict(model.named_modules())[layer.name].weight
        assert torch.allclose(weight.grad, 2 * 0.5 * weight.detach())
