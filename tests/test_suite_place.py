"""A regularizer or task the suite lacks (the example plugins) placed in a tiny suite whose runs a
"committed" store already holds (made-up records of every cell): only the placed one's runs are to
run, the others are reused read-only and copied into the user's own store, the committed store is
left byte for byte, and the report ranks the newcomer, marked, with its documentation. A plugin
that breaks the contract is refused before anything runs."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from conftest import make_record, run_cli
from regbench.errors import RegbenchError
from regbench.store import ResultsStore
from regbench.suite import load_suite
from regbench.suite_place import place
from regbench.suite_reuse import ReadOnlyStore, stale
from regbench.suite_run import choices, plan
from test_plugins import plugin_loaded
from test_suite import write

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ("examples.my_regularizer", "examples.my_task")
SUITE = """
[suite]
name = "small"
description = "A small suite."
factors = [1.0, 10.0]
selection_seeds = [100]
evaluation_seeds = 3

[family.codes]
regularizers = ["none", "eccentric", "mmd_imq"]
coefficients = ["lam"]
tasks = ["digits_ae", "coulomb_grid"]

[task.digits_ae]
metric = "test_mse"
select = "val_mse"
seconds = 2
params = { epochs = 1, d = 4, train_size = 100, eval_size = 50, align_samples = 0, figures = false, layer_geometry = false }

