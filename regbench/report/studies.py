"""What the report reads of one study: per task, its main metric with every configuration's
leaderboard row (:mod:`regbench.leaderboard`), the configuration that represents each regularizer,
the published numbers at the run's scale, and the geometry of the representatives' runs.

A regularizer with several configurations on a task (several λ) is represented by the one with the
best mean of the study's selection metric (the grid's ``select``, else the task's first ``val_*``
metric), never by the metric it is ranked on; with no such metric it is not represented.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..leaderboard import summary
from ..leaderboard.baselines import attach, load_baselines
from ..leaderboard.provenance import provenance
from ..leaderboard.render import fmt
from ..metrics.declared import metric
from ..leaderboard.runs import full_params
from ..store import ResultsStore

GEOMETRY = ("eccentricity", "min_angle_deg", "mean_angle_deg")
FAMILIES = {"codes": ("latent.", ""), "weights (mean over layers)": ("weights.",)}


@dataclass
class Geometry:
    """One family of vectors (codes or weights) of a task's representative runs: per run the
    regularizer, seed and :data:`GEOMETRY`; per regularizer its covariance spectrum (eigenvalues
    over their sum, mean over seeds) where the runs recorded one."""
    family: str
    values: pd.DataFrame
    spectra: dict[str, np.ndarray]


@dataclass
class TaskResult:
    """A task of a study on its main metric. ``rows``: the leaderboard rows of every configuration
    with ``select_mean`` (the selection metric's mean), ``chosen`` (represents its regularizer)
    and ``published``/``published_source`` (a published number at the run's scale)."""
    study: str
    task: str
    metric: str
    direction: str
    select: str | None
    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    geometry: list[Geometry] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.task if self.task == self.study else f"{self.task} ({self.study})"

    @property
    def rate(self) -> bool:
        return metric(self.metric).rate

    @property
    def facts(self):
        """The main metric (:class:`~regbench.metrics.declared.Metric`), its direction the record's."""
        return metric(self.metric, self.direction)

    @property
    def chosen(self) -> pd.DataFrame:
        return self.rows[self.rows.chosen]


@dataclass
class Study:
    name: str
    description: str
    tasks: list[TaskResult]
    provenance: str


def load_study(store: ResultsStore, grid=None) -> Study:
    """A study: a grid's runs in ``store`` (every run of the store without a grid)."""
    keys = grid.run_keys() if grid else None
    table, counted = summary(store, run_keys=keys)
    name = grid.name if grid else store.directory.name
    footer = provenance(counted)  # now: the index's table of counted runs is this study's
    tasks = []
    for task in (grid.tasks if grid else counted.configs.task.unique()):
        declared = counted.directions.get(task)
        if not declared:
            continue
        metric = (grid.metric if grid else None) or next(
            (m for m, d in declared.items() if d and not m.startswith("val_")), None)
        if metric is None or metric not in declared:
            continue
        select = (grid.select if grid else None) or next(
            (m for m in declared if m.startswith("val_")), None)
        here = table[table.task == task]
        result = TaskResult(name, task, metric, declared[metric],
                            select if select in declared and select != metric else None,
                            here[here.metric == metric].reset_index(drop=True))
        if result.rows.empty:
            continue
        choose(result, here)
        if grid:
            publish(result, grid, counted.configs.set_index("config_key"))
        result.geometry = geometry(store, counted, result.chosen)
        tasks.append(result)
    return Study(name, grid.description if grid else "", tasks, footer)


def choose(result: TaskResult, task_rows: pd.DataFrame) -> None:
    """Sets ``select_mean`` and ``chosen`` of ``result.rows``; notes what was chosen and why."""
    rows = result.rows
    means = task_rows[task_rows.metric == result.select].set_index("config_key")["mean"]
    rows["select_mean"] = rows.config_key.map(means).astype(float)
    rows["chosen"] = False
    for reg, group in rows.groupby("reg", sort=False):
        group = group[group["mean"].notna()]
        if len(group) == 1:
            rows.loc[group.index, "chosen"] = True
        elif len(group) > 1 and result.select and group.select_mean.notna().any():
            direction = task_rows[task_rows.metric == result.select].direction.iloc[0]
            best = group.index[metric(result.select, direction or "min").best(group.select_mean)]
            rows.loc[best, "chosen"] = True
            result.notes.append(f"{reg}: {rows.config[best]} of {len(group)} configurations, "
                                f"the best on {result.select}.")
        elif len(group) > 1:
            result.notes.append(f"{reg}: {len(group)} configurations and no validation metric to "
                                f"choose one, so it is not ranked on this task.")


def publish(result: TaskResult, grid, configs: pd.DataFrame) -> None:
    """The first published number of the grid's baseline files that is at the run's scale."""
    rows = result.rows
    rows["published"], rows["published_source"] = math.nan, ""
    params = [full_params(configs.loc[key]) for key in rows.config_key]
    for spec in grid.tables:
        if not spec.baseline or result.task not in spec.tasks or (
                spec.metrics and result.metric not in spec.metrics):
            continue
        found = attach(rows[["task", "metric", "reg"]].assign(params=params),
                       load_baselines(spec.baseline))
        fill = found.scale_match & rows.published_source.eq("")
        for index in rows.index[fill]:
            value = found.published[index]
            pm = found.published_pm[index]
            rows.loc[index, "published"] = value
            rows.loc[index, "published_source"] = (
                fmt(value, result.rate) + ("" if math.isnan(pm) else f" ± {fmt(pm, result.rate)}")
                + f" ({found.source[index]})")


def geometry(store: ResultsStore, counted, chosen: pd.DataFrame) -> list[Geometry]:
    """The geometry of the chosen configurations' runs, per family of vectors they recorded."""
    cfg = {key: code for code, key in enumerate(counted.configs.config_key)}
    runs = counted.runs[counted.runs.cfg.isin([cfg[k] for k in chosen.config_key])]
    regs = counted.configs.reg.to_numpy()[runs.cfg.to_numpy()]
    records = store.load(runs.line) if len(runs) else []
    out = []
    for family, prefixes in FAMILIES.items():
        values, spectra = [], {}
        for reg, record in zip(regs, records):
            metrics = record["metrics"]
            prefix = next((p for p in prefixes if f"{p}eccentricity" in metrics), None)
            if prefix is None:
                continue
            values.append({"reg": reg, "seed": record["seed"],
                           **{name: float(metrics.get(prefix + name, math.nan)) for name in GEOMETRY}})
            spectrum = np.asarray(metrics.get(prefix + "spectrum", []), dtype=float)
            if spectrum.size and spectrum.sum() > 0:
                spectra.setdefault(reg, []).append(spectrum / spectrum.sum())
        if values:
            out.append(Geometry(family, pd.DataFrame(values),
                                {reg: np.mean(s, axis=0) for reg, s in spectra.items()}))
    return out
