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
                                   left_out, posthoc_holm, rank, score_table, skillings_mack)
from regbench.report.analysis import limits, verdict
from regbench.report.studies import TaskResult, unresolved
from regbench.store import ResultsStore, StoreWarning

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
    ranking = rank(results, "codes")
    assert ranking.tasks == tasks and list(ranking.ranks.index) == ["none", "a", "c"]
    assert ranking.ranks.tolist() == [1.0, 2.0, 3.0]
    assert left_out(ranking, ranking.scores) == [
        "regularizer b: no representative comparable with none on t3",
        "regularizer d: no representative comparable with none on t1, t2, t3",
        "task t4: no representative comparable with none of a, c"]
    assert rank(results[:1], "codes") is None and left_out(None, ranking.scores)[0].startswith("No ranking")


def result_of(task, means, direction="min", p=None, n_pairs=5, **columns) -> TaskResult:
    """A ranked task whose representatives (family codes, comparable with none) have these means
    and Holm-corrected p against none."""
    rows = pd.DataFrame({"reg": list(means.index), "config": "defaults", "short": "defaults",
                         "mean": means.to_numpy(),
                         "p_rep_holm": [math.nan if r == "none" else (p or {}).get(r, 0.5)
                                        for r in means.index], "n_pairs": n_pairs, "chosen": True,
                         "comparable": True, "no_effect": False,
                         "family": ["" if r == "none" else "codes" for r in means.index], **columns})
    return TaskResult(task, task, "m", direction, None, rows)


def test_outcomes_follow_direction_the_corrected_p_effect_and_comparability():
    means = pd.Series({"none": 0.5, "a": 0.9, "b": 0.1, "c": 0.6})
    p = {"a": 0.01, "b": 0.01, "c": 0.2}
    results = [result_of("lower", means, "min", p), result_of("higher", means, "max", p),
               result_of("one", means, "target1", p), result_of("few", means, "min", n_pairs=2)]
    results[-1].rows["p_rep_holm"] = math.nan  # fewer than 3 pairs: no test
    # a significant difference is a win or a loss whatever the geometry: b stays a win
    nothing = result_of("nothing", means, "min", p, no_effect=[False, False, True, True])
    apart = result_of("apart", means, "min", p, comparable=[True, False, True, True])
    table = against_none(results + [nothing, apart], "codes")
    assert list(table.columns) == ["win", "tie", "loss", "no effect", "untested", "not comparable"]
    assert table.loc["a"].tolist() == [2, 0, 2, 0, 1, 1]  # lower: loss; higher: win; closer to 1: win
    assert table.loc["b"].tolist() == [3, 0, 2, 0, 1, 0]
    assert table.loc["c"].tolist() == [0, 4, 0, 1, 1, 0]
    sanity = result_of("sphere", means, "min", p)
    sanity.ranked = False
    assert against_none([sanity], "codes").empty and score_table([sanity], "codes").empty


def fano_design() -> np.ndarray:
    """7 regularizers in blocks of 3 (the Fano plane: every pair together in exactly one block),
    random scores in the cells, NaN elsewhere."""
    blocks = [(0, 1, 2), (0, 3, 4), (0, 5, 6), (1, 3, 5), (1, 4, 6), (2, 3, 6), (2, 4, 5)]
    rng = np.random.default_rng(3)
    scores = np.full((7, 7), np.nan)
    for i, block in enumerate(blocks):
        scores[i, list(block)] = rng.permutation(3) + rng.random(3) * 0.1
    return scores


def test_skillings_mack_is_friedman_on_a_complete_block_and_durbin_on_a_balanced_incomplete_one():
    block = np.random.default_rng(0).random((9, 5))
    n, k = block.shape
    ranks = stats.rankdata(block, axis=1).sum(axis=0)
    friedman_chi2 = 12 / (n * k * (k + 1)) * np.sum(ranks ** 2) - 3 * n * (k + 1)
    statistic, p, tasks = skillings_mack(block)
    assert statistic == pytest.approx(friedman_chi2) and tasks == 9
    assert statistic == pytest.approx(stats.friedmanchisquare(*block.T).statistic)  # no ties
    # Durbin's test (Conover, Practical Nonparametric Statistics, 1999, §5.9) on a BIBD:
    # T = 12(t − 1) / (r t (k − 1)(k + 1)) Σ_j (R_j − r(k + 1)/2)², t = 7, k = 3, r = 3
    scores = fano_design()
    sums = np.nansum(np.where(np.isnan(scores), np.nan, stats.rankdata(
        np.where(np.isnan(scores), np.inf, scores), axis=1)), axis=0)
    t, size, r = 7, 3, 3
    durbin = 12 * (t - 1) / (r * t * (size - 1) * (size + 1)) * np.sum((sums - r * (size + 1) / 2) ** 2)
    statistic, p, tasks = skillings_mack(scores)
    assert statistic == pytest.approx(durbin) and p == pytest.approx(stats.chi2.sf(durbin, 6))
    single = np.vstack([scores, [[0.3] + [np.nan] * 6]])  # one cell: left out
    assert skillings_mack(single)[2] == 7