[task.coulomb_grid]
metric = "test_ll"
select = "val_ll"
seconds = 2
params = { iterations = 5, width = 0.0625, test_per_component = 2, gen_samples = 40, cv_samples = 20, val_per_component = 2 }
"""
METRICS = {"digits_ae": ("val_mse", "test_mse", 0.05), "coulomb_grid": ("val_ll", "test_ll", -3.0)}
OFFSET = {"none": 0.0, "eccentric": -0.002, "mmd_imq": 0.001}


def made_up(trial) -> dict:
    """A record of ``trial`` with made-up metrics (a little apart per regularizer and seed)."""
    val, test, base = METRICS[trial.config.task]
    value = base + OFFSET[trial.config.reg] + 0.0005 * trial.config.seed + 0.001 * (trial.factor or 0)
    settings = {**{f"task.{k}": v for k, v in trial.config.task_params.items()},
                **{f"reg.{k}": v for k, v in trial.config.reg_params.items()}}
    return make_record(trial.config.task, trial.config.reg, trial.config.seed,
                       {val: value, test: value}, **settings)


def committed(tmp_path: Path) -> tuple[Path, Path]:
    """(the suite file, a store holding every run of it: made-up, finished)."""
    path = tmp_path / "small.toml"
    path.write_text(SUITE)
    suite = load_suite(path)
    store = ResultsStore(tmp_path / "committed")
    for trial in suite.selection_trials():
        store.append(made_up(trial))
    for trial in suite.evaluation_trials(choices(suite, store)):
        store.append(made_up(trial))
    for index in store.directory.glob("records.index.sqlite*"):  # as from git: no index
        index.unlink()
    return path, store.directory


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``, with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def examples():
    with plugin_loaded(PLUGINS[0]), plugin_loaded(PLUGINS[1]):
        yield


def placed_plan(tmp_path, regs=(), tasks=()):
    path, source = committed(tmp_path)
    before = snapshot(source)
    suite = place(load_suite(path), list(regs), list(tasks))
    selection, evaluation, lines = plan(suite, ResultsStore(tmp_path / "own"), reused=[ReadOnlyStore(source)])
    assert snapshot(source) == before  # read-only: not even an index is written there
    return suite, selection, evaluation, "\n".join(lines)


def test_a_placed_regularizer_runs_only_its_own_trials(tmp_path):
    with examples():
        suite, selection, evaluation, text = placed_plan(tmp_path, regs=["coding_rate"])
    assert suite.added == {"coding_rate": "regularizer"}
    assert suite.families[0].regularizers[-1] == "coding_rate"
    assert {(t.config.task, t.config.reg) for t in selection} == {("digits_ae", "coding_rate"),
                                                                 ("coulomb_grid", "coding_rate")}
    assert len(selection) == 2 * 2 and evaluation == []  # its choice is still open
    lams = sorted(t.config.reg_params["lam"] for t in selection if t.config.task == "digits_ae")
    assert lams == pytest.approx([1e-3, 1e-2])  # the suite's factors × digits_ae's λ
    assert "placed: regularizer coding_rate: 10 trials of its own (0 recorded)" in text
    assert "the rest of the suite: 26 trials, 26 recorded (reused), 0 not recorded" in text


def test_a_placed_task_runs_every_regularizer_of_its_family_on_it(tmp_path):
    with examples():
        suite, selection, evaluation, text = placed_plan(tmp_path, tasks=["rings_ae"])
        assert suite.families[0].tasks == ["digits_ae", "coulomb_grid", "rings_ae"]  # ranked
        spec = suite.tasks["rings_ae"]
        assert (spec.metric, spec.select, spec.params) == ("test_mse", "val_mse", {})
    assert {(t.config.task, t.config.reg) for t in selection} == {("rings_ae", "eccentric"),
                                                                 ("rings_ae", "mmd_imq")}
    assert {(t.config.reg, t.config.seed) for t in evaluation} == {("none", s) for s in range(3)}
    assert "placed: task rings_ae: 13 trials of its own (0 recorded)" in text
    assert "a run of rings_ae priced at 0.4 s until one is recorded" in text  # its class's estimate


def test_a_placed_task_without_an_estimate_is_priced_at_a_minute_a_run(tmp_path, monkeypatch):
    from regbench import TASKS
    with examples():
        monkeypatch.setattr(TASKS.get("rings_ae"), "seconds", None)
        *_, text = placed_plan(tmp_path, tasks=["rings_ae"])
    assert "a run of rings_ae priced at 60 s until one is recorded" in text
    with examples():
        monkeypatch.setattr(TASKS.get("rings_ae"), "seconds", -1)
        with pytest.raises(RegbenchError, match="--task rings_ae: seconds must be a positive number, not -1"):
            placed_plan(tmp_path, tasks=["rings_ae"])


def test_what_cannot_be_placed_is_refused_with_the_reason(tmp_path):
    suite = load_suite(write(tmp_path))
    with pytest.raises(RegbenchError, match="suite tiny has it already"):
        place(suite, ["eccentric"])
    with plugin_loaded("tests.plugins.embedding_rows"), pytest.raises(
            RegbenchError, match=r"acts on embeddings; the families of suite tiny act on codes: codes, posterior; "
                                 r"weights: weights"):
        place(suite, ["embedding_spread"])
    with plugin_loaded("tests.plugins.old_interface"), pytest.raises(
            RegbenchError, match=r"has none of its coefficients lam_hidden, lam_final \(subclass "
                                 r"regbench.WeightRegularizer\)"):
        place(suite, ["old_weight_decay"])
    with examples():  # a regularizer of each family and a task of both
        placed = place(suite, ["coding_rate", "filter_coding_rate"], ["rings_ae"])
    assert [f.regularizers[-1] for f in placed.families] == ["coding_rate", "filter_coding_rate"]
    assert all("rings_ae" in f.tasks for f in placed.families)


def test_runs_recorded_at_another_version_are_not_reused(tmp_path):
    path, source = committed(tmp_path)
    lines = (source / "records.jsonl").read_text().splitlines()
    aged = [json.loads(line) for line in lines]
    for record in aged:
        if record["task"] == "digits_ae":  # digits_ae's runs as of a version before this one
            record.update(task_version=0, run_key="old" + record["run_key"][3:])
    (source / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in aged))
    suite = load_suite(path)
    reused = [ReadOnlyStore(source)]
    selection, evaluation, _ = plan(suite, ResultsStore(tmp_path / "own"), reused=reused)
    assert {t.config.task for t in selection + evaluation} == {"digits_ae"}
    assert stale(selection + evaluation, reused) == [f"{len(selection) + len(evaluation)} of task "
                                                     f"digits_ae, recorded at version 0 (now 1)"]


def test_a_plugin_that_breaks_the_contract_is_refused_before_anything_runs(tmp_path):
    path, source = committed(tmp_path)
    own = tmp_path / "own"
    done = run_cli("suite", str(path), "--plugin", "tests.plugins.broken", "--reg", "nan_gradient",
                   "--reg", "unknown_target", "--reuse", str(source), "--results", str(own), cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("the contract does not hold, so nothing was run: regularizer 'nan_gradient': finite at "
            "zero rows on codes: a gradient is NaN or infinite with zero rows") in done.stderr
    assert ("regularizer 'unknown_target': declares targets regbench knows: unknown_target declares "
            "targets 'latent', which regbench does not know") in done.stderr
    assert not own.exists() and done.stdout == ""


def test_the_reused_store_is_never_the_one_written(tmp_path):
    path, source = committed(tmp_path)
    done = run_cli("suite", str(path), "--plugin", PLUGINS[0], "--reg", "coding_rate", "--reuse",
                   str(source), "--results", str(source), "--dry-run", cwd=ROOT)
    assert done.returncode == 2 and "is a store the suite reuses read-only" in done.stderr


@pytest.mark.ray
def test_placed_runs_join_the_reused_ones_in_the_ranking(tmp_path):
    path, source = committed(tmp_path)
    before = snapshot(source)
    own = tmp_path / "mine"
    args = ["suite", str(path), "--plugin", PLUGINS[0], "--plugin", PLUGINS[1], "--reg", "coding_rate",
            "--task", "rings_ae", "--reuse", str(source), "--results", str(own)]
    dry = run_cli(*args, "--dry-run", cwd=ROOT)
    assert dry.returncode == 0, dry.stderr
    assert "placed: regularizer coding_rate, task rings_ae: 28 trials of its own (0 recorded)" in dry.stdout
    done = run_cli(*args, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Copied 26 records" in done.stdout
    assert "selection: 10 trials to run" in done.stdout and "evaluation: 18 trials to run" in done.stdout
    assert snapshot(source) == before  # the committed store is unchanged
    records = [json.loads(line) for line in (own / "records.jsonl").read_text().splitlines()]
    committed_ids = {json.loads(line)["id"] for line in (source / "records.jsonl").read_text().splitlines()}
    assert committed_ids <= {r["id"] for r in records} and len(records) == 26 + 28
    report = (tmp_path / "mine.md").read_text()
    ranking = report[report.index("### Latent codes"):report.index("## Per task")]
    assert "| coding_rate † |" in ranking and "rings_ae (small_codes)." in ranking  # in the Friedman block
    assert "Added by the user (†): coding_rate among the latent codes and posteriors: average rank" in report
    assert "Added by the user (†): task rings_ae: ranked among the tasks of the latent codes" in report
    assert "## Added by the user" in report and "arXiv:2006.08558" in report  # the plugin's docstring
    assert "were made with other regbench commits or torch versions" in report  # the made-up records' git abc
    page = (tmp_path / "mine.html").read_text()
    assert "coding_rate †" in page and 'href="#added"' in page
    assert "Added by the user: coding_rate, rings_ae." in (tmp_path / "mine_codes.md").read_text()
