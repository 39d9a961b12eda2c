"""Leaderboards from a results store: per (task, metric) tables with error bars, confidence
intervals, Holm-corrected paired tests against ``none``, the published numbers a study names (with
their scale), optionally a figures section and a provenance footer; CSV of the same rows.

Every function reads the store's index (:mod:`regbench.store`): no record is parsed, except the
few whose arrays a cross-run metric needs.
"""
from __future__ import annotations

import os

import pandas as pd

from ..store import ResultsStore
from .baselines import attach, load_baselines
from .provenance import provenance
from .render import LEGEND, section
from .runs import Counted, counted_runs, full_params
from .stats import summarize

__all__ = ["study_report", "summary", "to_csv", "to_markdown"]


def summary(store: ResultsStore, tasks=None, run_keys=None) -> tuple[pd.DataFrame, Counted]:
    """(summary frame, the counted runs) of the store."""
    counted = counted_runs(store, tasks, run_keys)
    return summarize(counted), counted


def to_markdown(store: ResultsStore, tasks=None, figures=None) -> str:
    """Every task in the store (or ``tasks``): one section per task, one table per metric."""
    table, counted = summary(store, tasks)
    if table.empty:
        return "# regbench leaderboard\n\nNo successful runs recorded yet.\n"
    parts = ["# regbench leaderboard", "", LEGEND]
    for task in table.task.unique():
        parts += section(table, task, [task], [])
    return footer(parts, counted, figures)


def footer(parts: list[str], counted: Counted, figures) -> str:
    """The markdown: ``parts``, the figures section (``figures(counted)``), the provenance."""
    return "\n".join([*parts, *(figures(counted) if figures else []), "", "---", "",
                      provenance(counted), ""])


def to_csv(store: ResultsStore, tasks=None) -> str:
    """Long format: one row per (task, configuration, metric)."""
    return summary(store, tasks)[0].to_csv(index=False)


def study_report(grid, store: ResultsStore, figures=None) -> tuple[str, str]:
    """(markdown, csv) of a study (a :class:`~regbench.grid.Grid`): the grid's runs only, one
    section per ``[[table]]``."""
    from ..grid import Table
    keys = grid.run_keys()
    table, counted = summary(store, run_keys=keys)
    parts = [f"# {grid.name}", "", *([grid.description, ""] if grid.description else []), LEGEND]
    configs = counted.configs.set_index("config_key")
    csv = []
    for spec in grid.tables or [Table(task, [task]) for task in grid.tasks]:
        rows, note = table[table.task.isin(spec.tasks)], ""
        if spec.metrics:
            rows = rows[rows.metric.isin(spec.metrics)]
        if spec.baseline:
            published = load_baselines(spec.baseline)
            params = [full_params(configs.loc[key]) for key in rows.config_key]
            rows = attach(rows.assign(params=params), published).drop(columns="params")
            sources = "; ".join(dict.fromkeys(published.paper + ", " + published.table))
            note = f"Published: {sources} (`{os.path.relpath(spec.baseline)}`)."
        parts += section(rows, spec.title, spec.tasks, spec.metrics, note)
        csv.append(rows.assign(table=spec.title))
    if table.empty:
        parts += ["", "No successful runs of this grid recorded yet."]
    csv = pd.concat(csv, ignore_index=True) if csv else pd.DataFrame()
    return footer(parts, counted, figures), csv.to_csv(index=False)
