"""Markdown tables of the summary frame: one table per (task, metric), one row per configuration."""
from __future__ import annotations

import math

import pandas as pd

from .stats import MIN_PAIRS

ARROWS = {"min": "↓ lower is better", "max": "↑ higher is better", "target1": "→1 closest to 1"}
LEGEND = ("Ours: mean ± std (n seeds) over the seeds of one configuration, the best in bold. "
          "95% CI: of the mean (t distribution). vs none: mean paired difference from `none` with "
          "the same task hyperparameters (λ and target aside), p of a paired t-test across seeds, "
          f"* p < 0.05; n<{MIN_PAIRS}: fewer than {MIN_PAIRS} paired seeds. Δ published: ours − published.")


def fmt(value: float, digits: int = 4) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def ours_cell(mean: float, std: float, n: int) -> str:
    return f"{fmt(mean)} ± {fmt(std, 3) if n > 1 else '–'} ({n})"


def none_cell(reg: str, diff: float, pairs: float, p: float) -> str:
    if reg == "none":
        return "baseline"
    if not pairs >= 1:
        return "–"
    if pairs < MIN_PAIRS:
        return f"n<{MIN_PAIRS}"
    return f"{diff:+.3g} (p={p:.2g}){' *' if p < 0.05 else ''}"


def published_cell(value: float, plusminus: float) -> str:
    return fmt(value) + ("" if math.isnan(plusminus) else f" ± {fmt(plusminus)}")


def best_index(rows: pd.DataFrame, direction: str):
    if len(rows) < 2 or direction not in ARROWS or rows["mean"].isna().all():
        return None
    key = (rows["mean"] - 1).abs() if direction == "target1" else rows["mean"]
    return key.idxmax() if direction == "max" else key.idxmin()


def metric_table(rows: pd.DataFrame, published: bool) -> str:
    """The rows of one (task, metric): regularizer, config, ours, CI, vs none[, published, Δ]."""
    header = ["regularizer", "config", "ours", "95% CI", "vs none"]
    header += ["published", "Δ published"] if published else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = best_index(rows, rows.direction.iloc[0])
    for r in rows.itertuples():
        ours = ours_cell(r.mean, r.std, int(r.n))
        cells = [r.reg, r.config or "defaults", f"**{ours}**" if r.Index == best else ours,
                 "–" if math.isnan(r.ci_low) else f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
                 none_cell(r.reg, r.diff_vs_none, r.n_pairs, r.p_vs_none)]
        if published:
            cells += [published_cell(r.published, r.published_pm),
                      fmt(r.mean - r.published) if r.source else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(summary: pd.DataFrame, title: str, tasks: list[str], metrics: list[str],
            note: str = "") -> list[str]:
    """``## title`` and one ``###`` table per task and metric that has rows."""
    published = "source" in summary.columns
    parts = ["", f"## {title}"] + (["", note] if note else [])
    for task in tasks:
        rows = summary[summary.task == task]
        for metric in metrics or list(dict.fromkeys(rows.metric)):
            chosen = rows[rows.metric == metric]
            if chosen.empty:
                continue
            arrow = ARROWS.get(chosen.direction.iloc[0], "")
            name = metric if len(tasks) == 1 else f"{task} · {metric}"
            parts += ["", f"### {name}" + (f" ({arrow})" if arrow else ""), "",
                      metric_table(chosen, published)]
    return parts
