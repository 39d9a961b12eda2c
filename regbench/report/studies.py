"""What the report reads of one study: per task, its main metric with every configuration's
leaderboard row (:mod:`regbench.leaderboard`), and for each row what a fair comparison needs:

- ``family``: ``codes`` (latent codes and posteriors) or ``weights``, from the target the
  regularizer acts on in the task (``""`` for ``none``, the baseline of both);
- ``comparable``: ``none`` ran at the same task hyperparameters in the study (same d, epochs,
  data), so that the row can be set against it;
- ``chosen``: the representative of its regularizer. Of several configurations (several λ) the
  one with the best mean of the study's selection metric (the grid's ``select``, else the task's
  first ``val_*`` metric) among those comparable with ``none`` (among all where none is), never
  chosen on the metric it is ranked on; with no such metric none is chosen;
- ``p_rep_holm``: the paired test against ``none`` Holm-corrected over the task's
  representatives only; ``d_z`` and ``cliffs_delta``, the effect sizes;
- ``no_effect``: the representative changed nothing its seeds can resolve: its metric and every
  geometry diagnostic of its target (eccentricity, smallest and mean pairwise angle) differ from
  ``none``'s mean by at most ``MEASURABLE`` standard errors of the difference (or not at all);
- ``time_ratio``: its mean training time over ``none``'s; ``failed``: its seeds with no ``ok`` record;
- the published numbers at the run's scale, with short citation keys.

A task enters a ranking unless its class or the study says it is a sanity check (``Task.ranked``,
the grid's ``ranked``). The hyperparameters every row shares are the task's ``settings``; each
row's ``short`` label is the rest.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import RegbenchError
from ..leaderboard import summary
from ..leaderboard.baselines import attach, load_baselines
from ..leaderboard.provenance import provenance
from ..leaderboard.render import fmt
from ..leaderboard.runs import full_params
from ..leaderboard.stats import holm
from ..metrics.declared import metric
from ..regularizers._base import WEIGHTS
from ..store import ResultsStore

GEOMETRY = ("eccentricity", "min_angle_deg", "mean_angle_deg")
FAMILIES = {"codes": "latent codes and posteriors", "weights": "layer weights"}
PREFIXES = {"codes": ("latent.", ""), "weights": ("weights.",)}  # of the geometry diagnostics
DOTS = 5  # seeds up to which tables and plots show each seed rather than a t interval
MEASURABLE = 2.0  # standard errors: a smaller difference of two means over seeds is no effect


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
    """A task of a study on its main metric: ``rows`` (every configuration, with the facts of the
    module docstring), ``seeds`` (config_key → the metric's value per seed), the representatives'
    ``geometry`` and training ``curves`` (regularizer → metric → mean per period)."""
    study: str
    task: str
    metric: str
    direction: str
    select: str | None
    rows: pd.DataFrame
    ranked: bool = True
    settings: str = ""
    notes: list[str] = field(default_factory=list)
    geometry: list[Geometry] = field(default_factory=list)
    seeds: dict[str, list[float]] = field(default_factory=dict)
    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # citation key → source

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


MARK = "†"  # beside the name of what the user placed in a suite


def label(name: str, added) -> str:
    """``name``, marked when it is among ``added`` (placed by the user)."""
    return f"{name} {MARK}" if name in added else name


@dataclass
class Added:
    """A regularizer or task that the user placed in a suite: its kind and documentation."""
    name: str
    kind: str  # "regularizer" or "task"
    documentation: str


@dataclass
class Study:
    name: str
    description: str
    tasks: list[TaskResult]
    provenance: str
    links: dict[str, str] = field(default_factory=dict)  # what → path: leaderboard, CSV, store
    added: list[Added] = field(default_factory=list)  # placed by the user
    environment: str = ""  # whether the placed runs and the rest ran on the same code and hardware


def load_study(store: ResultsStore, grid=None) -> Study:
    """A study: a grid's runs in ``store`` (every run of the store without a grid)."""
    keys = grid.run_keys() if grid else None
    table, counted = summary(store, run_keys=keys)
    name = grid.name if grid else store.directory.name
    footer = provenance(counted)
    configs = counted.configs.set_index("config_key")
    tasks = []
    for task in (grid.tasks if grid else counted.configs.task.unique()):
        declared = counted.directions.get(task)
        if not declared:
            continue
        main = (grid.metric_for(task) if grid else None) or next(
            (m for m, d in declared.items() if d and not m.startswith("val_")), None)
        if main is None or main not in declared:
            continue
        select = (grid.select_for(task) if grid else None) or next(
            (m for m in declared if m.startswith("val_")), None)
        here = table[table.task == task]
        result = TaskResult(name, task, main, declared[main],
                            select if select in declared and select != main else None,
                            here[here.metric == main].reset_index(drop=True),
                            ranked=task_ranked(task) and (grid.ranked if grid else True))
        if result.rows.empty:
            continue
        describe_rows(result, counted, configs, store)
        choose(result, here)
        if grid:
            publish(result, grid, configs)
        result.geometry = geometry(store, counted, result.chosen)
        result.curves = curves(store, counted, result.chosen, main)
        mark_no_effect(result)
        tasks.append(result)
    return Study(name, grid.description if grid else "", tasks, footer)


def task_ranked(task: str) -> bool:
    from ..registry import TASKS
    try:
        return TASKS.get(task).ranked
    except RegbenchError:  # a plugin's task, not loaded: ranked unless it says otherwise
        return True


def family_of(task: str, reg: str, params: dict) -> str:
    """``codes`` or ``weights``: the family of the target ``reg`` acts on in ``task``."""
    from ..registry import REGULARIZERS, TASKS
    if reg == "none":
        return ""
    try:
        target = TASKS.get(task).target_for(REGULARIZERS.get(reg), params.get("target", "auto"))
    except RegbenchError:
        return "codes"
    return "weights" if target == WEIGHTS else "codes"


def describe_rows(result: TaskResult, counted, configs: pd.DataFrame, store: ResultsStore) -> None:
    """Each row's family, comparability, training-time ratio, failed seeds and per-seed values;
    the settings its rows share."""
    rows = result.rows
    cfg = {key: code for code, key in enumerate(counted.configs.config_key)}
    runs = counted.runs
    times = runs.groupby("cfg").train_time.mean()
    none_of = runs.groupby("cfg").none_cfg.max()
    rows["family"] = [family_of(result.task, r.reg, full_params(configs.loc[r.config_key]))
                      for r in rows.itertuples()]
    rows["comparable"] = [r.reg == "none" or none_of.get(cfg[r.config_key], -1) >= 0
                          for r in rows.itertuples()]
    rows["time_ratio"] = [times.get(cfg[r.config_key], math.nan) / times.get(none_of.get(cfg[r.config_key]), math.nan)
                          if none_of.get(cfg[r.config_key], -1) >= 0 else math.nan
                          for r in rows.itertuples()]
    failed = {}
    for key, status, seeds in store.index.failures(rows.config_key):
        failed.setdefault(key, []).append(f"{len(seeds)} {status} (seed{'s' if len(seeds) > 1 else ''} "
                                          f"{', '.join(map(str, seeds))})")
    rows["failed"] = ["; ".join(failed.get(key, [])) for key in rows.config_key]
    code = next((c for c, n in counted.metric_names.items() if n == result.metric), None)
    values = counted.values[counted.values.metric == code].merge(runs[["line", "cfg", "seed"]], on="line")
    for key in rows.config_key:
        found = values[values.cfg == cfg[key]].sort_values("seed")
        result.seeds[key] = found.value.tolist()
    labels = [set(filter(None, label.split(", "))) if label != "defaults" else set() for label in rows.config]
    shared = set.intersection(*labels) if labels else set()
    result.settings = ", ".join(sorted(shared))
    rows["short"] = [", ".join(item for item in label.split(", ") if item not in shared)
                     if label != "defaults" else "defaults" for label in rows.config]
    rows["short"] = rows.short.replace("", "defaults")


def choose(result: TaskResult, task_rows: pd.DataFrame) -> None:
    """Sets ``select_mean``, ``chosen`` and ``p_rep_holm`` of ``result.rows``; notes what was
    chosen and why."""
    rows = result.rows
    means = task_rows[task_rows.metric == result.select].set_index("config_key")["mean"]
    rows["select_mean"] = rows.config_key.map(means).astype(float)
    rows["chosen"] = False
    for reg, group in rows.groupby("reg", sort=False):
        group = group[group["mean"].notna()]
        if group.comparable.any():
            group = group[group.comparable]
        if len(group) == 1:
            rows.loc[group.index, "chosen"] = True
        elif len(group) > 1 and result.select and group.select_mean.notna().any():
            direction = task_rows[task_rows.metric == result.select].direction.iloc[0]
            best = group.index[metric(result.select, direction or "min").best(group.select_mean)]
            rows.loc[best, "chosen"] = True
            result.notes.append(f"{reg}: {rows.short[best]} of {len(group)} configurations, "
                                f"the best on {result.select}.")
        elif len(group) > 1:
            result.notes.append(f"{reg}: {len(group)} configurations and no validation metric to "
                                f"choose one, so it is not represented on this task.")
    for row in rows[rows.chosen & ~rows.comparable].itertuples():
        result.notes.append(f"{row.reg} ({row.short}): not comparable, no none at its task "
                            f"settings in this study.")
    tested = rows.chosen & rows.comparable & rows.reg.ne("none")
    rows["p_rep_holm"] = math.nan
    rows.loc[tested, "p_rep_holm"] = holm(rows.p_vs_none[tested].to_numpy())


def citation_key(source: str) -> str:
    """``Li22, Table 2`` of ``Li & Blair 2022, Eccentric Regularization…, IJCNN, Table 2``."""
    author = re.match(r"[^\W\d_]+", source)
    year = re.search(r"\b(?:19|20)(\d\d)\b", source)
    table = source.rsplit(", ", 1)[-1]
    return f"{author[0] if author else source[:6]}{year[1] if year else ''}, {table}"


def publish(result: TaskResult, grid, configs: pd.DataFrame) -> None:
    """The first published number of the grid's baseline files that is at the run's scale, with
    its citation key (``result.references``: key → the full source)."""
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
            value, pm = found.published[index], found.published_pm[index]
            rows.loc[index, "published"] = value
            rows.loc[index, "published_source"] = (
                fmt(value, result.rate) + ("" if math.isnan(pm) else f" ± {fmt(pm, result.rate)}")
                + f" [{citation_key(found.source[index])}]")
            result.references[citation_key(found.source[index])] = found.source[index]


def geometry(store: ResultsStore, counted, chosen: pd.DataFrame) -> list[Geometry]:
    """The geometry of the chosen configurations' runs, per family of vectors they recorded."""
    out = []
    for family, prefixes in PREFIXES.items():
        values, spectra = [], {}
        for reg, record in representative_records(store, counted, chosen):
            found = record["metrics"]
            prefix = next((p for p in prefixes if f"{p}eccentricity" in found), None)
            if prefix is None:
                continue
            values.append({"reg": reg, "seed": record["seed"],
                           **{name: float(found.get(prefix + name, math.nan)) for name in GEOMETRY}})
            spectrum = np.asarray(found.get(prefix + "spectrum", []), dtype=float)
            if spectrum.size and spectrum.sum() > 0:
                spectra.setdefault(reg, []).append(spectrum / spectrum.sum())
        if values:
            out.append(Geometry(family, pd.DataFrame(values),
                                {reg: np.mean(s, axis=0) for reg, s in spectra.items()}))
    return out


def representative_records(store: ResultsStore, counted, chosen: pd.DataFrame) -> list[tuple[str, dict]]:
    """(regularizer, record with its arrays) of every run of the chosen configurations."""
    cfg = {key: code for code, key in enumerate(counted.configs.config_key)}
    runs = counted.runs[counted.runs.cfg.isin([cfg[k] for k in chosen.config_key])]
    regs = counted.configs.reg.to_numpy()[runs.cfg.to_numpy()]
    return list(zip(regs, store.load(runs.line))) if len(runs) else []


def curves(store: ResultsStore, counted, chosen: pd.DataFrame, main: str) -> dict[str, dict[str, np.ndarray]]:
    """Per representative, the mean over its seeds of each number its runs reported per period
    (``train_loss`` and the validation metrics), where the records carry a curve."""
    found: dict[str, dict[str, list]] = {}
    for reg, record in representative_records(store, counted, chosen):
        curve = record["metrics"].get("curve")
        if isinstance(curve, dict):
            for name, values in curve.items():
                if name != "step":
                    found.setdefault(reg, {}).setdefault(name, []).append(np.asarray(values, float))
    out = {}
    for reg, by_name in found.items():
        out[reg] = {}
        for name, series in by_name.items():
            length = min(len(s) for s in series)
            out[reg][name] = np.mean([s[:length] for s in series], axis=0)
    return out


def mark_no_effect(result: TaskResult) -> None:
    """``no_effect`` of each representative (module docstring)."""
    rows = result.rows
    rows["no_effect"] = False
    none = rows[rows.chosen & rows.reg.eq("none")]
    if none.empty:
        return
    baseline = result.seeds[none.config_key.iloc[0]]
    for index, row in rows[rows.chosen & rows.comparable & rows.reg.ne("none")].iterrows():
        identical = isinstance(row.identical, (bool, np.bool_)) and bool(row.identical)
        same = identical or unresolved(result.seeds[row.config_key], baseline)
        rows.loc[index, "no_effect"] = same and geometry_unchanged(result, row)


def unresolved(ours, theirs) -> bool:
    """Whether two means over seeds differ by at most ``MEASURABLE`` standard errors of their
    difference (by nothing beyond rounding where neither varies)."""
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return False
    error = math.sqrt((a.var(ddof=1) if len(a) > 1 else 0.0) / len(a)
                      + (b.var(ddof=1) if len(b) > 1 else 0.0) / len(b))
    return abs(a.mean() - b.mean()) <= max(MEASURABLE * error, 1e-9 * abs(b.mean()))


def geometry_unchanged(result: TaskResult, row) -> bool:
    """Whether no geometry diagnostic of the row's family differs measurably from none's."""
    family = next((g for g in result.geometry if g.family == row.family), None)
    if family is None:
        return True
    values = family.values
    ours, none = values[values.reg == row.reg], values[values.reg == "none"]
    return all(unresolved(ours[name].dropna(), none[name].dropna()) or ours[name].isna().all()
               or none[name].isna().all() for name in GEOMETRY)
