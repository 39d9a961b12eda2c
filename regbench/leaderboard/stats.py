"""Run records → one summary row per (task, regularizer, configuration, metric).

A configuration is one set of hyperparameters; its seeds give ``mean``, ``std`` (sample), ``n``
and a 95% confidence interval of the mean (t distribution). Each configuration is compared with
``none`` on the same task with the same task hyperparameters (except those in the task's
``regularizer_params``, which ``none`` ignores), paired by seed: ``diff_vs_none``
(mean paired difference), ``n_pairs`` and ``p_vs_none`` (two-sided paired t-test, as
``scipy.stats.ttest_rel``; left empty with fewer than 3 pairs). A task's cross-run metrics
(``Task.cross_run_metrics``: name → function of the configuration's records) add one row each.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import RegbenchError
from ..grid import labels
from ..registry import TASKS

MIN_PAIRS = 3
GROUP = ["task", "reg", "pkey"]
IDS = {"task", "reg", "seed", "index", "pkey", "tkey"}
COLUMNS = ["task", "reg", "config", "metric", "direction", "mean", "std", "n", "ci_low", "ci_high",
           "diff_vs_none", "n_pairs", "p_vs_none"]


def task_class(task: str):
    try:
        return TASKS.get(task)
    except RegbenchError:
        return None  # records of a task that is not installed here


def shown_metrics(task: str, present) -> dict[str, str]:
    """Metric → direction: the task's declared metrics that the records have, else all of them."""
    declared = getattr(task_class(task), "metrics", {}) or dict.fromkeys(present, "")
    return {m: d for m, d in declared.items() if m in present}


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One row per ``ok`` record: task, reg, seed, keys of its configuration, numeric metrics."""
    rows = []
    for index, r in enumerate(records):
        if r.get("status") != "ok":
            continue
        metrics = {k: v for k, v in r["metrics"].items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        ignored = getattr(task_class(r["task"]), "regularizer_params", ())
        tkey = tuple(sorted((k, v) for k, v in r["task_params"].items() if k not in ignored))
        rows.append({"task": r["task"], "reg": r["reg"], "seed": r["seed"], "index": index,
                     "pkey": (tuple(sorted(r["task_params"].items())),
                              tuple(sorted(r["reg_params"].items()))), "tkey": tkey,
                     **metrics})
    return pd.DataFrame(rows)


def summarize(records) -> pd.DataFrame:
    """The summary frame (``COLUMNS`` plus ``params``, the configuration's hyperparameters)."""
    records = list(records)
    frame = runs_frame(records)
    if frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, "params"])
    parts, rank = [], {}
    for task, runs in frame.groupby("task", sort=True):
        directions = shown_metrics(task, [c for c in runs.columns
                                          if c not in IDS and runs[c].notna().any()])
        long = runs.melt(id_vars=["task", "reg", "seed", "pkey", "tkey"], var_name="metric",
                         value_vars=list(directions)).dropna(subset=["value"])
        parts.append(seed_statistics(long).assign(direction=lambda f: f.metric.map(directions)))
        parts.append(cross_run_rows(task, runs, records))
        for metric in directions:
            rank.setdefault(metric, len(rank))
    summary = pd.concat(parts, ignore_index=True)
    configs = summary.drop_duplicates(GROUP)[GROUP]
    params = [{**dict(t), **dict(r)} for t, r in configs.pkey]
    groups = list(zip(configs.task, configs.reg))
    configs = configs.assign(params=params, config=labels(params, groups))
    summary = summary.merge(configs, on=GROUP)
    order = dict(_metric=summary.metric.map(rank).fillna(len(rank)), _reg=summary.reg.ne("none"))
    return summary.assign(**order).sort_values(["task", "_metric", "_reg", "reg", "config"]) \
        .reset_index(drop=True)[[*COLUMNS, "params"]]


def seed_statistics(long: pd.DataFrame) -> pd.DataFrame:
    """mean, std, n, CI per configuration and metric; paired comparison with ``none``."""
    keys = [*GROUP, "metric"]
    out = long.groupby(keys).value.agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    half = stats.t.ppf(0.975, out.n - 1) * out["std"] / np.sqrt(out.n)
    out = out.assign(ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    none = long[long.reg == "none"][["task", "tkey", "seed", "metric", "value"]] \
        .drop_duplicates(["task", "tkey", "seed", "metric"])
    paired = long[long.reg != "none"].merge(none, on=["task", "tkey", "seed", "metric"],
                                            suffixes=("", "_none"))
    diff = (paired.value - paired.value_none).groupby([paired[k] for k in keys]) \
        .agg(["mean", "std", "count"])
    out = out.join(diff.rename(columns={"mean": "diff_vs_none", "std": "_sd", "count": "n_pairs"}))
    out["p_vs_none"] = [paired_p(m, s, n)
                        for m, s, n in zip(out.diff_vs_none, out._sd, out.n_pairs)]
    return out.drop(columns="_sd").reset_index()


def paired_p(mean: float, std: float, n: float) -> float:
    """Two-sided p of the paired t-test from the differences' mean, std and count."""
    if not n >= MIN_PAIRS:
        return math.nan
    if std == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean) / (std / math.sqrt(n)), n - 1))


def cross_run_rows(task: str, runs: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    """One row per configuration and cross-run metric the task declares."""
    functions = getattr(task_class(task), "cross_run_metrics", {})
    if not functions:
        return pd.DataFrame()
    directions = getattr(task_class(task), "metrics", {})
    rows = []
    for (reg, pkey), group in runs.groupby(["reg", "pkey"]):
        chosen = [records[i] for i in group["index"]]
        for name, function in functions.items():
            rows.append({"task": task, "reg": reg, "pkey": pkey, "metric": name,
                         "mean": float(function(chosen)), "n": len(chosen),
                         "direction": directions.get(name, "")})
    return pd.DataFrame(rows)
