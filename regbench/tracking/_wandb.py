"""Weights & Biases: single runs through ``wandb.init``, grids through Ray Tune's
``WandbLoggerCallback``; offline into ``<results>/wandb`` unless W&B is configured."""
from __future__ import annotations

import netrc
import os
from pathlib import Path

import wandb
from ray.air.integrations.wandb import WandbLoggerCallback

from . import _fields
from ._guard import guarded

IMAGES = (".png", ".jpg", ".jpeg")


def configured() -> bool:
    """Whether the user set W&B up for uploads: an API key in the environment or from ``wandb login``."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def identity(fields: dict, status: str) -> dict:
    """The run's hyperparameters and tags as W&B config."""
    return {**_fields.params(fields), **_fields.tags(fields, status)}


def final(record: dict, store_dir: Path) -> dict:
    """The record's final metrics and its figures as images."""
    return {**_fields.final_metrics(record),
            **{f"figures/{p.stem}": wandb.Image(str(p)) for p in _fields.figures(record, store_dir)
               if p.suffix.lower() in IMAGES}}


class Tracker:
    """A W&B project (default ``$WANDB_PROJECT``, else ``regbench``); runs grouped by experiment."""
    kind = "wandb"

    def __init__(self, project: str | None, store_dir: Path, experiment: str):
        self.project = project or os.environ.get("WANDB_PROJECT") or "regbench"
        self.mode = os.environ.get("WANDB_MODE") or ("online" if configured() else "offline")
        os.environ["WANDB_MODE"] = self.mode  # Ray's callback asks for an API key unless offline
        self.store_dir, self.experiment = store_dir, experiment
        self.init = {"project": self.project, "group": experiment, "mode": self.mode,
                     "dir": str(store_dir)}

    @guarded
    def log_record(self, record: dict, name: str) -> None:
        """A run computed here, whole: its config, curve, final metrics, status and figures."""
        run = wandb.init(**self.init, name=name, config=identity(record, record["status"]),
                         tags=[record["task"], record["reg"]], reinit="create_new")
        try:
            for step, metrics in _fields.curve(record):
                run.log({**metrics, "epoch": step})
            run.log(final(record, self.store_dir))
        finally:
            run.finish(exit_code=0 if record["status"] == "ok" else 1)

    def callback(self, writer):
        return Callback(self, writer)


class Callback(WandbLoggerCallback):
    """Each Tune trial as a W&B run, logged by Ray's logging actor: its config and curve as the
    trial reports them, then the final metrics, status (in its config) and figures of the record
    that ``writer`` (the store's callback, which runs first) wrote."""
    kind = "wandb"

    def __init__(self, tracker: Tracker, writer):
        super().__init__(tracker.project, tracker.experiment, mode=tracker.mode,
                         dir=tracker.init["dir"])
        self.tracker, self.writer, self.started = tracker, writer, set()

    @guarded
    def setup(self, *args, **kwargs):
        super().setup(*args, **kwargs)

    @guarded
    def log_trial_start(self, trial):
        super().log_trial_start(trial)

    @guarded
    def log_trial_result(self, iteration, trial, result):
        if "record_json" in result or "step" not in result:
            return
        step, metrics = _fields.live(result)
        self.queue(iteration, trial, {**metrics, "epoch": step})

    def queue(self, iteration, trial, values: dict) -> None:
        """Send values to the trial's logging actor, with its config the first time."""
        if trial.trial_id not in self.started:
            from ..runner import resolve
            spec = trial.config["trial"]
            config = resolve(spec["task"], spec["reg"], spec["settings"], spec["seed"])
            values = {"config": identity(config.fields(), "running"), **values}
            self.started.add(trial.trial_id)
        super().log_trial_result(iteration, trial, values)

    def log_trial_end(self, trial, failed=False):
        try:
            self.finish(trial)
        finally:  # the trial's logging actor ends, even with the tracker off
            if trial in self._trial_queues:
                super().log_trial_end(trial, failed)

    @guarded
    def finish(self, trial):
        """The final metrics, status and figures of the trial's record, if it has one."""
        record = self.writer.written.get(trial.trial_id)
        if record is not None:
            self.queue(0, trial, {**final(record, self.writer.store.directory),
                                  "config": identity(record, record["status"])})
