"""MLflow: single runs through ``MlflowClient``, grids through Ray Tune's ``MLflowLoggerCallback``."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from ray.air.integrations.mlflow import MLflowLoggerCallback

from . import _fields
from ._guard import guarded

BATCH = 500  # MLflow's most metrics or params in one log_batch call is 1,000 / 100


class Tracker:
    """An MLflow experiment: ``uri`` (default a SQLite file beside the store) and its name."""
    kind = "mlflow"

    def __init__(self, uri: str | None, store_dir: Path, experiment: str):
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # not its lines on creating tables
        self.uri = uri or f"sqlite:///{store_dir / 'mlflow.db'}"
        self.store_dir, self.experiment = store_dir, experiment
        self.client = MlflowClient(self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(
            experiment, artifact_location=None if uri else (store_dir / "mlartifacts").as_uri())

    def start(self, fields: dict, name: str) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags=_fields.tags(fields, "running"))
        items = [Param(k, v) for k, v in _fields.params(fields).items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run.info.run_id, params=items[i:i + 100])
        return run.info.run_id

    def log(self, run_id: str, step: int, metrics: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in metrics.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(run_id, metrics=items[i:i + BATCH])

    def finish(self, run_id: str, record: dict, store_dir: Path) -> None:
        """The record's final metrics, tags and figures (in ``store_dir``); the run ends FAILED
        unless it is ok."""
        steps = [step for step, _ in _fields.curve(record)]
        self.log(run_id, max(steps, default=0), _fields.final_metrics(record))
        for key, value in _fields.tags(record, record["status"]).items():
            self.client.set_tag(run_id, key, value)
        for path in _fields.figures(record, store_dir):
            self.client.log_artifact(run_id, str(path), "figures")
        self.client.set_terminated(run_id, "FINISHED" if record["status"] == "ok" else "FAILED")

    @guarded
    def log_record(self, record: dict, name: str) -> None:
        """A run computed here, whole: its params, curve, final metrics, tags and figures."""
        run_id = self.start(record, name)
        for step, metrics in _fields.curve(record):
            self.log(run_id, step, metrics)
        self.finish(run_id, record, self.store_dir)

    def callback(self, writer):
        return Callback(self, writer)


class Callback(MLflowLoggerCallback):
    """Each Tune trial as an MLflow run: started with its resolved hyperparameters, its curve logged
    as the trial reports it, ended with the record that ``writer`` (the store's callback, which
    runs first) wrote."""
    kind = "mlflow"

    def __init__(self, tracker: Tracker, writer):
        super().__init__(tracker.uri, experiment_name=tracker.experiment)
        self.tracker, self.writer = tracker, writer

    @guarded
    def setup(self, *args, **kwargs):
        super().setup(*args, **kwargs)

    @guarded
    def log_trial_start(self, trial):
        if trial in self._trial_runs:  # a trial Tune restarts goes on in its run
            return
        from ..runner import resolve
        spec = trial.config["trial"]
        config = resolve(spec["task"], spec["reg"], spec["settings"], spec["seed"])
        self._trial_runs[trial] = self.tracker.start(config.fields(), str(trial))

    @guarded
    def log_trial_result(self, iteration, trial, result):
        if "record_json" not in result and "step" in result:
            self.tracker.log(self._trial_runs[trial], *_fields.live(result))

    @guarded
    def log_trial_end(self, trial, failed=False):
        record = self.writer.written.get(trial.trial_id)
        if record is not None:
            self.tracker.finish(self._trial_runs[trial], record, self.writer.store.directory)
        else:
            self.tracker.client.set_terminated(self._trial_runs[trial], "FAILED")