SECONDS = {"none": 10.0, "eccentric": 20.0, "mmd_imq": 30.0, "vicreg": 10.0}


def add(store, task, reg, seed, test, val=None, status="ok", **settings):
    metrics = {"test_mse": test, **({"val_mse": val} if val is not None else {}),
               "latent.eccentricity": 0.5 + seed / 10, "latent.min_angle_deg": 10.0 + seed,
               "latent.mean_angle_deg": 80.0 + seed, "latent.spectrum": [4.0, 2.0, 1.0 + seed]}
    if task == "digits_ae":  # a training curve: 3 periods
        metrics["curve"] = {"step": [0, 1, 2], "train_loss": [1.0, 0.5, 0.25 + seed / 100]}
    record = make_record(task, reg, seed, metrics, status=status, **settings)
    store.append({**record, "train_time_s": SECONDS[reg] * (2 if settings.get("d") else 1)})


def filled_store(directory) -> ResultsStore:
    """digits_ae: eccentric at two λ (the better on val_mse is the worse on test_mse) and at
    another d (not comparable: no none there); mnist_ae: no val_* metric, one configuration each,
    and a diverged seed of mmd_imq; celeba_ae: vicreg identical to none (no effect), mmd_imq
    missing."""
    store = ResultsStore(directory)
    for seed in range(3):
        noise = 0.001 * seed
        add(store, "digits_ae", "none", seed, 0.30 + noise, 0.30)
        add(store, "digits_ae", "eccentric", seed, 0.10 + noise, 0.25, lam=0.01)
        add(store, "digits_ae", "eccentric", seed, 0.05 + noise, 0.35, lam=0.1)
        add(store, "digits_ae", "eccentric", seed, 0.01 + noise, 0.01, d=4)
        add(store, "digits_ae", "mmd_imq", seed, 0.20 + 2 * noise, 0.20)
        add(store, "mnist_ae", "none", seed, 0.40 + noise)
        add(store, "mnist_ae", "eccentric", seed, 0.50 + 3 * noise)
        add(store, "mnist_ae", "mmd_imq", seed, 0.20 + noise)
        add(store, "celeba_ae", "none", seed, 0.40 + noise)
        add(store, "celeba_ae", "eccentric", seed, 0.30 + noise)
        add(store, "celeba_ae", "vicreg", seed, 0.40 + noise)
    add(store, "mnist_ae", "mmd_imq", 3, math.nan, status="diverged")
    return store


