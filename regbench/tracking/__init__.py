"""Experiment trackers beside the results store: ``--track mlflow[=URI]``, ``--track wandb[=PROJECT]``.

The results store stays the source of truth. A tracker that is not installed, cannot start or fails
while logging is said in one line and switched off; the run goes on and its record is written as
always. Each run this command computes becomes one tracked run with its hyperparameters as params
(``task.*``, ``reg.*``, task, reg, seed), its training curve (every number the task reports per
period, ``train_loss`` and the validation metrics, by epoch), its final metrics, tags (run key,
configuration key, task, regularizer, seed, status, record id) and its figures as artifacts.
MLflow's default is a SQLite file beside the store (``<results>/mlflow.db``, artifacts in
``<results>/mlartifacts``); W&B runs offline into ``<results>/wandb`` unless the user configured
W&B (``WANDB_MODE``, ``WANDB_API_KEY`` or ``wandb login``).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

TRACKERS = {"mlflow": "MLflow tracking URI", "wandb": "W&B project"}


@dataclass(frozen=True)
class Track:
    """A ``--track`` value: the tracker and where it logs (``None``: its default)."""
    kind: str
    where: str | None = None


def parse_track(text: str) -> Track:
    kind, _, where = text.partition("=")
    if kind not in TRACKERS:
        raise argparse.ArgumentTypeError(
            f"unknown tracker '{kind}'; available: "
            + ", ".join(f"{name}[={what}]" for name, what in TRACKERS.items()))
    return Track(kind, where or None)


def say_off(kind: str, problem) -> None:
    """The one line of a tracker that is switched off."""
    print(f"regbench: --track {kind}: {problem}; tracking is off (the results store records as "
          f"always)", file=sys.stderr)


def open_tracker(track: Track, store_dir: Path, experiment: str):
    """The tracker of ``track`` logging into ``experiment`` (the grid's name, ``regbench`` for single
    runs), or ``None`` when it cannot start (said in one line)."""
    try:
        backend = importlib.import_module(f"._{track.kind}", __name__)
    except ImportError as exc:
        missing = (exc.name or track.kind).split(".")[0]
        say_off(track.kind, f"{missing} is not installed (pip install \"regbench[track]\")")
        return None
    try:
        return backend.Tracker(track.where, Path(store_dir).resolve(), experiment)
    except Exception as exc:  # a tracker that cannot start never stops the runs
        say_off(track.kind, f"could not start: {one_line(exc)}")
        return None


def callbacks(trackers, writer) -> list:
    """The Ray Tune callbacks of ``trackers`` for a grid whose records ``writer`` writes; one that
    cannot be made is said in one line and left out."""
    made = []
    for tracker in trackers:
        try:
            made.append(tracker.callback(writer))
        except Exception as exc:
            say_off(tracker.kind, f"could not start: {one_line(exc)}")
    return made


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
