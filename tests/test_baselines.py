"""Published numbers: the committed ``baselines/*.csv`` and the scale a Δ to them needs."""
import math
from pathlib import Path

import pandas as pd
import pytest

from regbench.errors import RegbenchError
from regbench.leaderboard.baselines import attach, load_baselines, parse_config
from regbench.registry import REGULARIZERS, TASKS

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "baselines").glob("*.csv"))
REFERENCES = {"majority_class", "wae_gan"}  # published references regbench does not implement
# config keys naming a protocol the task does not have: those rows are kept and match no run
NOT_PARAMS = {"kipf2017_gcn_table2.csv": {"split"}, "kipf2016_vgae_table1.csv": {"features"}}
# the scale of tasks/celeba_smoke.toml
SMOKE = {"epochs": 1, "train_size": 500, "eval_size": 500, "gen_samples": 500}


def resolved(task: str, reg: str, **values) -> dict:
    """A configuration's full hyperparameters (defaults included), as a summary's ``params``."""
    declared = {**TASKS.get(task).params(), **REGULARIZERS.get(reg).params()}
    unknown = set(values) - set(declared)
    assert not unknown, unknown
    return {name: p.coerce(values.get(name, p.default), name) for name, p in declared.items()}


def summary_row(task, reg, metric, mean, **values):
    return {"task": task, "reg": reg, "metric": metric, "mean": mean,
            "params": resolved(task, reg, **values)}


def write(path: Path, *rows: str) -> Path:
    path.write_text("paper,table,task,metric,reg,config,scale,value,plusminus,note\n"
                    + "".join(f"{row}\n" for row in rows))
    return path


def test_scale_match_only_at_the_papers_scale(tmp_path):
    published = load_baselines(write(
        tmp_path / "table.csv",
        'P,T1,celeba_ae,fid,eccentric,"d=64,lam=1e-4","epochs=100,train_size=0,gen_samples=10000",'
        "49.5,0.9,",
        "P,T1,celeba_ae,fid,kl_gauss,lam=1e-3,,50.0,0.7,scale not given"))
    summary = pd.DataFrame([
        summary_row("celeba_ae", "eccentric", "fid", 50.1, lam=1e-4),           # task defaults
        summary_row("celeba_ae", "eccentric", "fid", 51.0, lam=1e-4, epochs=100.0),
        summary_row("celeba_ae", "eccentric", "fid", 190.0, lam=1e-4, **SMOKE),
        summary_row("celeba_ae", "eccentric", "fid", 52.0, lam=1e-4, gen_samples=1000),
        summary_row("celeba_ae", "kl_gauss", "fid", 51.0, lam=1e-3),
        summary_row("celeba_ae", "mmd_imq", "fid", 51.0, lam=1e-3)])             # no published row
    out = attach(summary, published)
    assert out.scale_match.tolist() == [True, True, False, False, False, False]
    assert out.scale_match.dtype == bool
    assert out.published.tolist()[:5] == [49.5, 49.5, 49.5, 49.5, 50.0]  # shown at any scale
    assert math.isnan(out.published.iloc[5]) and out.source.iloc[5] == ""
    paper = "epochs=100, train_size=0, gen_samples=10000"
    assert out.published_scale.tolist() == [paper] * 4 + ["", ""]
    assert out.published_pm.iloc[0] == 0.9 and out.source.iloc[0] == "P, T1"
    assert list(out.columns) == ["task", "reg", "metric", "mean", "params", "published",
                                 "published_pm", "source", "scale_match", "published_scale"]


def test_the_celeba_smoke_run_is_not_at_table_1s_scale():
    published = load_baselines(ROOT / "baselines" / "li2022_table1_celeba.csv")
    summary = pd.DataFrame([
        summary_row("celeba_ae", "eccentric", metric, 1.0, d=64, lam=1e-2, **scale)
        for scale in ({}, SMOKE) for metric in ("fid", "eccentricity")])
    out = attach(summary, published)
    assert out.published.tolist() == [53.7, 0.092, 53.7, 0.092]
    assert out.scale_match.tolist() == [True, True, False, False]
    assert out.published_scale.iloc[0] == "epochs=100, train_size=0, eval_size=0, gen_samples=10000"


def test_an_empty_summary_gets_the_new_columns():
    summary = pd.DataFrame(columns=["task", "reg", "metric", "mean", "params"])
    out = attach(summary, load_baselines(FILES[0]))
    added = {"published", "published_pm", "source", "scale_match", "published_scale"}
    assert added <= set(out.columns)
    assert out.empty


@pytest.mark.parametrize("scale, message", [
    (None, "missing columns scale"),
    ("epochs", "scale must be key=value pairs"),
    ('"epochs=1,epochs=2"', "names a key twice"),
    ("lam=1e-3", "lam in both config and scale"),
])
def test_load_baselines_checks_the_scale_column(tmp_path, scale, message):
    path = tmp_path / "bad.csv"
    if scale is None:
        path.write_text("paper,table,task,metric,reg,config,value,plusminus,note\n"
                        "P,T,sphere,norm_std,none,,0.1,,\n")
    else:
        write(path, f"P,T,sphere,norm_std,none,lam=1e-3,{scale},0.1,,")
    with pytest.raises(RegbenchError, match=message):
        load_baselines(path)


def test_parse_config_strips_spaces():
    assert parse_config(" epochs = 100, train_size=0 ") == {"epochs": "100", "train_size": "0"}
    assert parse_config("") == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_baselines_name_registered_tasks_metrics_and_hyperparameters(path):
    rows = load_baselines(path)
    assert len(rows)
    tasks = set(TASKS.names())
    for line, row in enumerate(rows.itertuples(), 2):
        where = f"{path.name}:{line}"
        if row.task not in tasks or row.reg in REFERENCES:
            continue  # references have no regularizer
        task = TASKS.get(row.task)
        task_params = task.params()
        reg_params = REGULARIZERS.get(row.reg).params()
        assert row.metric in task.metrics, f"{where}: {row.task} has no metric {row.metric}"
        for key, value in parse_config(row.config).items():
            if key in NOT_PARAMS.get(path.name, ()):
                assert key not in task_params, f"{where}: {key} is a parameter now; match it"
                continue
            param = task_params.get(key) or reg_params.get(key)
            assert param is not None, f"{where}: config key {key} is not a hyperparameter"
            param.coerce(value, where)  # a valid value of that hyperparameter
        for key, value in parse_config(row.scale, "scale").items():
            assert key in task_params, f"{where}: scale key {key} is not a task hyperparameter"
            task_params[key].coerce(value, where)


def test_every_scale_is_given_or_explained():
    for path in FILES:
        for line, row in enumerate(load_baselines(path).itertuples(), 2):
            assert row.scale or "scale" in row.note, f"{path.name}:{line}: empty scale, no reason"
