"""The run record: what identifies a run, the fields its record holds, the layout version and the
upgrade of older layouts, and where its files go beside the store. The runner writes records with
:func:`make_record`, the store reads and checks them, migration upgrades them; nothing here knows
how a run trains or where a store lives.

**Identity.** A run is its task and regularizer, each one's ``version``, the hyperparameters that
are part of identity and differ from their default, and the seed. Adding a hyperparameter with a
default keeps every existing record matched; a change of meaning is declared by bumping the
class's ``version``. Switches that cannot change a result (``Param(identity=False)``: figures,
layer geometry, memory layout, compilation, a weights file's path) are not part of it. The weight
λ of a regularizer's term is the regularizer's hyperparameter, whose default is the task's
(``Task.term_defaults``); ``none`` has none, so it is one run per seed whatever λ. ``run_key``
hashes the identity with the seed, ``config_key`` without it (one leaderboard row).

**Layout** (``record_version``): 4. ``metrics`` holds numbers only; strings a run reports (its
target, a split's digest, a note) are its ``info``; arrays and other values go to the run's
artifact file (:func:`artifact_file`), its figures to :func:`figures_dir` (both by way of
:func:`staging_dir`). ``hardware`` (CPU model, instruction set, BLAS, threads: what a CPU run's
last bits depend on) is information, not identity; records made before it lack it, and readers take
it as optional. Layout 3 had the strings among the metrics, and the switches above in the identity;
1 and 2 had λ and ``target`` among the task's hyperparameters (and 1 the arrays inside the record).
:func:`upgrade` brings a record of any of them to the current layout.
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any

from .errors import RegbenchError
from .git import git_commit
from .registry import REGULARIZERS, TASKS

RECORD_VERSION = 4  # 4: strings in info, identity without the switches that cannot change a result
REQUIRED = ("id", "run_key", "config_key", "task", "reg", "seed", "status", "metrics")
MOVED_TO_REGULARIZER = ("lam", "target")  # task hyperparameters of layouts 1 and 2


def artifact_file(record_id: str) -> str:
    """The path of a run's artifact file, relative to the store directory."""
    return f"artifacts/{record_id}.json"


def figures_dir(record_id: str) -> str:
    """The folder of a run's figures, relative to the store directory."""
    return f"figures/{record_id}"


def staging_dir(run_key: str, record_id: str) -> str:
    """Where a run writes its files until its record is appended (they then move to their places
    above), relative to the store directory."""
    return f"staging/{run_key}/{record_id}"


# ---- identity ---------------------------------------------------------------------------------

def changed_params(cls, values: dict[str, Any], defaults: dict | None = None) -> dict[str, Any]:
    """The entries of ``values`` (resolved hyperparameters of ``cls``) that are part of identity
    and differ from what resolving without them gives: the defaults (``defaults`` replacing
    declared ones), or the values a default is derived from."""
    declared = cls.params()
    changed = {}
    for name, value in values.items():
        if name not in declared:
            changed[name] = value  # a hyperparameter this version of the class no longer has
            continue
        if not declared[name].identity:
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


def none_identity(task_cls, task_version: int, task_changed: dict) -> dict:
    """The identity of ``none`` on a task's hyperparameters (a run's baseline)."""
    none = REGULARIZERS.get("none")
    return {"task": task_cls.registered_name, "task_version": task_version, "reg": "none",
            "reg_version": none.version, "params": {"task": task_changed, "reg": {}}}


@dataclass(frozen=True)
class RunConfig:
    """A fully resolved configuration: every hyperparameter with its default filled in."""
    task: str
    reg: str
    task_params: dict
    reg_params: dict
    seed: int

    @cached_property
    def identity(self) -> dict:
        return identity(TASKS.get(self.task), REGULARIZERS.get(self.reg), self.task_params,
                        self.reg_params)

    @cached_property
    def keys(self) -> tuple[str, str]:
        return keys(self.identity, self.seed)

    @property
    def run_key(self) -> str:
        return self.keys[0]

    @property
    def config_key(self) -> str:
        return self.keys[1]

    def fields(self) -> dict:
        """The record fields that say which run this is and how to read it: its keys, the
        ``config_key`` of ``none`` on the same task hyperparameters (its baseline), and the
        task's metrics in order with their directions, and its cross-run metrics."""
        task_cls = TASKS.get(self.task)
        baseline = none_identity(task_cls, task_cls.version, self.identity["params"]["task"])
        return {"run_key": self.run_key, "config_key": self.config_key,
                "none_key": keys(baseline, 0)[1], **self.identity, "seed": self.seed,
                "task_params": self.task_params, "reg_params": self.reg_params,
                "directions": list(task_cls.directions().items()),
                "cross_run": list(task_cls.cross_run_metrics)}


# ---- the record -------------------------------------------------------------------------------

def split_metrics(values: dict) -> tuple[dict, dict, dict]:
    """(numbers: the metrics, other scalars: the info, the rest: for the artifact file)."""
    numbers = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    info = {k: v for k, v in values.items() if k not in numbers and isinstance(v, (str, bool, type(None)))}
    return numbers, info, {k: v for k, v in values.items() if k not in numbers and k not in info}


