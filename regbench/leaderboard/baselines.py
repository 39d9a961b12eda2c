"""Published numbers (``baselines/*.csv``, see ``baselines/README.md``) beside ours.

A baseline row matches a leaderboard row with the same task, metric and regularizer whose
hyperparameters include every ``key=value`` of the row's ``config`` (numbers compared with a
relative tolerance of 1e-9, other values case-insensitively).

Each row also gives the ``scale`` of the paper's experiment: ``key=value`` pairs of the task's
hyperparameters (epochs, iterations, training-set size, generated samples, …). A matched row is at
the paper's scale (``scale_match``) only when every one of them equals the run's resolved value;
an empty scale means the source does not give it, and nothing is at that scale. A difference to
the published number is meaningful only where ``scale_match`` holds.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import RegbenchError

COLUMNS = ["paper", "table", "task", "metric", "reg", "config", "scale", "value", "plusminus",
           "note"]


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
            float(row.value), float(row.plusminus or 0)
            config = parse_config(row.config)
            both = sorted(set(config) & set(parse_config(row.scale, "scale")))
            if both:
                raise ValueError(f"{', '.join(both)} in both config and scale")
        except ValueError as exc:
            raise RegbenchError(f"{path}:{line}: {exc}") from None
    return frame


def parse_config(text: str, column: str = "config") -> dict[str, str]:
    """``"lam=1e-3,mu=1"`` → ``{"lam": "1e-3", "mu": "1"}`` (also the ``scale`` column)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if any("=" not in item or not item.split("=", 1)[0].strip() for item in items):
        raise ValueError(f"{column} must be key=value pairs separated by commas, got '{text}'")
    pairs = [tuple(part.strip() for part in item.split("=", 1)) for item in items]
    keys = [key for key, _ in pairs]
    if len(set(keys)) < len(keys):
        raise ValueError(f"{column} names a key twice: '{text}'")
    return dict(pairs)


def scale_text(text: str) -> str:
    """The scale as shown: ``"epochs=100,train_size=0"`` → ``"epochs=100, train_size=0"``."""
    return ", ".join(f"{k}={v}" for k, v in parse_config(text, "scale").items())


def same(ours, published: str) -> bool:
    try:
        return math.isclose(float(ours), float(published), rel_tol=1e-9)
    except (TypeError, ValueError):
        return str(ours).lower() == published.lower()


def has_all(params: dict, pairs: dict[str, str]) -> bool:
    return all(k in params and same(params[k], v) for k, v in pairs.items())


def attach(summary: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with the first matching row's ``published``, ``published_pm``, ``source``,
    ``scale_match`` (the row's ``params`` has every ``key=value`` of a non-empty scale) and
    ``published_scale`` (the scale's text; empty when unknown or unmatched)."""
    published, plusminus, source, at_scale, scales = [], [], [], [], []
    for row in summary.itertuples():
        params = row.params if isinstance(row.params, dict) else {}
        candidates = baselines[(baselines.task == row.task) & (baselines.metric == row.metric)
                               & (baselines.reg == row.reg)]
        match = next((b for b in candidates.itertuples()
                      if has_all(params, parse_config(b.config))), None)
        scale = parse_config(match.scale, "scale") if match else {}
        published.append(float(match.value) if match else math.nan)
        plusminus.append(float(match.plusminus) if match and match.plusminus else math.nan)
        source.append(f"{match.paper}, {match.table}" if match else "")
        at_scale.append(bool(scale) and has_all(params, scale))
        scales.append(scale_text(match.scale) if match else "")
    return summary.assign(published=published, published_pm=plusminus, source=source,
                          scale_match=pd.Series(at_scale, index=summary.index, dtype=bool),
                          published_scale=scales)
