import math
import re

import pytest
from scipy import stats

from regbench import Task, register_task
from regbench.leaderboard import summarize, to_csv, to_markdown
from regbench.leaderboard.baselines import attach, load_baselines


def record(reg, seed, metrics, task="digits_ae", status="ok", task_params=None, **reg_params):
    return {"task": task, "reg": reg, "seed": seed, "status": status, "metrics": metrics,
            "task_params": task_params or {"d": 8}, "reg_params": reg_params,
            "versions": {"git_commit": "abc", "torch": "2.x"}, "device": "cpu", "host": "h"}


@register_task("test_cross_run")
class CrossRunTask(Task):
    """A task whose leaderboard adds a statistic computed across the seeds of a configuration."""
    metrics = {"score": "max", "seed_spread": "min"}
    cross_run_metrics = {"seed_spread": lambda runs: max(r["metrics"]["score"] for r in runs)
                         - min(r["metrics"]["score"] for r in runs)}


def row(summary, reg, metric, config=""):
    found = summary[(summary.reg == reg) & (summary.metric == metric) & (summary.config == config)]
    assert len(found) == 1, found
    return found.iloc[0]


def test_mean_std_n_ci_and_best_by_direction():
    records = [record("none", s, {"test_mse": 0.2 + s, "cov_trace_per_d": 3.0, "knn_error": 0.1})
               for s in range(3)]
    records += [record("eccentric", s, {"test_mse": 0.1, "cov_trace_per_d": 1.1, "knn_error": 0.2},
                       mu=1.0) for s in range(2)]
    records.append(record("eccentric", 9, {"test_mse": 99.0}, status="failed", mu=1.0))
    none = row(summarize(records), "none", "test_mse")
    assert (none["mean"], none["std"], none.n) == (pytest.approx(1.2), pytest.approx(1.0), 3)
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (none.ci_low, none.ci_high) == (pytest.approx(1.2 - half), pytest.approx(1.2 + half))
    text = to_markdown(records)
    assert "### test_mse (↓ lower is better)" in text
    assert "| eccentric | defaults | **0.1 ± 0 (2)** | [0.1, 0.1] | n<3 |" in text
    assert "| none | defaults | **0.1 ± 0 (3)** |" in text  # knn_error: none is lower
    assert "| eccentric | defaults | **1.1 ± 0 (2)** |" in text  # cov_trace_per_d: closest to 1
    assert "commits: abc ×5" in text and "cpu on h ×5" in text


def test_paired_t_test_against_none_with_the_same_task_hyperparameters():
    base = [0.50, 0.52, 0.47, 0.55, 0.51]
    ecc = [0.40, 0.45, 0.41, 0.44, 0.39]
    records = [record("none", s, {"test_mse": v}) for s, v in enumerate(base)]
    records += [record("eccentric", s, {"test_mse": v}) for s, v in enumerate(ecc)]
    records += [record("none", s, {"test_mse": 9.0}, task_params={"d": 4}) for s in range(5)]
    ecc_row = row(summarize(records), "eccentric", "test_mse")
    expected = stats.ttest_rel(ecc, base)
    assert ecc_row.n_pairs == 5 and ecc_row.p_vs_none == pytest.approx(expected.pvalue)
    assert ecc_row.diff_vs_none == pytest.approx(sum(ecc) / 5 - sum(base) / 5)
    assert f"{ecc_row.diff_vs_none:+.3g} (p={expected.pvalue:.2g}) *" in to_markdown(records)


def test_varying_hyperparameters_label_rows():
    records = [record("eccentric", 0, {"test_mse": 0.1}, mu=1.0),
               record("eccentric", 0, {"test_mse": 0.2}, mu=4.5)]
    text = to_markdown(records)
    assert "| eccentric | mu=1 |" in text and "| eccentric | mu=4.5 |" in text


