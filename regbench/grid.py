"""Experiment grids: tasks × regularizers × hyperparameters × seeds, from a TOML file or the CLI.

A grid file (``tasks/<study>.toml``)::

    [grid]
    name = "digits_latent"       # default: the file's stem
    description = "..."
    tasks = ["digits_ae"]
    regularizers = ["none", "eccentric"]
    seeds = 5                    # seeds 0..4, or a list of seeds
    metric = "test_mse"          # headline metric (Tune's "best so far"); declared by every task
    select = "val_mse"           # tuning mode only: validation metric (default: the task's val_*)
    ranked = true                # false: a sanity study, shown in a report but never ranked

    [resources]                  # per trial; a fractional gpu lets trials share a device
    cpu = 1
    gpu = 0

    [params]                     # applies to every trial whose task or regularizer declares the key
    epochs = 60
    lam = [1e-3, 1e-4]           # a list is a grid axis
    [params.eccentric]           # applies only to trials of this regularizer (or task)
    mu = [1.0, 4.5]

    [[table]]                    # a leaderboard table (``regbench leaderboard --study``)
    title = "Digits autoencoder"
    baseline = "../baselines/some_table.csv"   # relative to this file; optional
    metrics = ["test_mse"]       # default: every metric of the tasks
    tasks = ["digits_ae"]        # default: the grid's tasks

In tuning mode a value may also be a range, ``lam = {loguniform = [1e-5, 1e-1]}`` (or ``uniform``).
``"task.KEY"`` / ``"reg.KEY"`` (quoted) name a hyperparameter that both the task and the
regularizer declare. Every key and value is checked, and every trial validated with
:func:`regbench.runner.prepare`, before anything runs; errors name the file and line.
"""
from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import RegbenchError
from .params import check_unique, same_parameter, short
from .registry import REGULARIZERS, TASKS
from .record import RunConfig
from .runner import prepare, resolve

RANGES = ("loguniform", "uniform")
FILE_KEYS = {"grid", "resources", "params", "table"}
GRID_KEYS = {"name", "description", "tasks", "regularizers", "seeds", "metric", "select", "ranked"}
TABLE_KEYS = {"title", "baseline", "metrics", "tasks"}


class Locator:
    """Turns (section, key) into ``file:line`` for error messages (``command line`` inline)."""

    def __init__(self, path: Path | None = None, text: str = ""):
        self.path, self.lines = path, text.splitlines()

    def __call__(self, section: str, key: str | None = None) -> str:
        if self.path is None:
            return "command line"
        line = self._find(section, key) or (self._find(None, key) if key else None)
        return f"{self.path}:{line}" if line else str(self.path)

    def _find(self, section: str | None, key: str | None) -> int | None:
        current = ""
        for number, raw in enumerate(self.lines, 1):
            header = re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?", raw)
            if header:
                current = header.group(1).replace('"', "").replace(" ", "")
                if key is None and current == section:
                    return number
            elif key and (section is None or current == section) and re.match(
                    rf"""\s*(?:[\w.]+\.)?["']?{re.escape(key)}["']?\s*=""", raw):
                return number
        return None


@dataclass
class Table:
    """One leaderboard table of a study: a title, its tasks and metrics, published numbers."""
    title: str
    tasks: list[str]
    metrics: list[str] = field(default_factory=list)
    baseline: Path | None = None


