"""Counted runs → one summary row per (task, configuration, metric).

A configuration is one ``config_key`` (task, regularizer, their versions, non-default
hyperparameters); each of its runs is one seed, so ``n`` counts distinct seeds. Per row: ``mean``,
``std`` (sample), ``n`` and the 95% confidence interval of the mean (t distribution).

Each configuration is compared with ``none`` on the same task, version and task hyperparameters
(``none`` has no λ), paired by seed.
``diff_vs_none`` is the mean paired difference; differences below 1e-6 of the values (each pair's,
and the mean's) are float32 round-off and count as 0; ``identical``: every pair's is 0. ``p_vs_none`` is the two-sided paired t-test
(``scipy.stats.ttest_rel``) with ``n_pairs`` ≥ 3, ``p_wilcoxon`` the Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``, exact) with ``n_pairs`` ≥ 6, where its smallest p falls below 0.05;
``p_holm`` and ``p_wilcoxon_holm`` are Holm-corrected across the rows of one table (task and
metric). Effect sizes beside them, with ``n_pairs`` ≥ 3: ``d_z``, the paired Cohen's d (mean
paired difference over the standard deviation of the differences; ±∞ for a constant non-zero
shift), and ``cliffs_delta``, Cliff's δ = P(X > Y) − P(X < Y) of the configuration's values X
against none's Y (Norman Cliff, "Dominance statistics", Psychological Bulletin 114(3), 1993);
:func:`magnitude` names their size. A task's cross-run metrics (``Task.cross_run_metrics``) add
one row per configuration.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import RegbenchError
from .runs import Counted

MIN_PAIRS, MIN_WILCOXON = 3, 6
ROUND_OFF = 1e-6
COLUMNS = ["task", "reg", "config", "metric", "direction", "mean", "std", "n", "ci_low", "ci_high",
           "diff_vs_none", "n_pairs", "identical", "p_vs_none", "p_holm", "p_wilcoxon", "p_wilcoxon_holm",
           "d_z", "cliffs_delta", "config_key"]
# |effect| below each bound: negligible, small, medium; above the last: large (Cohen 1988 for d;
# Romano et al. 2006 for Cliff's δ)
BOUNDS = {"d_z": (0.2, 0.5, 0.8), "cliffs_delta": (0.147, 0.33, 0.474)}
SIZES = ("negligible", "small", "medium", "large")


def magnitude(value: float, kind: str) -> str:
    """The size of an effect (``kind``: d_z or cliffs_delta): negligible, small, medium, large."""
    if np.isnan(value):
        return ""
    return SIZES[int(np.searchsorted(BOUNDS[kind], abs(value), side="right"))]


def summarize(counted: Counted) -> pd.DataFrame:
    """The summary frame (``COLUMNS``) of the counted runs (:func:`.runs.counted_runs`)."""
    runs, configs = counted.runs, counted.configs
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    task_code = configs.task.astype("category")
    runs = runs.assign(task=task_code.cat.codes.to_numpy()[runs.cfg],
                       none=(configs.reg == "none").to_numpy()[runs.cfg])
    allowed = pd.DataFrame([(code, metric) for code, task in enumerate(task_code.cat.categories)
                            for metric, name in counted.metric_names.items()
                            if name in counted.directions[task] or not counted.directions[task]],
                           columns=["task", "metric"])
    long = counted.values.merge(runs[["line", "task", "cfg", "none_cfg", "seed", "none"]], on="line") \
        .merge(allowed, on=["task", "metric"])
    out = seed_statistics(long)
    out["metric"] = out.metric.map(counted.metric_names)
    out = pd.concat([out, cross_run_rows(counted)], ignore_index=True)
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    out = out.join(configs[["config_key", "task", "reg", "label"]].rename(columns={"label": "config"}),
                   on="cfg")
    out["direction"] = [counted.directions[t].get(m, "") for t, m in zip(out.task.tolist(),
                                                                        out.metric.tolist())]
    out["p_holm"] = holm_by_table(out, "p_vs_none")
    out["p_wilcoxon_holm"] = holm_by_table(out, "p_wilcoxon")
    rank = {(t, m): i for t, d in counted.directions.items() for i, m in enumerate(d)}
    out["_metric"] = [rank.get(k, len(rank)) for k in zip(out.task.tolist(), out.metric.tolist())]
    out["_reg"] = out.reg.ne("none")
    return out.sort_values(["task", "_metric", "metric", "_reg", "reg", "config"]) \
        .reset_index(drop=True)[COLUMNS]


def seed_statistics(long: pd.DataFrame) -> pd.DataFrame:
    """mean, std, n, CI per configuration and metric; the paired comparison with ``none``."""
    keys = ["cfg", "metric"]
    out = long.groupby(keys, sort=False).value.agg(["mean", "std", "count"]) \
        .rename(columns={"count": "n"})
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, out.n - 1) * out["std"] / np.sqrt(out.n)
    out = out.assign(ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    none = long[long.none][["cfg", "seed", "metric", "value"]].rename(
        columns={"cfg": "none_cfg", "value": "value_none"})
    paired = long[~long.none].merge(none, on=["none_cfg", "seed", "metric"])
    diff = paired.value - paired.value_none
    scale = np.maximum(paired.value.abs(), paired.value_none.abs())
    paired = paired.assign(diff=diff.where(diff.abs() > ROUND_OFF * scale, 0.0))
    return out.join(paired_tests(paired, keys)).reset_index()


def paired_tests(paired: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """diff_vs_none, n_pairs, identical, p_vs_none, p_wilcoxon per group of ``keys``."""
    paired = paired.assign(nonzero=paired["diff"].ne(0), scale=paired.value_none.abs())
    groups = paired.groupby(keys, sort=False)
    out = groups.agg(diff_vs_none=("diff", "mean"), n_pairs=("diff", "count"),
                     nonzero=("nonzero", "any"), scale=("scale", "mean"))
    out["identical"] = ~out.pop("nonzero")
    scale = out.pop("scale")
    out["diff_vs_none"] = out.diff_vs_none.where(out.diff_vs_none.abs() > ROUND_OFF * scale, 0.0)
    out["p_vs_none"] = out["p_wilcoxon"] = out["d_z"] = out["cliffs_delta"] = np.nan
    paired = paired.assign(_n=groups["diff"].transform("count"))
    for n, part in paired[paired._n >= MIN_PAIRS].groupby("_n"):
        part = part.sort_values(keys, kind="stable")
        index = pd.MultiIndex.from_frame(part[keys].drop_duplicates())
        none = part.value_none.to_numpy().reshape(-1, n)  # one row of seeds per group
        diff = part["diff"].to_numpy().reshape(-1, n)
        zero = ~np.any(diff, axis=1)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            p = stats.ttest_rel(none + diff, none, axis=1).pvalue
            out.loc[index, "p_vs_none"] = np.where(zero, 1.0, np.nan_to_num(p, nan=0.0))
            spread, shift = diff.std(axis=1, ddof=1), diff.mean(axis=1)
            constant = spread <= ROUND_OFF * np.abs(shift)  # one shift for every seed, up to round-off
            out.loc[index, "d_z"] = np.where(zero, 0.0, np.where(
                constant, np.sign(shift) * np.inf, shift / np.where(constant, 1.0, spread)))
            ours = none + diff
            out.loc[index, "cliffs_delta"] = np.sign(ours[:, :, None] - none[:, None, :]).mean(axis=(1, 2))
            if n >= MIN_WILCOXON:
                out.loc[index, "p_wilcoxon"] = np.where(zero, 1.0, stats.wilcoxon(diff, axis=1).pvalue)
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of one family of p-values (NaN entries left out)."""
    p = np.asarray(p, dtype=float)
    adjusted = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    m = len(order)
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted


