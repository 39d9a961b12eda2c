"""The benchmark suite: its file is checked before anything runs, its protocol (selection on other
seeds, the choice on the validation metric, evaluation of the chosen configuration) is what the
store then holds, it resumes, and its plan prices what is left."""
import json
import math

import pytest

from conftest import make_record, run_cli
from regbench.errors import RegbenchError
from regbench.store import ResultsStore
from regbench.suite import best_factor, load_suite
from regbench.suite_run import plan

TINY = """
[suite]
name = "tiny"
description = "A tiny suite."
factors = [0.1, 1.0, 10.0]
selection_seeds = [100]
evaluation_seeds = 3

[family.codes]
regularizers = ["none", "eccentric", "kl_gauss"]
coefficients = ["lam"]
tasks = ["digits_ae", "cora_node"]
sanity = ["sphere"]

[family.weights]
regularizers = ["none", "orthogonal"]
coefficients = ["lam_hidden", "lam_final"]
tasks = ["digits_mlp"]

[task.digits_ae]
metric = "test_mse"
select = "val_mse"
seconds = 2
params = { epochs = 2, d = 4, align_samples = 0, figures = false, layer_geometry = false }

[task.cora_node]
metric = "test_acc"
select = "val_acc"
seconds = 3
params = { epochs = 3 }

[task.digits_mlp]
metric = "test_error"
select = "val_error"
seconds = 1
params = { epochs = 2, hidden = 8 }

[task.sphere]
metric = "norm_std"
seconds = 1
params = { n = 20, d = 4, steps = 5 }
"""


def write(tmp_path, text=TINY, name="tiny.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("change, message", [
    (("evaluation_seeds = 3", "evaluation_seeds = [0, 100]"), "both selection and evaluation seeds"),
    (('"eccentric", "kl_gauss"]', '"eccentrik"]'), "eccentric"),
    (('select = "val_acc"', 'select = "test_acc"'), "validation metric"),
    (('metric = "test_error"', 'metric = "test_mse"'), "not a metric of digits_mlp"),
    (("factors = [0.1, 1.0, 10.0]", "factors = [0.0, 1.0]"), "positive numbers"),
    (('tasks = ["digits_mlp"]', 'tasks = ["digits_mlp", "cora_link"]'), "[task.cora_link]"),
    (('coefficients = ["lam_hidden", "lam_final"]', 'coefficients = ["mu"]'), "orthogonal has none"),
    (("seconds = 1\nparams = { epochs", "seconds = 1\nparam = { epochs"), "unknown keys param"),
    (("params = { epochs = 3 }", "params = { epochs = -3 }"), "epochs"),
    (("seconds = 1\nparams = { epochs", "seconds = 0\nparams = { epochs"),
     "seconds must be a positive number, not 0"),
])
def test_a_bad_suite_file_is_refused_before_anything_runs(tmp_path, change, message):
    with pytest.raises(RegbenchError) as error:
        load_suite(write(tmp_path, TINY.replace(*change, 1)))
    assert message in str(error.value)


def test_trials_follow_the_protocol(tmp_path):
    suite = load_suite(write(tmp_path))
    selection = suite.selection_trials()
    # codes: eccentric on both tasks, kl_gauss only where a posterior is exposed (not cora_node)
    pairs = {(t.family, t.config.task, t.config.reg) for t in selection}
    assert pairs == {("codes", "digits_ae", "eccentric"), ("codes", "digits_ae", "kl_gauss"),
                     ("codes", "cora_node", "eccentric"), ("weights", "digits_mlp", "orthogonal")}
    assert len(selection) == 4 * 3 and {t.config.seed for t in selection} == {100}
    lams = sorted(t.config.reg_params["lam"] for t in selection
                  if t.config.task == "digits_ae" and t.config.reg == "eccentric")
    assert lams == pytest.approx([1e-4, 1e-3, 1e-2])  # digits_ae's λ = 1e-3 times each factor
    ortho = [t.config.reg_params for t in selection if t.config.reg == "orthogonal"]
    assert sorted(p["lam_hidden"] for p in ortho) == pytest.approx([1e-5, 1e-4, 1e-3])
    assert all(p["lam_final"] == p["lam_hidden"] for p in ortho)  # both coefficients together
    assert all(t.config.task_params["epochs"] == 2 for t in selection if t.config.task == "digits_ae")


def record_for(trial, value, status="ok"):
    metric = {"digits_ae": "val_mse", "cora_node": "val_acc", "digits_mlp": "val_error"}[trial.config.task]
    settings = {**{f"task.{k}": v for k, v in trial.config.task_params.items()},
                **{f"reg.{k}": v for k, v in trial.config.reg_params.items()}}
    return make_record(trial.config.task, trial.config.reg, trial.config.seed,
                       {metric: value}, status=status, **settings)