@dataclass
class Grid:
    name: str
    tasks: list[str]
    regularizers: list[str]
    seeds: list[int] = field(default_factory=lambda: [0])
    params: dict[str, Any] = field(default_factory=dict)  # shared keys, and sections by name
    metric: str | None = None
    select: str | None = None
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0, "gpu": 0.0})
    tables: list[Table] = field(default_factory=list)
    description: str = ""
    ranked: bool = True  # false: a sanity study, shown in a report but never ranked
    where: Locator = field(default_factory=Locator, repr=False)

    def override(self, tasks=None, regularizers=None, seeds=None, params=None, cpu=None,
                 gpu=None) -> "Grid":
        """The grid with command-line values replacing (``params``: updating) the file's."""
        merged = {k: dict(v) if isinstance(v, dict) and not is_range(v) else v
                  for k, v in self.params.items()}
        for key, value in normalize(params or {}).items():
            if isinstance(value, dict) and not is_range(value):
                section = merged.setdefault(key, {})
                for name, item in value.items():
                    replace_key(section, name, item)
            else:
                replace_key(merged, key, value)
        resources = {"cpu": self.resources["cpu"] if cpu is None else cpu,
                     "gpu": self.resources["gpu"] if gpu is None else gpu}
        return replace(self, tasks=tasks or self.tasks, params=merged, resources=resources,
                       regularizers=regularizers or self.regularizers,
                       seeds=self.seeds if seeds is None else seeds)

    @property
    def shared(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if not isinstance(v, dict) or is_range(v)}

    @property
    def sections(self) -> dict[str, dict]:
        return {k: v for k, v in self.params.items() if isinstance(v, dict) and not is_range(v)}

    def metric_for(self, task: str) -> str | None:
        """The metric ``task`` is ranked on in this study (one for every task of a grid)."""
        return self.metric

    def select_for(self, task: str) -> str | None:
        """The validation metric ``task``'s configurations are chosen on."""
        return self.select

    def mode(self, metric: str | None) -> str | None:
        """``min``/``max`` when every task of the grid declares that direction for ``metric``."""
        directions = {TASKS.get(t).directions().get(metric) for t in self.tasks}
        return directions.pop() if len(directions) == 1 and directions <= {"min", "max"} else None

    def settings_for(self, task: str, reg: str) -> dict[str, Any]:
        """Shared, then task-section, then regularizer-section values that this pair declares."""
        merged = {}
        for layer in (self.shared, self.sections.get(task, {}), self.sections.get(reg, {})):
            for key, value in layer.items():
                if owners(key, [task], [reg]):
                    replace_key(merged, key, value)
        return merged

    def check(self) -> None:
        """Names, metrics, keys and values; raises ``RegbenchError`` naming file and line."""
        for kind, registry, names in (("tasks", TASKS, self.tasks),
                                      ("regularizers", REGULARIZERS, self.regularizers)):
            if not names:
                raise RegbenchError(f"{self.where('grid', kind)}: the grid names no {kind}")
            registered(names, registry, self.where("grid", kind))
        for metric in filter(None, (self.metric, self.select)):
            for task in self.tasks:
                declared = TASKS.get(task).directions()
                if declared and metric not in declared:
                    raise RegbenchError(f"{self.where('grid', 'metric')}: task '{task}' has no "
                                        f"metric '{metric}' (it has {', '.join(declared)})")
        check_unique(self.shared, self.where("params"))
        for name, section in self.sections.items():
            check_unique(section, self.where(f"params.{name}"))
        for key, value in self.shared.items():
            if not owners(key, self.tasks, self.regularizers) and \
                    owners(key, TASKS.names(), REGULARIZERS.names()):
                continue  # a key of tasks or regularizers left out of this run (e.g. λ with only none)
            self._check_key("params", key, value, self.tasks, self.regularizers)
        for name, section in self.sections.items():
            if name in self.tasks:
                scope = ([name], self.regularizers)
            elif name in self.regularizers:
                scope = (self.tasks, [name])
            elif name in TASKS.names() or name in REGULARIZERS.names():
                continue  # a section for a task or regularizer left out of this run
            else:
                raise RegbenchError(f"{self.where(f'params.{name}')}: [params.{name}]: '{name}' is "
                                    f"neither a task nor a regularizer")
            for key, value in section.items():
                self._check_key(f"params.{name}", key, value, *scope)

    def _check_key(self, section, key, value, tasks, regs) -> None:
        where = self.where(section, key.rpartition(".")[2])
        classes = owners(key, tasks, regs)
        if not classes:
            raise RegbenchError(f"{where}: no task or regularizer of this grid has a hyperparameter "
                                f"'{key}' (tasks: {', '.join(tasks)}; "
                                f"regularizers: {', '.join(regs)})")
        values = value if isinstance(value, list) else [value]
        if is_range(value):
            values = range_bounds(value, f"{where}: {key}")
        elif isinstance(value, dict) or not values:
            raise RegbenchError(f"{where}: {key} must be a value, a non-empty list or a range "
                                f"{{loguniform|uniform = [low, high]}}")
        for cls in classes:
            param = cls.params()[key.rpartition(".")[2]]
            for item in values:
                try:
                    param.coerce(item, f"{cls.kind} '{cls.registered_name}'")
                except RegbenchError as exc:
                    raise RegbenchError(f"{where}: {exc}") from None

    def trials(self, ranges_as_bounds: bool = False, check_data: bool = True,
               plan: bool = True) -> list[RunConfig]:
        """Every trial, validated and without duplicate runs (tasks, regularizers, axes, seeds).

        Ranges are an error unless ``ranges_as_bounds`` (tuning mode validates their bounds).
        ``plan=False``: resolved only (:func:`~regbench.runner.resolve`), without the checks of
        this machine and of compatibility that running needs: what reading a study's runs uses."""
        self.check()
        configs: dict[str, RunConfig] = {}
        for task, reg in itertools.product(self.tasks, self.regularizers):
            settings = self.settings_for(task, reg)
            for key, value in settings.items():
                if is_range(value):
                    if not ranges_as_bounds:
                        raise RegbenchError(f"{self.where('params', key)}: {key} is a range; "
                                            f"ranges need tuning mode (--tune)")
                    settings[key] = range_bounds(value, key)
            axes = {k: v for k, v in settings.items() if isinstance(v, list)}
            for combo in itertools.product(*axes.values()):
                values = {**settings, **dict(zip(axes, combo))}
                for seed in self.seeds:
                    try:
                        config = (prepare(task, reg, values, seed, check_data) if plan
                                  else resolve(task, reg, values, seed))
                    except RegbenchError as exc:
                        label = ", ".join(f"{k}={v}" for k, v in values.items())
                        raise RegbenchError(f"{self.where('grid')}: trial {task} × {reg} ("
                                            f"{label or 'defaults'}; seed {seed}): {exc}") from None
                    configs.setdefault(config.run_key, config)  # `none` once whatever λ
        return list(configs.values())

    def run_keys(self) -> list[str]:
        """The run keys of the grid's trials, from identity alone: rendering a study's leaderboard
        or report never plans a run (no memory or data check)."""
        return [config.run_key for config in self.trials(check_data=False, plan=False)]


