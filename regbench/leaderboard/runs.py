"""The runs a leaderboard counts, read from the store's index (its queries answer with values):
one per ``run_key`` (its latest ``ok`` record), with the scalar metrics their task declares, and
each configuration's label. Nothing here imports a task or regularizer: the records say what the
leaderboard needs.

Runs are numbered rows with integer codes for their configuration (``cfg``), their ``none``
baseline's configuration (``none_cfg``, -1 when it did not run) and their metrics, so that the
statistics over 100,000 runs join and group integers only."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import RegbenchError
from ..params import short
from ..store import ResultsStore

@dataclass
class Counted:
    """The counted runs of a store (``runs``: line, cfg, none_cfg, seed, has_arrays, train_time:
    the training loop's seconds, NaN where the record has none), their
    configurations (``configs``, indexed by cfg: config_key, task, reg, label, params), their
    declared metrics (``values``: line, metric id, value; ``metric_names``: id → name) and each
    task's metrics with their directions and cross-run metrics, as its latest record declares."""
    runs: pd.DataFrame
    configs: pd.DataFrame
    values: pd.DataFrame
    metric_names: dict[int, str]
    directions: dict[str, dict[str, str]]
    cross_run: dict[str, list[str]]
    store: ResultsStore


def counted_runs(store: ResultsStore, tasks=None, run_keys=None) -> Counted:
    """The counted runs of these tasks (all by default) and run keys (all by default)."""
    index = store.index
    rows = index.counted()
    line, run_key, config_key, none_key, task, seed, arrays, seconds = zip(*rows) if rows else [()] * 8
    keep = np.ones(len(rows), dtype=bool)
    if tasks:
        keep &= np.isin(np.array(task, dtype=object), list(tasks))
    if run_keys is not None:
        keep &= np.isin(np.array(run_key, dtype=object), list(set(run_keys)))
    codes, keys = pd.factorize(np.array(config_key, dtype=object)[keep])
    where = {key: i for i, key in enumerate(keys)}
    runs = pd.DataFrame({"line": np.array(line, dtype=np.int64)[keep], "cfg": codes,
                         "none_cfg": [where.get(k, -1) for k in np.array(none_key, dtype=object)[keep]],
                         "seed": np.array(seed, dtype=np.int64)[keep],
                         "has_arrays": np.array(arrays, dtype=bool)[keep],
                         "train_time": np.array(seconds, dtype=float)[keep]})
    configs = configurations(store, runs.line.to_numpy()[np.unique(codes, return_index=True)[1]])
    present = set(configs.task)
    meta = [row for row in index.task_layouts(runs.line) if row[0] in present]
    directions = {t: dict(json.loads(d)) for t, d, _ in meta}
    cross_run = {t: json.loads(c) for t, _, c in meta}
    values, names = declared_values(index, runs.line)
    return Counted(runs, configs, values, names, directions, cross_run, store)


def declared_values(index, lines) -> tuple[pd.DataFrame, dict[int, str]]:
    """(line, metric code, value) of the declared metrics of the runs on ``lines`` (every
    numeric metric for a task that declares none), and code → metric name."""
    codes: dict[str, int] = {}
    layouts: dict[str, tuple[list, list]] = {}
    for line, layout, values in index.declared(lines):
        found, texts = layouts.setdefault(layout, ([], []))
        found.append(line)
        texts.append(values)
    parts, undeclared = [], []
    for layout, (found, texts) in layouts.items():
        metrics = [name for name, _ in json.loads(layout)]
        if not metrics:
            undeclared += found
            continue
        matrix = np.array(json.loads(f"[{','.join(texts)}]"), dtype=np.float64)  # null: NaN
        found = np.array(found, dtype=np.int64)
        for column, name in enumerate(metrics):
            present = ~np.isnan(matrix[:, column])
            parts.append(pd.DataFrame({"line": found[present], "value": matrix[present, column]})
                         .assign(metric=codes.setdefault(name, len(codes))))
    if undeclared:
        parts.append(pd.DataFrame([(line, codes.setdefault(name, len(codes)), value)
                                   for line, name, value in index.metric_rows(undeclared)],
                                  columns=["line", "metric", "value"]))
    values = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"line": np.zeros(0, np.int64), "metric": np.zeros(0, np.int64), "value": np.zeros(0)})
    return values[["line", "metric", "value"]], {code: name for name, code in codes.items()}


def configurations(store: ResultsStore, lines) -> pd.DataFrame:
    """One row per configuration, read from one of its runs (``lines``, in configuration order):
    config_key, task, reg, label and the rest of the identity."""
    frame = pd.DataFrame(store.index.configurations(lines),
                         columns=["config_key", "task", "task_version", "reg", "reg_version", "params"])
    frame["label"] = labels(frame)
    return frame


def labels(configs: pd.DataFrame) -> list[str]:
    """Exactly the non-default hyperparameters, ``k=v, ...`` (the task's, then the regularizer's),
    or ``defaults``; a task or regularizer version older than the newest counted is named."""
    newest = {**configs.groupby("task").task_version.max().add_prefix("task:").to_dict(),
              **configs.groupby("reg").reg_version.max().add_prefix("reg:").to_dict()}
    out = []
    for task, task_version, reg, reg_version, params in zip(*(configs[c].tolist() for c in (
            "task", "task_version", "reg", "reg_version", "params"))):
        params = json.loads(params)
        shown = [f"{k}={short(v)}" for part in ("task", "reg") for k, v in sorted(params.get(part, {}).items())]
        for kind, name, version in (("task", task, task_version), ("reg", reg, reg_version)):
            if version != newest[f"{kind}:{name}"]:
                shown.append(f"[{kind} v{version}, older than v{newest[f'{kind}:{name}']}]")
        out.append(", ".join(shown) or "defaults")
    return out


def full_params(config: pd.Series) -> dict:
    """Every hyperparameter of a configuration (a row of ``Counted.configs``), defaults included
    (its non-default ones where the installed classes cannot resolve them)."""
    from ..registry import REGULARIZERS, TASKS
    params = json.loads(config.params)
    full = {}
    for registry, name, part in ((TASKS, config.task, "task"), (REGULARIZERS, config.reg, "reg")):
        try:
            defaults = TASKS.get(config.task).term_defaults if part == "reg" else None
            full.update(registry.get(name).resolve(params.get(part, {}), defaults))
        except RegbenchError:
            full.update(params.get(part, {}))
    return full
