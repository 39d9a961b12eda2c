import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import make_record, run_cli
from regbench.report import analyse, load_study, to_html, to_markdown
from regbench.report.ranks import (against_none, complete_block, critical_difference, friedman,
                                   left_out, posthoc_holm, rank)
from regbench.report.studies import TaskResult
from regbench.store import ResultsStore

# Table 6 of Janez Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7,
# 2006: AUC of C4.5, C4.5+m, C4.5+cf, C4.5+m+cf on 14 data sets. The table rounds to three
# decimals; its ranks put C4.5+cf ahead of C4.5+m+cf on "voting" (0.975 and 0.975), hence 0.97501.
AUC = np.array([
    [0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569], [0.954, 0.971, 0.968, 0.967],
    [0.628, 0.661, 0.654, 0.657], [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625], [0.775, 0.838, 0.866, 0.875],
    [1.000, 1.000, 1.000, 1.000], [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.97501, 0.975], [0.957, 0.978, 0.946, 0.970]])
NAMES = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]


def test_friedman_on_demsar_2006():
    ranks, chi2, p, f, p_f = friedman(-AUC)  # AUC: higher is better
    assert ranks == pytest.approx([3.143, 2.000, 2.893, 1.964], abs=5e-4)  # the paper's §3.2.2
    n, k = AUC.shape
    plain = 12 * n / (k * (k + 1)) * (np.sum(ranks ** 2) - k * (k + 1) ** 2 / 4)
    assert plain == pytest.approx(9.28, abs=5e-3)  # the paper's χ²_F (no correction for ties)
    assert (n - 1) * plain / (n * (k - 1) - plain) == pytest.approx(3.69, abs=5e-3)  # its F_F
    ties = sum(t ** 3 - t for row in AUC for t in np.unique(row, return_counts=True)[1])
    assert chi2 == pytest.approx(plain / (1 - ties / (n * k * (k * k - 1))))  # scipy corrects ties
    assert (chi2, p) == pytest.approx(tuple(stats.friedmanchisquare(*AUC.T)))
    assert f == pytest.approx((n - 1) * chi2 / (n * (k - 1) - chi2))
    assert p_f == pytest.approx(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))


def test_posthoc_and_critical_difference_on_demsar_2006():
    n, k = AUC.shape
    assert critical_difference(k, n) == pytest.approx(1.25, abs=5e-3)  # the paper: CD = 1.25
    assert [critical_difference(j, 1) / math.sqrt(j * (j + 1) / 6) for j in range(2, 11)] == \
        pytest.approx([1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164], abs=1e-3)
    ranks = stats.rankdata(-AUC, axis=1).mean(axis=0)
    se = math.sqrt(k * (k + 1) / (6 * n))
    raw = {(i, j): 2 * stats.norm.sf(abs(ranks[i] - ranks[j]) / se)
           for i, j in itertools.combinations(range(k), 2)}
    # the paper's comparisons with C4.5: p = 0.016 (C4.5+m+cf), 0.019 (C4.5+m), 0.607 (C4.5+cf),
    # from z rounded to three decimals
    assert [raw[0, 3], raw[0, 1], raw[0, 2]] == pytest.approx([0.016, 0.019, 0.607], abs=2e-3)
    order = sorted(raw, key=raw.get)  # Holm over the 6 pairs, step by step
    holm, running = {}, 0.0
    for i, pair in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * raw[pair]))
        holm[pair] = running
    table = posthoc_holm(-AUC, NAMES)
    for (i, j), p in holm.items():
        assert table.loc[NAMES[i], NAMES[j]] == pytest.approx(p)
        assert table.loc[NAMES[j], NAMES[i]] == pytest.approx(p)


def test_complete_block_is_the_largest_and_what_it_leaves_out_is_said():
    scores = pd.DataFrame({"none": [1, 1, 1, 1], "a": [2, 2, 2, np.nan], "b": [3, 3, np.nan, 3],
                           "c": [4, 4, 4, np.nan], "d": [np.nan, np.nan, np.nan, 5]},
                          index=["t1", "t2", "t3", "t4"], dtype=float)
    present = scores.notna()
    tasks, regs = complete_block(present)
    best = max((len(t) * int(present.loc[list(t)].all().sum()), len(t))
               for size in range(2, 5) for t in itertools.combinations(present.index, size)
               if present.loc[list(t)].all().sum() >= 3)
    assert len(tasks) * len(regs) == best[0] and (tasks, regs) == (["t1", "t2", "t3"], ["none", "a", "c"])
    assert complete_block(present[["none", "d"]]) == ([], [])
    results = [result_of(task, scores.loc[task].dropna()) for task in scores.index]
    ranking = rank(results)
    assert ranking.tasks == tasks and list(ranking.ranks.index) == ["none", "a", "c"]
    assert ranking.ranks.tolist() == [1.0, 2.0, 3.0]
    assert left_out(ranking, ranking.scores) == [
        "regularizer b: no representative on t3", "regularizer d: no representative on t1, t2, t3",
        "task t4: no representative of a, c"]
    assert rank(results[:1]) is None and left_out(None, ranking.scores)[0].startswith("No ranking")