def owners(key: str, tasks: list[str], regs: list[str]) -> list[type]:
    """The task and regularizer classes that declare ``key`` (``task.``/``reg.`` restrict)."""
    scope, _, name = key.rpartition(".")
    classes = ([TASKS.get(t) for t in tasks] if scope != "reg" else []) + \
              ([REGULARIZERS.get(r) for r in regs] if scope != "task" else [])
    return [cls for cls in classes if name in cls.params()]


def replace_key(settings: dict, key: str, value) -> None:
    """``settings[key] = value``, dropping any other key for the same hyperparameter (a later
    layer, or the command line, overrides ``lam`` with ``reg.lam``)."""
    for other in [k for k in settings if same_parameter(k, key)]:
        del settings[other]
    settings[key] = value


def is_range(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in RANGES


def range_bounds(value: dict, what: str) -> list[float]:
    (kind, bounds), = value.items()
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            and bounds[0] < bounds[1] and (kind == "uniform" or bounds[0] > 0)):
        raise RegbenchError(f"{what}: {kind} needs [low, high] with low < high"
                            f"{' and low > 0' if kind == 'loguniform' else ''}")
    return list(bounds)


def normalize(params: dict) -> dict:
    """``{"eccentric.mu": v}`` → ``{"eccentric": {"mu": v}}`` (``task.``/``reg.`` keys stay)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        scope, _, name = key.rpartition(".")
        if scope and scope not in ("task", "reg"):
            out.setdefault(scope, {})[name] = value
        elif isinstance(value, dict) and not is_range(value):
            out.setdefault(key, {}).update(normalize(value))
        else:
            out[key] = value
    return out


def parse_values(settings: dict[str, str]) -> dict[str, Any]:
    """Command-line ``key=a,b`` values: one string, or a list of strings (a grid axis)."""
    return {k: (v.split(",") if "," in v else v) for k, v in settings.items()}


def parse_seeds(text: str) -> list[int]:
    """``5`` → seeds 0..4; ``0,3,7`` → those seeds."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        seeds = [-1]
    if min(seeds) < 0 or ("," not in text and seeds[0] < 1):
        raise RegbenchError(f"--seeds expects a count ≥ 1 or a comma-separated list of seeds, "
                            f"got '{text}'")
    return list(range(seeds[0])) if "," not in text else seeds


def labels(params: list[dict], groups: list | None = None) -> list[str]:
    """``k=v, ...`` for each hyperparameter dict: the keys whose values differ among the dicts
    of its group (e.g. its task and regularizer; all dicts are one group by default)."""
    groups = groups or [None] * len(params)
    varying: dict = {}
    for group in dict.fromkeys(groups):
        members = [p for p, g in zip(params, groups) if g == group]
        keys = dict.fromkeys(k for p in members for k in p)
        varying[group] = [k for k in keys if len({repr(p.get(k)) for p in members}) > 1]
    return [", ".join(f"{k}={short(p[k])}" for k in varying[g] if k in p)
            for p, g in zip(params, groups)]