def test_the_choice_is_the_best_validation_mean_and_evaluation_runs_it_on_other_seeds(tmp_path):
    suite = load_suite(write(tmp_path))
    store = ResultsStore(tmp_path / "store")
    errors = {0.1: 0.30, 1.0: 0.20, 10.0: 0.25}  # val_mse, val_error: ×1 best
    accuracies = {0.1: 0.90, 1.0: 0.80, 10.0: 0.85}  # val_acc: ×0.1 best
    for trial in suite.selection_trials():
        if trial.config.reg == "kl_gauss" and trial.factor == 1.0:
            store.append(record_for(trial, math.nan, status="diverged"))  # never chosen
        else:
            value = (accuracies if trial.config.task == "cora_node" else errors)[trial.factor]
            store.append(record_for(trial, value))
    from regbench.suite_run import choices
    chosen = choices(suite, store)
    assert chosen[("codes", "digits_ae", "eccentric")].factor == 1.0  # lowest val_mse
    assert chosen[("codes", "cora_node", "eccentric")].factor == 0.1  # highest val_acc
    assert chosen[("codes", "digits_ae", "kl_gauss")].factor == 10.0  # ×1 diverged
    assert chosen[("codes", "digits_ae", "kl_gauss")].means[1.0] is None
    evaluation = suite.evaluation_trials(chosen)
    assert {t.config.seed for t in evaluation} == {0, 1, 2}
    eccentric = {t.config.reg_params["lam"] for t in evaluation
                 if t.config.task == "digits_ae" and t.config.reg == "eccentric"}
    assert eccentric == {1e-3}
    kl = {t.config.reg_params["lam"] for t in evaluation if t.config.reg == "kl_gauss"}
    assert kl == {1e-2}  # chosen despite the diverged factor
    sphere = {t.config.reg for t in evaluation if t.config.task == "sphere"}
    assert sphere == {"none", "eccentric"}  # kl_gauss cannot act on free points
    nones = [t for t in evaluation if t.config.reg == "none"]
    assert len(nones) == 4 * 3  # digits_ae, cora_node, sphere, digits_mlp


def test_ties_go_to_the_factor_nearest_one_and_failures_are_never_chosen():
    assert best_factor({0.1: 0.5, 1.0: 0.5, 10.0: 0.6}, "min") == 1.0
    assert best_factor({0.1: 0.5, 10.0: 0.5 * (1 + 1e-12)}, "min") == 0.1  # a tie: nearer 1 (log)
    assert best_factor({0.1: 0.4, 1.0: 0.5}, "max") == 1.0
    assert best_factor({0.1: None, 1.0: None}, "min") is None


def test_the_plan_prices_what_is_left_with_recorded_times(tmp_path):
    suite = load_suite(write(tmp_path))
    store = ResultsStore(tmp_path / "store")
    pending, _, lines = plan(suite, store)
    assert len(pending) == 12 and "selection 0/6 recorded" in "\n".join(lines)
    trial = pending[0]
    store.append({**record_for(trial, 0.2), "wall_time_s": 100.0})
    pending, _, lines = plan(suite, store)
    assert len(pending) == 11
    row = next(line for line in lines if trial.config.task in line and "codes" not in line)
    assert "selection 1/6 recorded" in row


@pytest.mark.ray
def test_a_suite_runs_end_to_end_and_resumes(tmp_path):
    path = write(tmp_path, TINY.replace("evaluation_seeds = 3", "evaluation_seeds = 2"))
    store = tmp_path / "suite"
    done = run_cli("suite", str(path), "--results", str(store), "--task", "digits_mlp,sphere", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "selection: 3 trials to run" in done.stdout and "evaluation:" in done.stdout
    records = [json.loads(line) for line in (store / "records.jsonl").read_text().splitlines()]
    evaluation = [r for r in records if r["seed"] in (0, 1)]
    assert {r["reg"] for r in evaluation} == {"none", "orthogonal", "eccentric"}
    choices = (tmp_path / "suite_choices.md").read_text()
    assert "| digits_mlp | val_error | orthogonal |" in choices and "**" in choices
    page = (tmp_path / "suite.html").read_text()
    assert "digits_mlp (tiny_weights)" in page and "sphere (tiny_codes)" in page
    assert (tmp_path / "suite_weights.csv").read_text().startswith("task,")
    again = run_cli("suite", str(path), "--results", str(store), "--task", "digits_mlp,sphere", "--resume")
    assert again.returncode == 0 and "trials to run" not in again.stdout
    assert len((store / "records.jsonl").read_text().splitlines()) == len(records)


def test_dry_run_names_missing_data_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "no_data"))
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "no_cache"))
    done = run_cli("suite", str(write(tmp_path)), "--dry-run", "--results", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    assert "cora_node: " in done.stdout and "trial-hours" in done.stdout
    assert not (tmp_path / "s" / "records.jsonl").exists()


def test_a_ranked_task_without_a_validation_metric_is_refused(tmp_path):
    text = TINY.replace('metric = "test_error"\nselect = "val_error"\n', 'metric = "test_error"\n')
    with pytest.raises(RegbenchError, match=r"\[task.digits_mlp\]: a ranked task needs the validation"):
        load_suite(write(tmp_path, text))