def result_of(task, means, direction="min", p=None, n_pairs=5) -> TaskResult:
    rows = pd.DataFrame({"reg": list(means.index), "config": "defaults", "mean": means.to_numpy(),
                         "p_holm": [math.nan if r == "none" else (p or {}).get(r, 0.5)
                                    for r in means.index], "n_pairs": n_pairs, "chosen": True})
    return TaskResult(task, task, "m", direction, None, rows)


def test_wins_ties_losses_follow_direction_and_the_corrected_p():
    means = pd.Series({"none": 0.5, "a": 0.9, "b": 0.1, "c": 0.6})
    p = {"a": 0.01, "b": 0.01, "c": 0.2}
    results = [result_of("lower", means, "min", p), result_of("higher", means, "max", p),
               result_of("one", means, "target1", p), result_of("few", means, "min", n_pairs=2)]
    results[-1].rows["p_holm"] = math.nan  # fewer than 3 pairs: no test
    table = against_none(results)
    assert table.loc["a"].tolist() == [2, 0, 1, 1]  # lower: loss; higher: win; closer to 1: win
    assert table.loc["b"].tolist() == [1, 0, 2, 1]
    assert table.loc["c"].tolist() == [0, 3, 0, 1]


def add(store, task, reg, seed, test, val=None, **settings):
    metrics = {"test_mse": test, **({"val_mse": val} if val is not None else {}),
               "latent.eccentricity": 0.5 + seed / 10, "latent.min_angle_deg": 10.0 + seed,
               "latent.mean_angle_deg": 80.0 + seed, "latent.spectrum": [4.0, 2.0, 1.0 + seed]}
    store.append(make_record(task, reg, seed, metrics, **settings))


def filled_store(directory) -> ResultsStore:
    """digits_ae: eccentric at two λ (the better on val_mse is the worse on test_mse);
    mnist_ae: no val_* metric, one configuration each; mmd_imq missing on a third task."""
    store = ResultsStore(directory)
    for seed in range(3):
        noise = 0.001 * seed
        add(store, "digits_ae", "none", seed, 0.30 + noise, 0.30)
        add(store, "digits_ae", "eccentric", seed, 0.10 + noise, 0.25, lam=0.01)
        add(store, "digits_ae", "eccentric", seed, 0.05 + noise, 0.35, lam=0.1)
        add(store, "digits_ae", "mmd_imq", seed, 0.20 + 2 * noise, 0.20)
        add(store, "mnist_ae", "none", seed, 0.40 + noise)
        add(store, "mnist_ae", "eccentric", seed, 0.50 + 3 * noise)
        add(store, "mnist_ae", "mmd_imq", seed, 0.20 + noise)
        add(store, "celeba_ae", "none", seed, 0.40 + noise)
        add(store, "celeba_ae", "eccentric", seed, 0.30 + noise)
    return store


def test_representatives_are_chosen_on_validation_and_the_report_says_so(tmp_path):
    report = analyse([load_study(filled_store(tmp_path / "store"))])
    digits = next(r for r in report.results if r.task == "digits_ae")
    assert digits.select == "val_mse" and digits.metric == "test_mse"
    eccentric = digits.chosen[digits.chosen.reg == "eccentric"]
    assert eccentric.config.tolist() == ["lam=0.01"]  # best val_mse, not the best test_mse
    assert eccentric["mean"].iloc[0] == pytest.approx(0.101)
    assert report.ranking.tasks == ["digits_ae (store)", "mnist_ae (store)"]
    assert report.ranking.ranks.to_dict() == {"mmd_imq": 1.5, "eccentric": 2.0, "none": 2.5}
    assert "task celeba_ae (store): no representative of mmd_imq" in report.left_out
    geometry = digits.geometry[0]
    assert geometry.family == "codes" and len(geometry.values) == 9  # 3 representatives × 3 seeds
    assert geometry.spectra["none"] == pytest.approx(np.mean([[4, 2, 1 + s] for s in range(3)]
                                                             / np.array([7.0, 8.0, 9.0])[:, None], 0))
    markdown = to_markdown(report)
    assert "| eccentric | lam=0.01 | 0.101 |" in markdown and "eccentric: lam=0.01 of 2" in markdown
    page = to_html(report)
    assert page.count("<svg") == 1 + 3 + 3  # CD diagram, one interval plot and geometry per task
    assert re.findall(r'(?:src|href)="(?!#)', page) == []  # links within the page only


def test_cli_report_writes_html_and_markdown(tmp_path):
    filled_store(tmp_path / "store")
    out = tmp_path / "out" / "report.md"
    done = run_cli("report", "--results", str(tmp_path / "store"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("# Which regularizer wins") and "Friedman test" in out.read_text()
    page = run_cli("report", "--results", str(tmp_path / "store"))
    assert page.returncode == 0 and page.stdout.startswith("<!doctype html>")


def test_cli_report_of_an_empty_or_wrong_directory_says_so_in_one_line(tmp_path):
    out = tmp_path / "report.html"
    done = run_cli("report", "--results", str(tmp_path / "nothing"), "--out", str(out))
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip().splitlines() == [
        f"regbench: error: no finished runs to report in {tmp_path / 'nothing'} (give --results the "
        f"directory of a store, or of the studies' stores)"]