def make_record(config: RunConfig, device: str, status: str, error: str | None, *,
                record_id: str | None = None, metrics: dict | None = None, data: dict | None = None,
                trace: str | None = None, started: datetime | None = None, wall_time_s: float = 0.0,
                train_time_s: float | None = None) -> dict:
    """The run record of ``config``; also for a trial that ended without one (its worker died).
    ``metrics`` is what the task reported: numbers become the metrics, strings the info, the rest
    (arrays, figure names) stays among the metrics until the store moves it to the run's files."""
    numbers, info, rest = split_metrics(metrics or {})
    return {
        "record_version": RECORD_VERSION,
        "id": record_id or uuid.uuid4().hex[:12],
        **config.fields(),
        "metrics": {**numbers, **rest},
        "info": info,
        "data": data or {},
        "status": status,
        "error": error,
        "traceback": trace,
        "started_at": (started or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        "train_time_s": None if train_time_s is None else round(train_time_s, 3),
        "versions": versions(),
        "device": describe_device(device),
        "hardware": hardware(),
        "host": socket.gethostname(),
    }


@lru_cache(maxsize=1)
def versions() -> dict[str, str | None]:
    """What ran the run: python, torch, the CUDA torch was built with (``None`` without), the
    operating system, regbench and its git commit (records made before ``cuda`` and ``platform``
    lack them)."""
    import torch

    from . import __version__
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "platform": platform.platform(),
            "regbench": __version__, "git_commit": git_commit()}


def hardware() -> dict[str, str | int]:
    """What a CPU run's last bits depend on: the CPU model, the instruction set torch's kernels
    use, the BLAS torch was built with, and the thread count. Information, not identity: the same
    run on another CPU gives other round-off."""
    import torch
    return {**_cpu_and_blas(), "isa": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


@lru_cache(maxsize=1)
def _cpu_and_blas() -> dict[str, str]:
    import torch
    build = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", build)
    blas_version = re.search(r"Math Kernel Library Version ([\w.]+)", build)
    return {"cpu": cpu_model(), "blas": " ".join(m.group(1) for m in (blas, blas_version) if m)
            or "unknown"}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_device(device: str) -> str:
    import torch
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


# ---- older layouts ----------------------------------------------------------------------------

def old_version(record: dict) -> int | None:
    """The layout version of a record older than the current one (``None`` for anything else)."""
    version = record.get("record_version")
    if version == 1 or (version is None and "config_hash" in record):
        return 1
    if isinstance(version, int) and 1 < version < RECORD_VERSION and "run_key" in record:
        return version
    return None


def upgrade(record: dict) -> dict:
    """A record of an older layout in the current one (a v1 record's arrays still in ``metrics``;
    the store moves them out). Layouts 1 and 2 get their identity anew from the installed classes
    (λ and ``target`` moved to the regularizer); layout 3 keeps its own, less the switches that
    are no longer part of identity."""
    version = old_version(record)
    fields = _resolved_fields(record) if version < 3 else _identity_without_switches(record)
    numbers, info, rest = split_metrics(record["metrics"])
    out = {k: v for k, v in record.items() if k not in ("config_hash", "artifacts") or
           (k == "artifacts" and version > 1)}
    return {**out, **fields, "metrics": {**numbers, **rest}, "info": {**info, **(record.get("info") or {})},
            "record_version": RECORD_VERSION}


def _classes(record: dict):
    try:
        return TASKS.get(record["task"]), REGULARIZERS.get(record["reg"])
    except RegbenchError as exc:
        raise RegbenchError(f"cannot migrate record {record.get('id')}: {exc} (load the plugin that "
                            f"registers it with --plugin)") from None


def _resolved_fields(record: dict) -> dict:
    """A layout 1 or 2 record's fields, its hyperparameters resolved by the installed classes."""
    task_cls, reg_cls = _classes(record)
    task_params, reg_params = dict(record["task_params"]), dict(record["reg_params"])
    try:
        for name in MOVED_TO_REGULARIZER:
            value = task_params.pop(name, None)
            if value is not None and name in reg_cls.params() and name not in reg_params:
                reg_params[name] = value
        reg_params = reg_cls.resolve(reg_params, defaults=task_cls.term_defaults)
        return RunConfig(record["task"], record["reg"], task_params, reg_params,
                         record["seed"]).fields()
    except RegbenchError as exc:
        raise RegbenchError(f"cannot migrate record {record.get('id')}: {exc}") from None


def _identity_without_switches(record: dict) -> dict:
    """A layout 3 record's identity, its stored versions and hyperparameters kept, less those
    that are not part of identity; its keys and its baseline's key computed again."""
    task_cls, reg_cls = _classes(record)

    def kept(cls, changed: dict) -> dict:
        declared = cls.params()
        return {k: v for k, v in changed.items() if k not in declared or declared[k].identity}
    params = {"task": kept(task_cls, record["params"]["task"]), "reg": kept(reg_cls, record["params"]["reg"])}
    config_identity = {"task": record["task"], "task_version": record.get("task_version", 1),
                       "reg": record["reg"], "reg_version": record.get("reg_version", 1), "params": params}
    run_key, config_key = keys(config_identity, record["seed"])
    baseline = none_identity(task_cls, config_identity["task_version"], params["task"])
    return {**config_identity, "run_key": run_key, "config_key": config_key,
            "none_key": keys(baseline, 0)[1]}
