"""The contract of a task:

- the targets it exposes are ones regbench knows, and it builds at its defaults, its
  ``term_defaults`` naming hyperparameters of those targets (λ);
- every metric it records and every cross-run metric is declared with a direction
  (:mod:`regbench.metrics.declared`);
- it has a docstring;
- a tiny run under a cheap regularizer of each target it exposes (:data:`CHEAP`), and under
  ``none``, is recorded ``ok`` with every declared metric, finite, and its target in the info.

Each function below raises :class:`~regbench.contract.Broken` naming what fails; :func:`checks`
lists them for one task.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

from ..metrics.declared import DIRECTIONS, METRICS
from ..registry import REGULARIZERS, TARGETS, TASKS
from . import Check, documented, require

CHEAP = {"codes": "eccentric", "weights": "orthogonal", "posterior": "kl_gauss"}


def regularizer_for(target: str) -> str | None:
    """The cheap regularizer of :data:`CHEAP`, else (a plugin's target) the first registered
    regularizer acting on ``target`` (``None``: none does)."""
    if target in CHEAP:
        return CHEAP[target]
    return next((name for name in REGULARIZERS.names() if target in REGULARIZERS.get(name).targets), None)


def cases(task: str) -> list[tuple[str, str, str | None]]:
    """(task, regularizer, target) of its tiny runs: one per target it exposes that a regularizer
    acts on, and ``none``."""
    acting = [(t, regularizer_for(t)) for t in TASKS.get(task).supports]
    return [(task, reg, t) for t, reg in acting if reg] + [(task, "none", None)]


def known_targets(task: str) -> None:
    cls = TASKS.get(task)
    require(cls.supports, f"{task} exposes no target (supports = (regbench.CODES,), for example)")
    unknown = [t for t in cls.supports if t not in TARGETS.names()]
    require(not unknown, f"{task} exposes {', '.join(map(repr, unknown))}, which regbench does not "
                         f"know (it knows {', '.join(TARGETS.names())})")


def hyperparameters(task: str) -> None:
    cls = TASKS.get(task)
    cls()
    terms = {name for target in cls.supports for name in TARGETS.get(target).params()}
    unknown = set(cls.term_defaults) - terms
    require(not unknown, f"term_defaults names {', '.join(sorted(unknown))}, not a hyperparameter of "
                         f"the targets it exposes ({', '.join(sorted(terms)) or 'none'})")


def metrics_declared(task: str) -> None:
    cls = TASKS.get(task)
    for metric, direction in cls.directions().items():
        require(metric in METRICS, f"it records '{metric}', which is not declared (regbench.declare("
                                   f"'{metric}', 'min' or 'max', 'what it is'))")
        require(direction in DIRECTIONS and direction == METRICS[metric].direction,
                f"'{metric}' has no direction")
    for metric in cls.cross_run_metrics:
        require(metric in METRICS, f"cross-run metric '{metric}' is not declared")


def tiny_run(task: str, reg: str, target: str | None, settings: dict | None = None,
             excused: Callable[[str, dict], bool] = lambda metric, record: False) -> dict:
    """Run ``task`` (at ``settings``, default its defaults) under ``reg`` and check its record: ``ok``,
    its target in the info, numbers only among the metrics, the task's directions, and every
    declared metric finite unless ``excused(metric, record)``. Returns the record."""
    from ..runner import execute, prepare
    cls = TASKS.get(task)
    record = execute(prepare(task, reg, settings or {}))
    require(record["status"] == "ok", f"{task} × {reg}: {record['status']}: {record['error']}\n"
                                      f"{record['traceback'] or ''}")
    metrics = record["metrics"]
    require(record["info"].get("target") == target,
            f"{task} × {reg} acted on {record['info'].get('target')}, not {target}")
    require(not any(isinstance(v, str) for v in metrics.values()), "strings are the run's info")
    require(record["directions"] == list(cls.directions().items()), "the record's directions differ")
    for metric in cls.directions():
        if metric in metrics:
            require(isinstance(metrics[metric], (int, float)) and math.isfinite(metrics[metric]),
                    f"{task} × {reg}: {metric} = {metrics[metric]!r}")
        else:
            require(excused(metric, record), f"{task} × {reg}: the record lacks the declared metric {metric}")
    return record


def checks(name: str, runs: bool = True, settings: dict | None = None) -> list[Check]:
    """Every check of the task ``name``, in order; ``runs``: with its tiny runs (at ``settings``)."""
    subject = f"task '{name}'"
    out = [Check(subject, "exposes targets regbench knows", partial(known_targets, name), gate=True),
           Check(subject, "builds at its defaults", partial(hyperparameters, name), gate=True),
           Check(subject, "declares its metrics", partial(metrics_declared, name)),
           Check(subject, "has a docstring", partial(documented, TASKS.get(name)))]
    if runs and set(TASKS.get(name).supports) <= set(TARGETS.names()):
        out += [Check(subject, f"a tiny run under {reg} records every declared metric",
                      partial(tiny_run, task, reg, target, settings)) for task, reg, target in cases(name)]
    return out
