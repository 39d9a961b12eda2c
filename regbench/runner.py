"""Run one (task, regularizer, hyperparameters, seed) configuration into one run record.

``prepare`` validates everything (names, hyperparameters, compatibility) before any compute;
``execute`` seeds, trains, and turns the outcome into a record with status ``ok``, ``diverged``
(non-finite loss) or ``failed`` (any exception, with its traceback).
"""
from __future__ import annotations

import random
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import Diverged, RegbenchError
from .params import check_unique, unknown_name_message
from .record import RunConfig, make_record, staging_dir
from .registry import REGULARIZERS, TARGETS, TASKS
from .tasks._base import RunContext

__all__ = ["RunConfig", "execute", "make_record", "prepare", "resolve"]


def split_settings(task_cls, reg_cls, settings: dict[str, Any]) -> tuple[dict, dict]:
    """Route ``--set`` keys to the task or the regularizer (``task.x``/``reg.x`` disambiguate)."""
    check_unique(settings, "the configuration")
    task_names, reg_names = task_cls.params(), reg_cls.params()
    task_params, reg_params = {}, {}
    for key, value in settings.items():
        scope, _, name = key.rpartition(".")
        if scope == "task" or (not scope and name in task_names and name not in reg_names):
            task_params[name] = value
        elif scope == "reg" or (not scope and name in reg_names and name not in task_names):
            reg_params[name] = value
        elif not scope and name in task_names:
            raise RegbenchError(f"hyperparameter '{name}' exists for both the task and the "
                                f"regularizer; write task.{name}= or reg.{name}=")
        elif not scope and name in term_params() and name not in reg_names:
            acts = f"acts on {', '.join(reg_cls.targets)}" if reg_cls.targets else "acts on nothing"
            own = [n for n in reg_names if n.startswith("lam")]
            raise RegbenchError(f"regularizer '{reg_cls.registered_name}' {acts}, so it has no {name} "
                                f"(the weight of a term on {', '.join(term_params()[name])})"
                                + (f"; its weights are {', '.join(own)}" if own else ""))
        elif name == "target" and not scope:
            acts = f"on {', '.join(reg_cls.targets)} only" if reg_cls.targets else "on nothing"
            raise RegbenchError(f"regularizer '{reg_cls.registered_name}' acts {acts}; target= "
                                f"chooses among the targets of a regularizer that acts on several")
        else:
            known = [*task_names, *reg_names]
            raise RegbenchError(unknown_name_message(
                f"hyperparameter for task '{task_cls.registered_name}' and regularizer "
                f"'{reg_cls.registered_name}'", key, known))
    return task_params, reg_params


def term_params() -> dict[str, list[str]]:
    """Each hyperparameter a target gives its regularizers (λ) → the targets that give it."""
    found: dict[str, list[str]] = {}
    for target in TARGETS.names():
        for name in TARGETS.get(target).params():
            found.setdefault(name, []).append(target)
    return found


def resolve(task: str, reg: str, settings: dict[str, Any] | None = None, seed: int = 0) -> RunConfig:
    """The configuration with every hyperparameter resolved: names and values validated, nothing
    about this machine (memory, data files) or whether the pair can run; raises ``RegbenchError``."""
    task_cls, reg_cls = TASKS.get(task), REGULARIZERS.get(reg)
    if not isinstance(seed, int) or seed < 0:
        raise RegbenchError(f"seed must be a non-negative integer, got {seed!r}")
    task_params, reg_params = split_settings(task_cls, reg_cls, settings or {})
    return RunConfig(task, reg, task_cls.resolve(task_params),
                     reg_cls.resolve(reg_params, defaults=task_cls.term_defaults), seed)


def prepare(task: str, reg: str, settings: dict[str, Any] | None = None, seed: int = 0,
            check_data: bool = True) -> RunConfig:
    """:func:`resolve`, and validate compatibility, the estimated memory (refused above
    ``$REGBENCH_MEMORY_FRACTION``, default 0.9, of the available memory) and (``check_data``) the
    data files; raises ``RegbenchError`` on bad input."""
    config = resolve(task, reg, settings, seed)
    task_cls, reg_cls = TASKS.get(task), REGULARIZERS.get(reg)
    instance = task_cls(**config.task_params)
    instance.check_compatible(reg_cls, config.reg_params)
    instance.check_memory(reg_cls, config.reg_params)
    if check_data:
        instance.check_data()
    return config


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def execute(config: RunConfig, device: str = "cpu", quiet: bool = True, report=None,
            results_dir: str | Path | None = None) -> dict:
    """Train ``config`` and return its run record (never raises for a failing trial).

    ``report(step, metrics)`` receives the task's intermediate metrics, if given; they are also
    the run's training curve (``curve``: each number reported, by period, in its artifacts). The record has
    the run's wall time and the training loop's (``train_time_s``, ``None`` for a task of its own
    loop or a run that failed before training). Files the task
    writes (figures) go to the run's staging folder in ``results_dir`` (without it, none); the
    store moves them to ``figures/<record id>/``, and non-scalar metrics into an artifact file,
    when it appends the record."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    status, error, metrics, trace, data, ctx = "ok", None, {}, None, {}, None
    record_id = uuid.uuid4().hex[:12]
    artifacts = (Path(results_dir) / staging_dir(config.run_key, record_id) / "figures"
                 if results_dir else None)
    try:
        seed_everything(config.seed)
        task = TASKS.get(config.task)(**config.task_params)
        regularizer = REGULARIZERS.get(config.reg)(**config.reg_params).to(device)
        ctx = RunContext(seed=config.seed, device=torch.device(device), quiet=quiet,
                         artifacts_dir=artifacts)
        curve: dict[str, list] = {}

        def reported(step: int, values: dict) -> None:
            for name, value in {"step": step, **values}.items():
                if isinstance(value, (int, float)):
                    curve.setdefault(name, []).append(value)
            if report is not None:
                report(step, values)
        ctx.report = reported
        metrics = task.run(regularizer, ctx)
        if curve:
            metrics["curve"] = curve
        data = task.data_checksums()
        non_finite = [k for k, v in metrics.items() if isinstance(v, float) and not np.isfinite(v)]
        if non_finite:
            status, error = "diverged", f"non-finite metrics: {', '.join(non_finite)}"
    except Diverged as exc:
        status, error = "diverged", str(exc)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a crashed trial is recorded, not lost
        status, error = "failed", "".join(traceback.format_exception_only(type(exc), exc)).strip()
        trace = traceback.format_exc()[-2000:]
    return make_record(config, device, status, error, record_id=record_id, metrics=metrics,
                       data=data, trace=trace, started=started,
                       wall_time_s=time.perf_counter() - clock,
                       train_time_s=None if ctx is None else ctx.train_seconds)
