import math
import re

import numpy as np
import pytest
from scipy import stats

from conftest import make_record
from regbench import Task, TASKS
from regbench.leaderboard import summary, to_csv, to_markdown
from regbench.leaderboard.stats import holm
from regbench.metrics.declared import declare
from regbench.store import ResultsStore


@pytest.fixture
def store(tmp_path):
    return ResultsStore(tmp_path / "store")


def add(store, reg, seed, metrics, task="digits_ae", status="ok", **settings):
    record = make_record(task, reg, seed, metrics, status=status, **settings)
    store.append(record)
    return record


def row(table, reg, metric, config="defaults"):
    found = table[(table.reg == reg) & (table.metric == metric) & (table.config == config)]
    assert len(found) == 1, found
    return found.iloc[0]


def test_mean_std_n_ci_and_best_by_direction(store):
    for s in range(3):
        add(store, "none", s, {"test_mse": 0.2 + s, "cov_trace_per_d": 3.0, "knn_error": 0.1})
    for s in range(2):
        add(store, "eccentric", s, {"test_mse": 0.1, "cov_trace_per_d": 1.1, "knn_error": 0.2}, mu=1.5)
    add(store, "eccentric", 9, {"test_mse": 99.0}, status="failed", mu=1.5)
    none = row(summary(store)[0], "none", "test_mse")
    assert (none["mean"], none["std"], none.n) == (pytest.approx(1.2), pytest.approx(1.0), 3)
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (none.ci_low, none.ci_high) == (pytest.approx(1.2 - half), pytest.approx(1.2 + half))
    text = to_markdown(store)
    assert "### test_mse (↓ lower is better)" in text
    assert "| eccentric | mu=1.5 | **0.1 ± 0 (2)** | [0.1, 0.1] | -0.6 (n=2 < 3) |" in text
    assert "| none | defaults | **10.00 ± 0.00 (3)** |" in text  # knn_error: a rate, in percent
    assert "| eccentric | mu=1.5 | **1.1 ± 0 (2)** |" in text  # cov_trace_per_d: closest to 1
    assert "Runs counted: 5" in text and "of 6 records (1 failed, 5 ok)" in text


def test_paired_tests_come_from_scipy_with_holm_across_the_table(store):
    base = [0.50, 0.52, 0.47, 0.55, 0.51, 0.49]
    ecc = [0.40, 0.45, 0.41, 0.44, 0.39, 0.43]
    mmd = [0.49, 0.53, 0.46, 0.56, 0.50, 0.47]
    for s in range(6):
        add(store, "none", s, {"test_mse": base[s]})
        add(store, "eccentric", s, {"test_mse": ecc[s]})
        add(store, "mmd_imq", s, {"test_mse": mmd[s]})
        add(store, "none", s, {"test_mse": 9.0}, d=4)  # another task configuration: not paired
    table = summary(store)[0]
    ecc_row, mmd_row = row(table, "eccentric", "test_mse"), row(table, "mmd_imq", "test_mse")
    p = [stats.ttest_rel(ecc, base).pvalue, stats.ttest_rel(mmd, base).pvalue]
    w = [stats.wilcoxon(np.subtract(ecc, base)).pvalue, stats.wilcoxon(np.subtract(mmd, base)).pvalue]
    assert ecc_row.n_pairs == 6 and ecc_row.p_vs_none == pytest.approx(p[0])
    assert ecc_row.p_wilcoxon == pytest.approx(w[0])
    assert [ecc_row.p_holm, mmd_row.p_holm] == pytest.approx(list(holm(np.array(p))))
    assert ecc_row.p_holm == pytest.approx(min(1, 2 * min(p)))
    assert ecc_row.diff_vs_none == pytest.approx(np.mean(ecc) - np.mean(base))
    assert f"({'p=' + format(ecc_row.p_holm, '.2g')} *, W p=" in to_markdown(store)
    assert "Holm-corrected" in to_markdown(store)


def test_holm_against_a_worked_example():
    # Holm (1979): p = 0.01, 0.04, 0.03, 0.005 → 4·0.005, 3·0.01, max(2·0.03, ·), max(0.04, ·)
    assert holm(np.array([0.01, 0.04, 0.03, 0.005, np.nan])) == pytest.approx(
        [0.03, 0.06, 0.06, 0.02, np.nan], nan_ok=True)


def test_float32_round_off_is_no_difference(store):
    for s in range(3):
        value = float(np.float32(0.1 + s / 10))
        add(store, "none", s, {"test_mse": value})
        add(store, "eccentric", s, {"test_mse": value + 5.96e-9}, mu=1.5)
    ecc = row(summary(store)[0], "eccentric", "test_mse", "mu=1.5")
    assert ecc.diff_vs_none == 0 and ecc.p_vs_none == 1
    assert "identical (3 seeds)" in to_markdown(store)


