"""Published numbers (``baselines/*.csv``, see ``baselines/README.md``) beside ours.

A baseline row matches a leaderboard row with the same task, metric and regularizer whose
hyperparameters include every ``key=value`` of the row's ``config`` (numbers compared with a
relative tolerance of 1e-9, other values case-insensitively).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import RegbenchError

COLUMNS = ["paper", "table", "task", "metric", "reg", "config", "value", "plusminus", "note"]


def load_baselines(path: str | Path) -> pd.DataFrame:
    """The rows of one baseline file, checked (``RegbenchError`` naming file and line)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise RegbenchError(f"cannot read baseline file {path}: {exc}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RegbenchError(f"{path}: missing columns {', '.join(missing)}")
    for line, row in enumerate(frame.itertuples(), 2):
        try:
            float(row.value), float(row.plusminus or 0), parse_config(row.config)
        except ValueError as exc:
            raise RegbenchError(f"{path}:{line}: {exc}") from None
    return frame


def parse_config(text: str) -> dict[str, str]:
    """``"lam=1e-3,mu=1"`` → ``{"lam": "1e-3", "mu": "1"}``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if any("=" not in item for item in items):
        raise ValueError(f"config must be key=value pairs separated by commas, got '{text}'")
    return dict(item.split("=", 1) for item in items)


def same(ours, published: str) -> bool:
    try:
        return math.isclose(float(ours), float(published), rel_tol=1e-9)
    except (TypeError, ValueError):
        return str(ours).lower() == published.lower()


def attach(summary: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``published``, ``published_pm`` and ``source`` of the first matching row."""
    published, plusminus, source = [], [], []
    for row in summary.itertuples():
        candidates = baselines[(baselines.task == row.task) & (baselines.metric == row.metric)
                               & (baselines.reg == row.reg)]
        match = next((b for b in candidates.itertuples() if all(
            k in row.params and same(row.params[k], v) for k, v in parse_config(b.config).items())),
            None)
        published.append(float(match.value) if match else math.nan)
        plusminus.append(float(match.plusminus) if match and match.plusminus else math.nan)
        source.append(f"{match.paper}, {match.table}" if match else "")
    return summary.assign(published=published, published_pm=plusminus, source=source)
