"""Markdown tables of the summary frame: one table per (task, metric), one row per configuration.

Rates (the metrics declared as rates: accuracies, errors, AUC, AP, fractions in the records) are
printed as percent and their differences in percentage points; other metrics with four
significant digits."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from ..metrics.declared import metric
from .stats import MIN_PAIRS, MIN_WILCOXON

ARROWS = {"min": "↓ lower is better", "max": "↑ higher is better", "target1": "→1 closest to 1"}
LEGEND = ("Ours: mean ± std (n distinct seeds) of one configuration, the best in bold; config: "
          "exactly the hyperparameters that differ from their defaults. 95% CI: of the mean "
          "(t distribution). vs none: mean paired difference from `none` on the same task "
          "hyperparameters, paired by seed, with the p of a paired t-test "
          f"(scipy.stats.ttest_rel, n ≥ {MIN_PAIRS}) and, with n ≥ {MIN_WILCOXON}, of the "
          "Wilcoxon signed-rank test (W), both Holm-corrected across the rows of the table; "
          "* p < 0.05; differences below 1e-6 of the values count as 0 (float32 round-off). "
          "Rates are in percent, their differences in points (pt). Δ published: ours − published, "
          "only where the run's scale is the paper's; otherwise the paper's number stands alone, "
          "marked with its scale.")


def fmt(value: float, rate: bool = False, digits: int = 4) -> str:
    if value is None or math.isnan(value):
        return "–"
    value += 0.0  # -0.0 prints as 0
    return f"{100 * value:.2f}" if rate else f"{value:.{digits}g}"


def fmt_diff(value: float, rate: bool) -> str:
    if value == 0:
        return "±0"
    return f"{100 * value:+.2f} pt" if rate else f"{value:+.3g}"


def ours_cell(mean: float, std: float, n: int, rate: bool) -> str:
    spread = fmt(std, rate, 3) if n > 1 else "–"
    return f"{fmt(mean, rate)} ± {spread} ({n})"


def p_text(p: float) -> str:
    return f"{p:.2g}{' *' if p < 0.05 else ''}"


def none_cell(reg: str, diff: float, pairs: float, identical, p: float, w: float,
              rate: bool) -> str:
    if reg == "none":
        return "baseline"
    if not pairs >= 1:
        return "–"
    if identical is True:
        return f"identical ({int(pairs)} seeds)"
    if pairs < MIN_PAIRS:
        return f"{fmt_diff(diff, rate)} (n={int(pairs)} < {MIN_PAIRS})"
    tests = f"p={p_text(p)}" + ("" if math.isnan(w) else f", W p={p_text(w)}")
    return f"{fmt_diff(diff, rate)} ({tests})"


def published_cells(r, rate: bool, mean: float) -> list[str]:
    if not r.source:
        return ["–", "–"]
    value = fmt(r.published, rate) + ("" if math.isnan(r.published_pm) else f" ± {fmt(r.published_pm, rate)}")
    if r.scale_match:
        return [value, fmt_diff(mean - r.published, rate)]
    return [f"{value} (paper scale: {r.published_scale or 'not stated'})", "–"]


def best_index(rows: pd.DataFrame):
    """The index of the row with the best mean, by the metric's direction (none for fewer than
    two rows or a descriptive metric)."""
    facts = metric(rows.metric.iloc[0], rows.direction.iloc[0])
    if len(rows) < 2 or not facts.ranked:
        return None
    best = facts.best(rows["mean"])
    return None if best is None else rows.index[best]


def metric_table(rows: pd.DataFrame, published: bool) -> str:
    """The rows of one (task, metric): regularizer, config, ours, CI, vs none[, published, Δ]."""
    rate = metric(rows.metric.iloc[0]).rate
    header = ["regularizer", "config", "ours" + (" (%)" if rate else ""), "95% CI", "vs none"]
    header += ["published", "Δ published"] if published else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best = best_index(rows)
    names = ["reg", "config", "mean", "std", "n", "ci_low", "ci_high", "diff_vs_none", "n_pairs",
             "identical", "p_holm", "p_wilcoxon_holm"]
    names += ["source", "published", "published_pm", "scale_match", "published_scale"] if published else []
    columns = {name: rows[name].tolist() for name in names}
    for i, index in enumerate(rows.index):
        r = SimpleNamespace(**{name: values[i] for name, values in columns.items()})
        ours = ours_cell(r.mean, r.std, int(r.n), rate)
        cells = [r.reg, r.config, f"**{ours}**" if index == best else ours,
                 "–" if math.isnan(r.ci_low) else f"[{fmt(r.ci_low, rate)}, {fmt(r.ci_high, rate)}]",
                 none_cell(r.reg, r.diff_vs_none, r.n_pairs, r.identical, r.p_holm,
                           r.p_wilcoxon_holm, rate)]
        if published:
            cells += published_cells(r, rate, r.mean)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(summary: pd.DataFrame, title: str, tasks: list[str], metrics: list[str],
            note: str = "") -> list[str]:
    """``## title`` and one ``###`` table per task and metric that has rows."""
    published = "source" in summary.columns
    parts = ["", f"## {title}"] + (["", note] if note else [])
    for task in tasks:
        groups = dict(tuple(summary[summary.task == task].groupby("metric", sort=False)))
        for name in metrics or list(groups):
            chosen = groups.get(name)
            if chosen is None:
                continue
            arrow = ARROWS.get(chosen.direction.iloc[0], "")
            name = name if len(tasks) == 1 else f"{task} · {name}"
            parts += ["", f"### {name}" + (f" ({arrow})" if arrow else ""), "",
                      metric_table(chosen, published)]
    return parts