def test_rows_are_labelled_by_exactly_their_non_default_hyperparameters(store):
    add(store, "eccentric", 0, {"test_mse": 0.1})
    add(store, "eccentric", 0, {"test_mse": 0.2}, mu=4.5)
    add(store, "eccentric", 0, {"test_mse": 0.3}, mu=4.5, lam=0.01, epochs=10)
    add(store, "mhe", 0, {"test_mse": 0.3}, target="codes")
    text = to_markdown(store)
    for label in ("| eccentric | defaults |", "| eccentric | mu=4.5 |",
                  "| eccentric | epochs=10, lam=0.01, mu=4.5 |", "| mhe | target=codes |"):
        assert label in text


def test_one_row_per_configuration_and_n_counts_distinct_seeds(store):
    for s in range(3):
        add(store, "none", s, {"test_mse": 0.5 + s})
    add(store, "none", 0, {"test_mse": 0.7})  # a --force re-run of seed 0: the latest counts
    table = summary(store)[0]
    none = table[(table.reg == "none") & (table.metric == "test_mse")]
    assert len(none) == 1 and none.n.iloc[0] == 3
    assert none["mean"].iloc[0] == pytest.approx((0.7 + 1.5 + 2.5) / 3)


def test_none_pairs_with_every_weight_of_a_regularizer_on_the_same_task_hyperparameters(store):
    for s in range(3):
        add(store, "none", s, {"test_mse": 0.5 + s / 10}, d=4)
        add(store, "kl_gauss", s, {"test_mse": 0.4 + s / 10}, d=4, lam=1.0)
        add(store, "none", s, {"test_mse": 9.0})
    kl = row(summary(store)[0], "kl_gauss", "test_mse", "d=4, lam=1")
    assert kl.n_pairs == 3 and kl.diff_vs_none == pytest.approx(-0.1)


def test_rates_print_in_percent_and_differences_in_points(store):
    for s in range(3):
        add(store, "none", s, {"knn_error": 0.25 + s / 100})
        add(store, "eccentric", s, {"knn_error": 0.20 + s / 100})
    text = to_markdown(store)
    assert "### knn_error (↓ lower is better)" in text and "ours (%)" in text
    assert "| none | defaults | 26.00 ± 1.00 (3) |" in text and "-5.00 pt" in text


@pytest.fixture
def cross_run_task():
    @TASKS.register("test_cross_run")
    class CrossRunTask(Task):
        """A task whose leaderboard adds a statistic computed across the seeds of a configuration."""
        metrics = (declare("score", "max"), declare("seed_spread", "min"))
        cross_run_metrics = {"seed_spread": lambda runs: max(r["metrics"]["score"] for r in runs)
                             - min(r["metrics"]["score"] for r in runs)}
    yield  # conftest removes it from the registry after the test


def test_cross_run_metric_uses_the_runs_that_kept_their_arrays(store, cross_run_task):
    for s, v in enumerate([1.0, 4.0, 2.0]):
        add(store, "none", s, {"score": v, "codes": [[v, 0.0]]}, task="test_cross_run")
    spread = row(summary(store)[0], "none", "seed_spread")
    assert (spread["mean"], spread.n) == (3.0, 3)
    assert "### seed_spread (↓ lower is better)" in to_markdown(store)


def test_csv_and_provenance_footer(store):
    for s in range(2):
        record = make_record("digits_ae", "none", s, {"test_mse": 0.1})
        store.append({**record, "data": {"digits": "md5:ab12"}})
    header = to_csv(store).splitlines()[0]
    assert header.startswith("task,reg,config,metric,direction,mean,std,n,ci_low,ci_high,"
                             "diff_vs_none,n_pairs,identical,p_vs_none,p_holm")
    assert "Datasets: digits md5:ab12." in to_markdown(store)


def test_an_older_version_is_its_own_row_and_says_so(store):
    old = make_record("digits_ae", "eccentric", 0, {"test_mse": 0.3})
    store.append({**old, "reg_version": 0, "config_key": "old", "run_key": "old0"})
    add(store, "eccentric", 0, {"test_mse": 0.1})
    table = summary(store)[0]
    assert set(table[table.metric == "test_mse"].config) == {"defaults", "[reg v0, older than v1]"}


STUDY = ('[grid]\nname = "mini"\ntasks = ["sphere"]\nregularizers = ["none", "eccentric"]\n'
         'seeds = 3\n[params]\nsteps = {steps}\n[params.eccentric]\nmu = 1.5\n[[table]]\n'
         'title = "Spread"\nmetrics = ["norm_std"]\nbaseline = "published.csv"\n')


