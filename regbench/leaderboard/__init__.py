"""Leaderboards from run records: per (task, metric) tables with error bars, confidence intervals,
significance against ``none``, the published numbers a study names, optionally a figures section
(``figures``: records → markdown lines, see :mod:`.figure_links`) and a provenance footer; CSV of
the same rows.
"""
from __future__ import annotations

import os

import pandas as pd

from ..grid import Grid, Table
from .baselines import attach, load_baselines
from .provenance import provenance
from .render import LEGEND, section
from .stats import summarize

__all__ = ["study_report", "summarize", "to_csv", "to_markdown"]


def to_markdown(records, figures=None) -> str:
    """Every task in the records: one section per task, one table per metric."""
    records = list(records)
    summary = summarize(records)
    if summary.empty:
        return "# regbench leaderboard\n\nNo successful runs recorded yet.\n"
    parts = ["# regbench leaderboard", "", LEGEND]
    for task in summary.task.unique():
        parts += section(summary, task, [task], [])
    return footer(parts, records, figures)


def footer(parts: list[str], records: list[dict], figures) -> str:
    """The markdown: ``parts``, the figures section, the provenance footer."""
    return "\n".join([*parts, *(figures(records) if figures else []), "", "---", "",
                      provenance(records), ""])


def to_csv(records) -> str:
    """Long format: one row per (task, reg, config, metric)."""
    return summarize(records).drop(columns="params").to_csv(index=False)


def study_report(grid: Grid, records, figures=None) -> tuple[str, str]:
    """(markdown, csv) of a study: the grid's trials only, one section per ``[[table]]``."""
    hashes = {config.config_hash for config in grid.trials(check_data=False)}
    records = [r for r in records if r.get("config_hash") in hashes]
    summary = summarize(records)
    parts = [f"# {grid.name}", "", *([grid.description, ""] if grid.description else []), LEGEND]
    frames = []
    for table in grid.tables or [Table(task, [task]) for task in grid.tasks]:
        rows, note = summary, ""
        if table.baseline:
            published = load_baselines(table.baseline)
            rows = attach(summary, published)
            sources = "; ".join(dict.fromkeys(published.paper + ", " + published.table))
            note = f"Published: {sources} (`{os.path.relpath(table.baseline)}`)."
        parts += section(rows, table.title, table.tasks, table.metrics, note)
        chosen = rows.task.isin(table.tasks) & (rows.metric.isin(table.metrics) if table.metrics
                                                 else True)
        frames.append(rows[chosen].drop(columns="params").assign(table=table.title))
    if summary.empty:
        parts += ["", "No successful runs of this grid recorded yet."]
    csv = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return footer(parts, records, figures), csv.to_csv(index=False)
