"""What a tracked run holds, read from a run's configuration, its Tune results and its record."""
from __future__ import annotations

import math
from pathlib import Path

from ..record import figures_dir

TUNE_KEYS = {"step", "outcome", "record_json", "done", "training_iteration", "time_total_s",
             "time_this_iter_s", "time_since_restore", "timestamp", "timesteps_total",
             "timesteps_since_restore", "iterations_since_restore", "episodes_total", "pid"}


def params(fields: dict) -> dict[str, str]:
    """Every resolved hyperparameter as ``task.*`` and ``reg.*``, with task, reg and seed; from a
    record or :meth:`RunConfig.fields`."""
    return {"task": fields["task"], "reg": fields["reg"], "seed": str(fields["seed"]),
            **{f"task.{k}": str(v) for k, v in fields["task_params"].items()},
            **{f"reg.{k}": str(v) for k, v in fields["reg_params"].items()}}


def tags(fields: dict, status: str) -> dict[str, str]:
    """The run's identity and status (``record_id`` once it is recorded)."""
    found = {"run_key": fields["run_key"], "config_key": fields["config_key"],
             "task": fields["task"], "reg": fields["reg"], "seed": str(fields["seed"]),
             "status": status}
    if "id" in fields:
        found.update(record_id=fields["id"], error=(fields.get("error") or "")[:500])
    return found


def number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def final_metrics(record: dict) -> dict[str, float]:
    """The record's finite scalar metrics, with its wall and training seconds."""
    found = {k: float(v) for k, v in record["metrics"].items() if number(v)}
    for name in ("wall_time_s", "train_time_s"):
        if number(record.get(name)):
            found[name] = float(record[name])
    return found


def curve(record: dict) -> list[tuple[int, dict[str, float]]]:
    """The training curve: per reported epoch, the numbers reported then."""
    series = record["metrics"].get("curve") or {}
    steps = series.get("step", [])
    return [(int(step), {name: float(values[i]) for name, values in series.items()
                         if name != "step" and len(values) == len(steps) and number(values[i])})
            for i, step in enumerate(steps)]


def live(result: dict) -> tuple[int, dict[str, float]]:
    """(epoch, the task's numbers) of an intermediate Tune result of a trial."""
    return int(result["step"]), {k: float(v) for k, v in result.items()
                                 if k not in TUNE_KEYS and number(v)}


def figures(record: dict, store_dir: Path) -> list[Path]:
    """The run's figure files, where the store placed them."""
    folder = Path(store_dir, figures_dir(record["id"]))
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