def test_published_numbers_match_by_task_metric_reg_and_config(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("paper,table,task,metric,reg,config,value,plusminus,note\n"
                    "P,Table 9,digits_ae,test_mse,eccentric,mu=4.5,0.25,0.01,\n"
                    "P,Table 9,digits_ae,test_mse,none,,0.3,,\n")
    records = [record("eccentric", s, {"test_mse": 0.2}, mu=m) for s in range(2) for m in (1.0, 4.5)]
    summary = attach(summarize(records), load_baselines(path))
    assert row(summary, "eccentric", "test_mse", "mu=4.5").published == 0.25
    assert math.isnan(row(summary, "eccentric", "test_mse", "mu=1").published)
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("0.25", "n/a"))
    with pytest.raises(Exception, match="bad.csv:2"):
        load_baselines(bad)


def test_cross_run_metric_is_computed_from_the_records_of_each_configuration():
    records = [record("none", s, {"score": v}, task="test_cross_run", task_params={})
               for s, v in enumerate([1.0, 4.0, 2.0])]
    spread = row(summarize(records), "none", "seed_spread")
    assert (spread["mean"], spread.n) == (3.0, 3)
    assert "### seed_spread (↓ lower is better)" in to_markdown(records)


def test_none_pairs_across_the_regularizer_weight_and_target_it_ignores():
    records = [record("none", s, {"test_mse": 0.5 + s / 10}, task_params={"d": 8, "lam": 1e-3})
               for s in range(3)]
    records += [record("kl_gauss", s, {"test_mse": 0.4 + s / 10},
                       task_params={"d": 8, "lam": 1.0, "target": "posterior"}) for s in range(3)]
    records += [record("none", s, {"test_mse": 9.0}, task_params={"d": 4, "lam": 1e-3}) for s in range(3)]
    kl = row(summarize(records), "kl_gauss", "test_mse")
    assert kl.n_pairs == 3 and kl.diff_vs_none == pytest.approx(-0.1)


def test_csv_and_dataset_checksums_in_the_footer():
    records = [dict(record("none", s, {"test_mse": 0.1}), data={"digits": "md5:ab12"}) for s in range(2)]
    header = to_csv(records).splitlines()[0]
    assert header.startswith("task,reg,config,metric,direction,mean,std,n,ci_low,ci_high")
    assert "Datasets: digits md5:ab12." in to_markdown(records)


def test_study_leaderboard_keeps_the_grid_trials_and_shows_published_numbers(tmp_path, store_dir):
    from regbench.cli import main
    from regbench.runner import prepare
    from regbench.store import ResultsStore
    (tmp_path / "published.csv").write_text(
        "paper,table,task,metric,reg,config,value,plusminus,note\n"
        "Someone 2020,Table 1,sphere,norm_std,eccentric,mu=1.5,0.05,0.01,\n")
    grid = tmp_path / "study.toml"
    grid.write_text('[grid]\nname = "mini"\ntasks = ["sphere"]\nregularizers = ["none", "eccentric"]\n'
                    'seeds = 3\n[params.eccentric]\nmu = 1.5\n[[table]]\ntitle = "Spread"\n'
                    'metrics = ["norm_std"]\nbaseline = "published.csv"\n')
    store = ResultsStore(store_dir)
    for reg, value in (("none", 0.5), ("eccentric", 0.1)):
        for seed in range(3):
            config = prepare("sphere", reg, {"mu": 1.5} if reg == "eccentric" else {}, seed)
            store.append({**record(reg, seed, {"norm_std": value + seed / 100}, task="sphere"),
                          **config.key(), "config_hash": config.config_hash})
    store.append({**record("eccentric", 0, {"norm_std": 9.0}, task="sphere"), "config_hash": "other"})
    out = tmp_path / "results" / "mini.md"
    assert main(["leaderboard", "--study", str(grid), "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Spread" in text and "Published: Someone 2020, Table 1" in text
    assert re.search(r"\| eccentric \| defaults \| \*\*0.11 ± 0.01 \(3\)\*\* \| \[.+\] \| "
                     r"-0.4 \(p=.+\) \* \| 0.05 ± 0.01 \| 0.06 \|", text), text
    csv = (tmp_path / "results" / "mini.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[0].endswith("published,published_pm,source,table")