def inline_grid(tasks: list[str], regularizers: list[str], settings: dict[str, str],
                seeds: list[int] | None = None) -> Grid:
    """The grid of ``regbench grid --task ... --reg ... --set k=a,b --seeds N``."""
    return Grid("inline", tasks, regularizers, seeds if seeds is not None else [0],
                normalize(parse_values(settings)))


def load_grid(path: str | Path) -> Grid:
    """Parse and check a grid file (``RegbenchError`` naming the file and line on any problem)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RegbenchError(f"cannot read grid file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"{path}: invalid TOML: {exc}{repeated_key(str(exc), text)}") from None
    where = Locator(path, text)
    _known(data, FILE_KEYS, where, None)
    head = _table(data, "grid", where)
    _known(head, GRID_KEYS, where, "grid")
    resources = _table(data, "resources", where)
    _known(resources, {"cpu", "gpu"}, where, "resources")
    grid = Grid(
        name=_typed(head.get("name", path.stem), str, where, "grid", "name"),
        description=_typed(head.get("description", ""), str, where, "grid", "description"),
        tasks=_names(head.get("tasks"), where, "grid", "tasks"),
        regularizers=_names(head.get("regularizers"), where, "grid", "regularizers"),
        seeds=_seeds(head.get("seeds", 1), where),
        metric=_typed(head.get("metric"), str, where, "grid", "metric"),
        select=_typed(head.get("select"), str, where, "grid", "select"),
        ranked=_typed(head.get("ranked", True), bool, where, "grid", "ranked"),
        params=normalize(_table(data, "params", where)),
        resources={k: _amount(resources.get(k, d), where, k) for k, d in (("cpu", 1), ("gpu", 0))},
        where=where)
    grid.tables = [_study_table(t, grid, path, where) for t in data.get("table", [])]
    grid.check()
    return grid


def repeated_key(message: str, text: str) -> str:
    """``; key 'lam' is given twice in one table`` for TOML's "Cannot overwrite a value" error."""
    found = re.search(r"Cannot overwrite a value \(at line (\d+)", message)
    if not found:
        return ""
    key = text.splitlines()[int(found[1]) - 1].partition("=")[0].strip()
    return f"; key {key} is given twice in one table"


def _study_table(spec, grid: Grid, path: Path, where: Locator) -> Table:
    if not isinstance(spec, dict):
        raise RegbenchError(f"{where('table')}: [[table]] must be a table")
    _known(spec, TABLE_KEYS, where, "table")
    baseline = spec.get("baseline")
    if baseline is not None and not (path.parent / _typed(baseline, str, where, "table",
                                                          "baseline")).is_file():
        raise RegbenchError(f"{where('table', 'baseline')}: baseline file {baseline} not found "
                            f"(paths are relative to {path.parent})")
    return Table(title=_typed(spec.get("title", grid.name), str, where, "table", "title"),
                 tasks=_names(spec.get("tasks", grid.tasks), where, "table", "tasks"),
                 metrics=_names(spec.get("metrics", []), where, "table", "metrics", empty=True),
                 baseline=path.parent / baseline if baseline else None)


def _known(table: dict, allowed: set, where: Locator, section: str | None) -> None:
    for key in table:
        if key not in allowed:
            place = f"[{section}]" if section else "the top level"
            raise RegbenchError(f"{where(section or key, key if section else None)}: unknown key "
                                f"'{key}' in {place} (allowed: {', '.join(sorted(allowed))})")


def _table(data: dict, key: str, where: Locator) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RegbenchError(f"{where(key)}: [{key}] must be a table")
    return value


def _typed(value, kind, where: Locator, section: str, key: str):
    if value is not None and not isinstance(value, kind):
        raise RegbenchError(f"{where(section, key)}: {key} must be a {kind.__name__}, "
                            f"got {value!r}")
    return value


def _names(value, where: Locator, section: str, key: str, empty: bool = False) -> list[str]:
    if value is None or not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
            or not (value or empty):
        raise RegbenchError(f"{where(section, key)}: {key} must be a non-empty list of names")
    return value


def _seeds(value, where: Locator) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and s >= 0 for s in value):
        return value
    raise RegbenchError(f"{where('grid', 'seeds')}: seeds must be a count ≥ 1 or a list of "
                        f"non-negative integers, got {value!r}")


def _amount(value, where: Locator, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RegbenchError(f"{where('resources', key)}: {key} must be a number ≥ 0, got {value!r}")
    return float(value)


def registered(names: list[str], registry, where: str) -> None:
    """Refuse, naming ``where``, the first of ``names`` that ``registry`` does not hold."""
    for name in names:
        try:
            registry.get(name)
        except RegbenchError as exc:
            raise RegbenchError(f"{where}: {exc}") from None
