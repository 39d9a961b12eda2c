"""A run's identity: what makes two runs the same run.

A run is identified by its task and regularizer, each one's ``version``, the hyperparameters whose
value differs from their default, and the seed. Adding a hyperparameter with a default therefore
keeps every existing record matched; a change of meaning is declared by bumping the class's
``version``. The weight λ of a regularizer's term is the regularizer's hyperparameter, whose default
is the task's (``Task.term_defaults``); ``none`` has none, so it is one run per seed whatever λ.

``run_key`` hashes the identity with the seed, ``config_key`` without it (one leaderboard row).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from .errors import RegbenchError


def changed_params(cls, values: dict[str, Any], defaults: dict | None = None) -> dict[str, Any]:
    """The entries of ``values`` (resolved hyperparameters of ``cls``) that differ from what
    resolving without them gives: the defaults (``defaults`` replacing declared ones), or the values
    a default is derived from."""
    declared = cls.params()
    changed = {}
    for name, value in values.items():
        if name not in declared:
            changed[name] = value  # a hyperparameter this version of the class no longer has
            continue
        try:
            default = cls.resolve({k: v for k, v in values.items() if k != name and k in declared},
                                  defaults)
        except RegbenchError:
            default = {}
        if default.get(name, declared[name].default) != value:
            changed[name] = value
    return changed


def identity(task_cls, reg_cls, task_params: dict, reg_params: dict) -> dict[str, Any]:
    """The identity of a configuration (without the seed)."""
    return {"task": task_cls.registered_name, "task_version": task_cls.version,
            "reg": reg_cls.registered_name, "reg_version": reg_cls.version,
            "params": {"task": changed_params(task_cls, task_params),
                       "reg": changed_params(reg_cls, reg_params, task_cls.term_defaults)}}


def digest(value: Any) -> str:
    """16 hex digits of the sha256 of ``value``'s canonical JSON."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def keys(config_identity: dict, seed: int) -> tuple[str, str]:
    """(run_key, config_key)."""
    return digest({**config_identity, "seed": seed}), digest(config_identity)
