"""Leaderboard tables from run records (pandas): one table per task, one row per regularizer
(+ the hyperparameters that vary), one column per metric, cells ``mean ± std (n)``.

The best cell of each column is bold, by the direction the task declares for the metric:
``min``, ``max`` or ``target1`` (closest to 1, e.g. mean norm / √d).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pandas as pd

from .errors import RegbenchError
from .registry import TASKS


def records_frame(records) -> pd.DataFrame:
    """One row per ``ok`` record: task, reg, config (varying hyperparameters), seed, metrics."""
    rows = []
    for r in records:
        if r.get("status") != "ok":
            continue
        params = {**{f"task.{k}": v for k, v in r["task_params"].items()},
                  **{f"reg.{k}": v for k, v in r["reg_params"].items()}}
        numeric = {k: v for k, v in r["metrics"].items() if isinstance(v, (int, float))
                   and not isinstance(v, bool)}
        rows.append({"task": r["task"], "reg": r["reg"], "seed": r["seed"], "_params": params,
                     **numeric})
    return pd.DataFrame(rows)


def _varying_label(frame: pd.DataFrame) -> pd.Series:
    """The hyperparameters that differ between rows of one task, written ``k=v``."""
    params = pd.DataFrame(list(frame["_params"]), index=frame.index)
    varying = [c for c in params.columns if params[c].astype(str).nunique() > 1]
    return params[varying].apply(
        lambda row: ", ".join(f"{k.split('.', 1)[1]}={_short(v)}" for k, v in row.items()
                              if not (isinstance(v, float) and math.isnan(v))), axis=1) \
        if varying else pd.Series("", index=frame.index)


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def metric_directions(task: str, columns) -> dict[str, str]:
    try:
        declared = TASKS.get(task).metrics
    except RegbenchError:
        declared = {}
    return declared or {c: "" for c in columns}


def summary_tables(records) -> dict[str, pd.DataFrame]:
    """Per task: a frame indexed by (reg, config) with mean/std/n per metric (MultiIndex columns)."""
    frame = records_frame(records)
    tables = {}
    if frame.empty:
        return tables
    for task, group in frame.groupby("task", sort=True):
        group = group.assign(config=_varying_label(group))
        directions = metric_directions(task, group.columns)
        metrics = [m for m in directions if m in group.columns and group[m].notna().any()]
        stats = group.groupby(["reg", "config"])[metrics].agg(["mean", "std", "count"])
        tables[task] = stats
    return tables


def _cell(mean: float, std: float, n: int) -> str:
    std_text = f"{std:.3g}" if n > 1 and not math.isnan(std) else "–"
    return f"{mean:.4g} ± {std_text} ({n})"


def _best(values: pd.Series, direction: str):
    if direction == "min":
        return values.idxmin()
    if direction == "max":
        return values.idxmax()
    if direction == "target1":
        return (values - 1).abs().idxmin()
    return None


def formatted(stats: pd.DataFrame, task: str) -> pd.DataFrame:
    """The display frame: ``mean ± std (n)`` strings, best per column in bold."""
    directions = metric_directions(task, [])
    out = pd.DataFrame(index=stats.index)
    for metric in stats.columns.get_level_values(0).unique():
        col = stats[metric]
        text = [_cell(m, s, int(n)) for m, s, n in zip(col["mean"], col["std"], col["count"])]
        best = _best(col["mean"], directions.get(metric, "")) if len(col) > 1 else None
        arrow = {"min": " ↓", "max": " ↑", "target1": " →1"}.get(directions.get(metric, ""), "")
        out[metric + arrow] = [f"**{t}**" if idx == best else t for idx, t in zip(col.index, text)]
    return out


def provenance(records) -> str:
    from .runner import versions
    v = versions()
    commits = sorted({r["versions"].get("git_commit") or "none" for r in records if r.get("versions")})
    devices = sorted({r.get("device", "?") for r in records})
    return (f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by regbench {v['regbench']} "
            f"(git {v['git_commit'] or 'none'}), torch {v['torch']}, python {v['python']}. "
            f"Runs: {len(records)} records, commits {', '.join(commits) or 'none'}; "
            f"devices {', '.join(devices) or 'none'}.")


def markdown_table(frame: pd.DataFrame) -> str:
    header = ["regularizer", "config", *frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (reg, config), row in frame.iterrows():
        lines.append("| " + " | ".join([reg, config or "defaults", *map(str, row.values)]) + " |")
    return "\n".join(lines)


def to_markdown(records) -> str:
    records = list(records)
    tables = summary_tables(records)
    if not tables:
        return "# regbench leaderboard\n\nNo successful runs recorded yet.\n"
    parts = ["# regbench leaderboard", "",
             "Cells: mean ± std (number of seeds); best per column in bold "
             "(↓ lower is better, ↑ higher is better, →1 closest to 1)."]
    for task, stats in tables.items():
        parts += ["", f"## {task}", "", markdown_table(formatted(stats, task))]
    parts += ["", "---", provenance(records), ""]
    return "\n".join(parts)


def to_csv(records) -> str:
    """Long format: one row per (task, reg, config, metric) with mean, std and n."""
    rows = []
    for task, stats in summary_tables(list(records)).items():
        for (reg, config), row in stats.iterrows():
            for metric in stats.columns.get_level_values(0).unique():
                rows.append({"task": task, "reg": reg, "config": config, "metric": metric,
                             "mean": row[(metric, "mean")], "std": row[(metric, "std")],
                             "n": int(row[(metric, "count")])})
    return pd.DataFrame(rows, columns=["task", "reg", "config", "metric", "mean", "std", "n"]) \
        .to_csv(index=False)
