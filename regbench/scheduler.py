"""Trials as Ray Tune trials, with their records written to the driver's results store.

Each trial runs :func:`regbench.runner.execute` with resources ``{"cpu", "gpu"}`` on whichever
node Ray places it, forwards the task's intermediate metrics to Tune (``RunContext.report``) and
finally reports its whole run record. Tune's function trainables report synchronously: the trial
waits for the driver at each report (about 15 ms), which doubled the run time of a trial of short
epochs. So a trial reports every epoch only where something uses every epoch (a scheduler that
stops trials at epoch milestones, a tracker's curve), else at most once per
:data:`REPORT_EVERY_S` (the progress table's view of a running trial). A driver-side callback
appends that record to the results store as soon as Tune receives it, so records reach the
driver's store from every node and nothing reported is lost when a worker node (or a later trial)
dies. Import this module only inside :func:`regbench.cluster.ray_session`.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import ray
import torch
from ray import tune

from .errors import NotRecorded, RegbenchError
from .grid import labels
from .registry import load_plugin
from .record import RunConfig, make_record
from .runner import execute, prepare
from .store import ResultsStore
from .tracking import callbacks

REPORT_EVERY_S = 10.0  # a running trial's reports, where nothing needs every epoch


def trainable(config: dict, plugins: list[str], cwd: str, resources: dict, required: list[str],
              results_dir: str, every_epoch: bool):
    """One trial on a Ray worker: the configuration is re-validated there, then executed (files
    the task writes go under ``results_dir``, on the worker's node); its epochs are reported to
    Tune each (``every_epoch``) or at most once per :data:`REPORT_EVERY_S`."""
    if os.path.isdir(cwd):  # same paths as the driver (and its plugins) where the node shares them
        os.chdir(cwd)
    for module in plugins:
        load_plugin(module, cwd if os.path.isdir(cwd) else None)
    torch.set_num_threads(max(1, int(resources["cpu"])))
    trial = config["trial"]
    run = prepare(trial["task"], trial["reg"], trial["settings"], trial["seed"])
    padding = dict.fromkeys(required, math.nan)  # Tune wants its metric in every report
    last = -math.inf

    def report(step: int, metrics: dict) -> None:
        nonlocal last
        if not every_epoch and time.monotonic() - last < REPORT_EVERY_S:
            return
        last = time.monotonic()
        tune.report({**padding, **numeric(metrics), "step": step, "outcome": "running"})

    record = execute(run, device="cuda" if resources["gpu"] else "cpu", report=report,
                     results_dir=results_dir)
    # the final report carries the record, and of its metrics only the one Tune schedules on: Tune
    # keeps every result, so the driver's memory per trial stays small
    final = {k: v for k, v in numeric(record["metrics"]).items() if k in padding}
    tune.report({**padding, **final, "outcome": record["status"], "record_json": json.dumps(record)})


def numeric(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class RecordWriter(tune.Callback):
    """Appends each trial's record to the store on the driver, once per Tune trial (a trial that
    Tune restarts after losing its node reports again). A trial whose worker process died on
    every try (killed, out of memory, a crash in native code) is recorded as ``failed`` with
    Ray's reason, and said in one line. A record that cannot be written is said in one line and
    left out; the grid goes on and its summary counts the trial as not run."""

    def __init__(self, store: ResultsStore, device: str, progress=None):
        self.store, self.device, self.progress = store, device, progress
        self.written: dict[str, dict] = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "record_json" in result and trial.trial_id not in self.written:
            self.write(trial, json.loads(result["record_json"]))

    def on_trial_error(self, iteration, trials, trial, **info):
        if trial.trial_id in self.written:
            return
        spec = trial.config["trial"]
        error = f"the trial's worker process died: {reason(trial)}"
        print(f"regbench: trial {spec['name']}: {error}", file=sys.stderr)
        config = prepare(spec["task"], spec["reg"], spec["settings"], spec["seed"], check_data=False)
        self.write(trial, make_record(config, self.device, "failed", error))

    def write(self, trial, record: dict) -> None:
        self.written[trial.trial_id] = record
        try:
            self.store.append(record)
        except NotRecorded as exc:
            print(f"regbench: error: {exc}", file=sys.stderr)
        if self.progress is not None:
            self.progress(record)


def reason(trial) -> str:
    """Ray's account of a trial's failure in one line (from the error file Tune writes on the
    driver): the line that says why its actor died."""
    try:
        text = Path(trial.error_file).read_text()
    except (OSError, TypeError):
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()] or ["cause unknown"]
    line = next((x for x in lines if "is dead because" in x or "died" in x), lines[-1])
    return line.split(" Some common causes")[0][:300]


def settings_of(config: RunConfig) -> dict:
    """The ``task.``/``reg.``-qualified settings that ``prepare`` resolves back to ``config``."""
    return {**{f"task.{k}": v for k, v in config.task_params.items()},
            **{f"reg.{k}": v for k, v in config.reg_params.items()}}


def run_tune(param_space: dict, *, store: ResultsStore, name: str, resources: dict,
             metric: str | None = None, mode: str | None = None, plugins=(), quiet: bool = False,
             num_samples: int = 1, scheduler=None, parameter_columns=None, progress=None,
             trackers=()) -> list[dict]:
    """Run a Tune experiment of ``trainable``; returns the records it wrote (each also to
    ``progress(record)``, if given), each trial also logged by ``trackers``
    (:mod:`regbench.tracking`)."""
    available = ray.cluster_resources()
    for kind, need in (("CPU", resources["cpu"]), ("GPU", resources["gpu"])):
        if need > available.get(kind, 0):
            raise RegbenchError(f"each trial asks for {need:g} {kind} but the Ray cluster has "
                                f"{available.get(kind, 0):g}: lower --{kind.lower()}")
    writer = RecordWriter(store, "cuda" if resources["gpu"] else "cpu", progress)
    if quiet:  # regbench's own lines only: Tune's tracebacks of a dead worker too
        for logger in ("ray.tune", "ray.air", "ray.train"):
            logging.getLogger(logger).setLevel(logging.CRITICAL)
    function = tune.with_parameters(trainable, plugins=list(plugins), cwd=os.getcwd(),
                                    resources=resources, required=[metric] if metric else [],
                                    results_dir=str(Path(store.directory).resolve()),
                                    every_epoch=scheduler is not None or bool(trackers))
    columns = {"outcome": "outcome", **({metric: metric} if metric else {})}
    reporter = tune.CLIReporter(metric_columns=columns, max_report_frequency=30,
                                parameter_columns=parameter_columns or {"trial/seed": "seed"})
    tuner = tune.Tuner(
        tune.with_resources(function, {"cpu": resources["cpu"], "gpu": resources["gpu"]}),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=metric if mode else None, mode=mode, num_samples=num_samples,
            scheduler=scheduler, reuse_actors=True, trial_dirname_creator=lambda t: t.trial_id,
            trial_name_creator=lambda t: t.config["trial"].get("name") or t.trial_id),
        run_config=tune.RunConfig(
            name=f"{name}_{time.strftime('%Y%m%d-%H%M%S')}", storage_path=str(Path(
                store.directory, "tune").resolve()), verbose=0 if quiet else 1,
            callbacks=[writer, *callbacks(trackers, writer)],
            progress_reporter=reporter, failure_config=tune.FailureConfig(max_failures=1)))
    tuner.fit()
    return list(writer.written.values())


def run_grid(configs: list[RunConfig], **options) -> list[dict]:
    """Run every configuration once (a Tune grid search over the list)."""
    names = labels([{**c.task_params, **c.reg_params} for c in configs],
                   [(c.task, c.reg) for c in configs])
    trials = [{"task": c.task, "reg": c.reg, "settings": settings_of(c), "seed": c.seed,
               "name": " ".join(filter(None, [c.task, c.reg, label]))}
              for c, label in zip(configs, names)]
    return run_tune({"trial": tune.grid_search(trials)}, **options)