def test_representatives_comparability_effects_cost_and_failures(tmp_path):
    report = analyse([load_study(filled_store(tmp_path / "store"))])
    digits = next(r for r in report.results if r.task == "digits_ae")
    assert digits.select == "val_mse" and digits.metric == "test_mse"
    chosen = digits.chosen.set_index("reg")
    # the best val_mse among the configurations comparable with none (d=4 has the best of all)
    assert chosen.loc["eccentric", "config"] == "lam=0.01" and chosen.loc["eccentric", "mean"] == pytest.approx(0.101)
    apart = digits.rows[digits.rows.config == "d=4"].iloc[0]
    assert not apart.comparable and not apart.chosen
    assert chosen.loc["eccentric", "time_ratio"] == pytest.approx(2.0) and chosen.loc["mmd_imq", "time_ratio"] == 3.0
    assert chosen.loc["eccentric", "family"] == "codes" and chosen.loc["none", "family"] == ""
    # Holm over the two representatives only (the third eccentric configuration is not one)
    raw = digits.rows.set_index("config").p_vs_none
    assert chosen.loc["eccentric", "p_rep_holm"] == pytest.approx(min(1.0, 2 * raw["lam=0.01"]), rel=1e-9) or \
        chosen.loc["eccentric", "p_rep_holm"] == pytest.approx(max(min(1, 2 * raw["lam=0.01"]), chosen.loc["mmd_imq", "p_rep_holm"]))
    mnist = next(r for r in report.results if r.task == "mnist_ae")
    assert mnist.chosen.set_index("reg").loc["mmd_imq", "failed"] == "1 diverged (seed 3)"
    celeba = next(r for r in report.results if r.task == "celeba_ae")
    vicreg = celeba.chosen.set_index("reg").loc["vicreg"]
    assert vicreg.no_effect and not celeba.chosen.set_index("reg").loc["eccentric", "no_effect"]
    codes = report.families["codes"]
    assert codes.ranking.tasks == ["digits_ae (store)", "mnist_ae (store)"]
    assert codes.ranking.ranks.to_dict() == {"mmd_imq": 1.5, "eccentric": 2.0, "none": 2.5}
    assert codes.against_none.loc["vicreg", "no effect"] == 1 and codes.against_none.loc["vicreg", "tie"] == 0
    assert "task celeba_ae (store): no representative comparable with none of mmd_imq" in codes.left_out
    assert codes.time["mmd_imq"] == 3.0 and report.families["weights"].ranking is None
    geometry = digits.geometry[0]
    assert geometry.family == "codes" and len(geometry.values) == 9  # 3 representatives × 3 seeds
    assert geometry.spectra["none"] == pytest.approx(np.mean([[4, 2, 1 + s] for s in range(3)]
                                                             / np.array([7.0, 8.0, 9.0])[:, None], 0))
    assert set(digits.curves) == {"none", "eccentric", "mmd_imq"} and not mnist.curves
    assert digits.curves["none"]["train_loss"] == pytest.approx([1.0, 0.5, 0.26])  # mean over seeds
    assert digits.settings == "" and digits.seeds[chosen.loc["none", "config_key"]] == pytest.approx([0.30, 0.301, 0.302])


def test_the_verdict_is_written_from_the_statistics(tmp_path):
    report = analyse([load_study(filled_store(tmp_path / "store"))])
    text = "\n".join(verdict(report) + limits(report))
    assert text.startswith("Latent codes and posteriors (3 regularizers on 3 ranked tasks).")
    assert "No measurable effect (not a tie) on at least one task: vicreg." in text
    assert "Iman–Davenport p" in text and "Skillings–Mack p" in text
    assert "Training time relative to none (median over the 3 of 3 ranked tasks whose runs recorded it): vicreg ×1, eccentric ×2, mmd_imq ×3." in text
    assert "only 3 seeds" in text and "critical difference" in text  # what the data cannot support
    markdown = to_markdown(report)
    assert markdown.index("## Verdict") < markdown.index("## Rankings") < markdown.index("## Per task")
    assert "| eccentric | lam=0.01 | 0.101 |" in markdown and "eccentric: lam=0.01 of 2" in markdown
    assert "| eccentric | d=4 | 0.011 |" in markdown and "| not comparable |" in markdown
    page = to_html(report)
    assert page.count("<svg") == 1 + 3 + 3 + 1  # CD diagram, intervals and geometry per task, curves
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


def test_the_page_and_the_markdown_say_which_lines_of_the_store_were_skipped(tmp_path):
    store = filled_store(tmp_path / "store")
    with open(store.path, "ab") as f:
        f.write(b"not a record\n{\"id\": \"torn\n")  # lines 35 and 36
    add(store, "celeba_ae", "none", 3, 0.4)  # line 37, after the torn line sealed
    with pytest.warns(StoreWarning):
        report = analyse([load_study(ResultsStore(store.directory))])
    said = ("Skipped as unreadable: 2 lines of records.jsonl (line 35: not valid JSON (Expecting "
            "value at column 1); line 36: not valid JSON (Unterminated string starting at column 8)).")
    assert "of 35 records (1 diverged, 34 ok). " + said in to_markdown(report)
    assert said in to_html(report)


def test_no_effect_is_a_difference_the_seeds_cannot_resolve():
    assert unresolved([1.0, 2.0, 3.0], [1.1, 2.1, 3.1])  # 0.1 against a standard error of 0.82
    assert not unresolved([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
    assert unresolved([0.5] * 3, [0.5 * (1 + 1e-12)] * 3)  # rounding, where neither varies
    assert not unresolved([0.5] * 3, [0.6] * 3) and not unresolved([math.nan], [0.5])
