"""Tuning mode: the same budget of Tune search trials for every regularizer, selected on validation.

For each task and regularizer of the grid, ``samples`` trials of a random search (``random``) or
of a random search with ASHA early stopping on the per-epoch validation metric that the task
reports through ``RunContext.report`` (``asha``) sample the grid's hyperparameters: a list is a
choice, ``{loguniform = [a, b]}`` / ``{uniform = [a, b]}`` a range. The selection metric is the
grid's ``select``, else the task's ``val_*`` metric; test metrics play no part in it. Search trials
run on the grid's first seed and are recorded under ``<results>/tuning/<grid>/<time>/`` with
``search.json`` (search space, selection metric, selected configurations); the selected
configuration of each regularizer then runs on every seed of the grid into the main store, where
the leaderboard reports its test metrics.
"""
from __future__ import annotations

import json
import time

from .errors import RegbenchError
from .grid import Grid, is_range
from .metrics.declared import metric
from .registry import TASKS
from .record import RunConfig
from .store import ResultsStore
from .store.claims import Claims, claim_pending, holders


def validation_metric(grid: Grid, task: str) -> tuple[str, str]:
    """(metric, "min"|"max") that selects among the search trials of ``task``."""
    declared = TASKS.get(task).directions()
    name = grid.select or next((m for m in declared if m.startswith("val_")), None)
    if name is None:
        raise RegbenchError(f"tuning mode selects on a validation metric, and task '{task}' has "
                            f"none (no val_* metric); tune a task that reports one, or set "
                            f"[grid] select")
    if declared.get(name) not in ("min", "max"):
        raise RegbenchError(f"task '{task}' declares no min/max direction for '{name}'")
    return name, declared[name]


def search_space(settings: dict) -> dict:
    from ray import tune
    return {k: getattr(tune, next(iter(v)))(*next(iter(v.values()))) if is_range(v)
            else tune.choice(v) if isinstance(v, list) else v for k, v in settings.items()}


def searched(settings: dict) -> dict:
    """The settings that are searched over (lists and ranges)."""
    return {k: v for k, v in settings.items() if isinstance(v, (list, dict))}


def best_record(records: list[dict], name: str) -> dict:
    """The search trial with the best value of the metric ``name``."""
    scored = [r for r in records if r["status"] == "ok" and name in r["metrics"]]
    if not scored:
        raise RegbenchError(f"no search trial of {records[0]['task']} × {records[0]['reg']} "
                            f"finished with '{name}'" if records else "no search trial finished")
    return scored[metric(name).best([r["metrics"][name] for r in scored])]


def search(grid: Grid, plan: dict, select: dict, algorithm: str, samples: int,
           store: ResultsStore, **options) -> dict[tuple, dict]:
    """Best search record per (task, reg). A random search is one Tune experiment with
    ``samples`` trials of every regularizer; ASHA gets one experiment per regularizer, so that
    early stopping compares a regularizer's trials only with each other."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from .scheduler import run_tune
    groups = [[key] for key in plan] if algorithm == "asha" else [list(plan)]
    best = {}
    for keys in groups:
        metrics = {select[task] for task, _ in keys}
        metric, mode = metrics.pop() if len(metrics) == 1 else (None, None)
        space = [{"task": t, "reg": r, "settings": search_space(plan[t, r]), "seed": grid.seeds[0]}
                 for t, r in keys]
        columns = {f"trial/settings/{k}": k for t, r in keys for k in searched(plan[t, r])}
        written = run_tune({"trial": tune.grid_search(space)}, store=store, metric=metric,
                           mode=mode, name=f"{grid.name}_search", resources=grid.resources,
                           num_samples=samples, parameter_columns=columns or None,
                           scheduler=ASHAScheduler() if algorithm == "asha" else None, **options)
        for task, reg in keys:
            found = [r for r in written if (r["task"], r["reg"]) == (task, reg)]
            best[task, reg] = best_record(found, select[task][0])
    return best


def tune_grid(grid: Grid, store: ResultsStore, algorithm: str, samples: int, *, address=None,
              plugins=(), quiet=False, dry_run=False, trackers=()) -> list[RunConfig]:
    """Search, select, run the selection on every seed; returns the selected runs (none if dry)."""
    grid.trials(ranges_as_bounds=True)  # validates every choice and both ends of every range
    if samples < 1:
        raise RegbenchError(f"--samples must be ≥ 1, got {samples}")
    select = {task: validation_metric(grid, task) for task in grid.tasks}
    plan = {(t, r): grid.settings_for(t, r) for t in grid.tasks for r in grid.regularizers}
    print(f"Tuning {grid.name}: {algorithm} search, {samples} trials per regularizer on seed "
          f"{grid.seeds[0]}, then the selected configuration on {len(grid.seeds)} seeds.")
    for (task, reg), settings in plan.items():
        space = searched(settings) or "(none)"
        print(f"  {task} × {reg}: select on {select[task][0]}; space {space}")
    if dry_run:
        return []
    store.check(write=True)  # before Ray: Tune writes under the store
    stamp = time.strftime("%Y%m%d-%H%M%S")
    search_store = ResultsStore(store.directory / "tuning" / grid.name / stamp)
    from .cluster import ray_session
    with ray_session(address, quiet=quiet):
        from .scheduler import run_grid
        options = dict(plugins=plugins, quiet=quiet, trackers=trackers)
        best = search(grid, plan, select, algorithm, samples, search_store, **options)
        configs = [RunConfig(t, r, b["task_params"], b["reg_params"], seed)
                   for (t, r), b in best.items() for seed in grid.seeds]
        with Claims(store.directory) as claims:
            pending, elsewhere = claim_pending(claims, store, configs,
                                               lambda outcome: outcome is None or outcome[0] != "ok")
            if elsewhere:
                print(f"  {len(elsewhere)} runs of the selected configurations computed by another "
                      f"process ({holders(elsewhere.values())}); not run here")
            if pending:
                run_grid(pending, store=store, name=f"{grid.name}_selected", resources=grid.resources,
                         metric=grid.metric, mode=grid.mode(grid.metric), **options)
    selected = []
    for (task, reg), b in best.items():
        params = b["task_params"] | b["reg_params"]
        chosen = {k: params[k.rpartition(".")[2]] for k in searched(plan[task, reg])}
        value = b["metrics"][select[task][0]]
        print(f"  selected {task} × {reg}: {select[task][0]}={value:.4g} "
              f"with {chosen or 'defaults'}")
        selected.append({"task": task, "reg": reg, "select": select[task][0], "value": value,
                         "searched": chosen, "record": b["id"], "task_params": b["task_params"],
                         "reg_params": b["reg_params"]})
    summary = {"grid": grid.name, "algorithm": algorithm, "samples": samples, "seed": grid.seeds[0],
               "space": {f"{t} × {r}": searched(s) for (t, r), s in plan.items()},
               "selected": selected}
    search_store.directory.mkdir(parents=True, exist_ok=True)
    (search_store.directory / "search.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"Search records and search.json in {search_store.directory}")
    return configs