@pytest.mark.parametrize("steps, delta", [(300, "-0.06 |"), (5, "–")])
def test_study_shows_a_published_number_with_a_delta_only_at_its_scale(tmp_path, store_dir,
                                                                       steps, delta):
    from regbench.cli import main
    (tmp_path / "published.csv").write_text(
        "paper,table,task,metric,reg,config,scale,value,plusminus,note\n"
        "Someone 2020,Table 1,sphere,norm_std,eccentric,mu=1.5,steps=300,0.17,0.01,\n")
    (tmp_path / "study.toml").write_text(STUDY.format(steps=steps))
    store = ResultsStore(store_dir)
    for reg, value in (("none", 0.5), ("eccentric", 0.1)):
        for seed in range(3):
            settings = {"steps": steps, **({"mu": 1.5} if reg == "eccentric" else {})}
            add(store, reg, seed, {"norm_std": value + seed / 100}, task="sphere", **settings)
    add(store, "eccentric", 0, {"norm_std": 9.0}, task="sphere", mu=4.5)  # not in the grid
    out = tmp_path / "results" / "mini.md"
    assert main(["leaderboard", "--study", str(tmp_path / "study.toml"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Spread" in text and "Published: Someone 2020, Table 1" in text
    assert "9" not in re.findall(r"\| eccentric \|[^\n]*", text)[0].split("|")[3]
    published = "0.17 ± 0.01 |" if steps == 300 else "0.17 ± 0.01 (paper scale: steps=300) |"
    assert re.search(rf"\| eccentric \| steps={steps}, mu=1.5 \| \*\*0.11 ± 0.01 \(3\)\*\* \| "
                     rf"\[.+\] \| -0.4 \(p=.+\) \| {re.escape(published)} {re.escape(delta)}", text), text
    csv = (tmp_path / "results" / "mini.csv").read_text().splitlines()
    assert len(csv) == 3 and csv[0].endswith("scale_match,published_scale,table")


def test_the_leaderboard_imports_no_torch(store):
    import subprocess
    import sys
    for s in range(3):
        add(store, "none", s, {"test_mse": 0.5 + s})
        add(store, "eccentric", s, {"test_mse": 0.4 + s})
    code = ("import sys; from regbench.cli import main; main(['leaderboard', '--results', sys.argv[1]]);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code, str(store.directory)], capture_output=True,
                         text=True, check=True).stdout
    assert "| eccentric | defaults |" in out and out.strip().endswith("[]")


def test_effect_sizes_beside_the_p_values(store):
    """Paired Cohen's d_z and Cliff's δ, by direct loops over the seeds, and their size names."""
    from regbench.leaderboard.stats import magnitude
    base = [0.50, 0.52, 0.47, 0.55, 0.51, 0.49]
    ecc = [0.40, 0.45, 0.41, 0.44, 0.52, 0.43]
    shifted = [b + 0.01 for b in base]  # a constant shift: no spread of the differences
    for s in range(6):
        add(store, "none", s, {"test_mse": base[s]})
        add(store, "eccentric", s, {"test_mse": ecc[s]})
        add(store, "mmd_imq", s, {"test_mse": shifted[s]})
    table = summary(store)[0]
    diff = [e - b for e, b in zip(ecc, base)]
    mean = sum(diff) / 6
    sd = math.sqrt(sum((x - mean) ** 2 for x in diff) / 5)
    cliff = sum((e > b) - (e < b) for e in ecc for b in base) / 36
    found = row(table, "eccentric", "test_mse")
    assert found.d_z == pytest.approx(mean / sd) and found.cliffs_delta == pytest.approx(cliff)
    assert row(table, "mmd_imq", "test_mse").d_z == math.inf
    assert math.isnan(row(table, "none", "test_mse").d_z)
    assert [magnitude(v, "d_z") for v in (0.1, -0.3, 0.6, -2.0, math.inf)] == \
        ["negligible", "small", "medium", "large", "large"]
    assert [magnitude(v, "cliffs_delta") for v in (0.1, 0.2, -0.4, 0.9)] == \
        ["negligible", "small", "medium", "large"]


def test_the_footer_names_the_cpus_and_counts_the_records_that_name_none(store):
    named = make_record("digits_ae", "none", 0, {"test_mse": 0.1})
    store.append({**named, "hardware": {"cpu": "AMD EPYC", "isa": "AVX512", "blas": "mkl 2024.2",
                                        "threads": 1}})
    older = make_record("digits_ae", "none", 1, {"test_mse": 0.1})
    store.append({k: v for k, v in older.items() if k != "hardware"})
    store.append({**make_record("digits_ae", "none", 2, {"test_mse": 0.1}), "hardware": None})
    assert ("CPUs (a CPU run's last bits depend on them): AMD EPYC (AVX512, mkl 2024.2, 1 thread) "
            "×1, not recorded ×2.") in to_markdown(store)