def holm_by_table(out: pd.DataFrame, column: str) -> pd.Series:
    adjusted = pd.Series(np.nan, index=out.index)
    for _, rows in out.groupby(["task", "metric"], sort=False)[column]:
        adjusted[rows.index] = holm(rows.to_numpy())
    return adjusted


def cross_run_rows(counted: Counted) -> pd.DataFrame:
    """One row per configuration and cross-run metric its records name (:mod:`..metrics.alignment`,
    else the installed task's ``cross_run_metrics``), over the runs that kept their arrays."""
    rows = []
    tasks = counted.configs.task.to_numpy()
    for task, names in counted.cross_run.items():
        functions = cross_run_functions(task, names)
        chosen = counted.runs[counted.runs.has_arrays & (tasks[counted.runs.cfg] == task)]
        for cfg, group in chosen.groupby("cfg", sort=False):
            records = counted.store.load(group.line.tolist())
            for name, function in functions.items():
                rows.append({"cfg": cfg, "metric": name, "mean": float(function(records)),
                             "n": len(records)})
    return pd.DataFrame(rows)


def cross_run_functions(task: str, names: list[str]) -> dict:
    from ..metrics.alignment import CROSS_RUN
    from ..registry import TASKS
    known = dict(CROSS_RUN)
    if not set(names) <= set(known):
        known.update(getattr(installed(TASKS, task), "cross_run_metrics", {}))
    return {name: known[name] for name in names if name in known}


def installed(registry, name: str):
    """The class registered as ``name``, or None (records of a plugin not loaded here)."""
    try:
        return registry.get(name)
    except RegbenchError:
        return None
