"""A benchmark suite: every regularizer of a family on every task of the family, tuned with one
budget, evaluated on other seeds (``regbench suite suites/cpu.toml``).

A regularizer runs on the tasks of its family that expose its target (a posterior regularizer on
the tasks with a stochastic encoder); the report ranks the incomplete design with every cell.

A suite file (``suites/<name>.toml``)::

    [suite]
    name = "cpu"
    description = "..."
    factors = [0.1, 1.0, 10.0]     # each coefficient at these multiples of its default
    selection_seeds = [100, 101]   # seeds of the selection runs
    evaluation_seeds = 8           # seeds 0..7 (or a list), none of them a selection seed

    [family.codes]                 # regularizers compared with each other and with none
    regularizers = ["none", "eccentric", "mmd_imq"]
    coefficients = ["lam"]         # what the factors multiply (all of them together)
    tasks = ["digits_ae"]          # the ranked tasks
    sanity = ["sphere"]            # run at the defaults, shown, never ranked
    [family.codes.params.mhe]      # a regularizer's fixed hyperparameters in this family
    target = "codes"

    [task.digits_ae]               # the task's scale: the same for every regularizer and none
    metric = "test_mse"            # ranked on
    select = "val_mse"             # chosen on (a validation metric)
    seconds = 3                    # one run on its resources, measured: the plan's estimate
    params = { epochs = 30 }
    smoke = { epochs = 1 }         # the scale of --smoke

The protocol, per family, task and regularizer other than ``none``:

1. **selection**: the regularizer's ``coefficients`` at each factor times their default on the
   task (the task's λ for a term, the regularizer's own for the weight coefficients), each on every
   selection seed;
2. **choice**: the factor with the best mean of the task's ``select`` metric over the selection
   seeds; a factor with a seed that failed or diverged is not chosen; means within
   :data:`TIE` (relative) of the best are a tie, won by the factor nearest 1;
3. **evaluation**: the chosen configuration and ``none`` on the evaluation seeds.

Every trial is a run of the results store, so the suite resumes wherever it stopped.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RegbenchError
from .grid import Table, registered
from .metrics.declared import metric as declared_metric
from .record import RunConfig
from .registry import REGULARIZERS, TASKS
from .runner import prepare

SMOKE_SECONDS = 5.0  # the plan's estimate of a run at the smoke scale
SECONDS = 60.0  # the plan's estimate of a run where neither the suite file nor the task class gives one
TIE = 1e-9  # relative difference of two selection means below which they are a tie
SUITE_KEYS = {"name", "description", "factors", "selection_seeds", "evaluation_seeds"}
FAMILY_KEYS = {"regularizers", "coefficients", "tasks", "sanity", "params"}
TASK_KEYS = {"metric", "select", "seconds", "params", "smoke"}


@dataclass
class SuiteTask:
    name: str
    metric: str
    select: str | None
    seconds: float
    params: dict
    smoke: dict


@dataclass
class Family:
    name: str
    regularizers: list[str]
    coefficients: list[str]
    tasks: list[str]
    sanity: list[str]
    params: dict[str, dict]  # regularizer → fixed hyperparameters


@dataclass
class Trial:
    """One run of the suite: its stage (``selection`` or ``evaluation``), family, factor (``None``:
    the defaults, or none) and configuration."""
    stage: str
    family: str
    factor: float | None
    config: RunConfig


@dataclass
class Choice:
    """A regularizer's chosen factor on a task (``None``: every factor failed), each factor's
    selection mean (``None``: a seed failed, diverged or is not recorded yet), and whether all of
    its selection runs are recorded."""
    factor: float | None
    means: dict[float, float | None]
    complete: bool = True


@dataclass
class Suite:
    name: str
    description: str
    factors: list[float]
    selection_seeds: list[int]
    evaluation_seeds: list[int]
    families: list[Family]
    tasks: dict[str, SuiteTask]
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0, "gpu": 0.0})
    smoke: bool = False
    added: dict[str, str] = field(default_factory=dict)  # placed by the user: name → its kind

    def seconds(self, task: str) -> float:
        """The estimate of one run of ``task`` before any is recorded (smoke runs: a few seconds)."""
        return SMOKE_SECONDS if self.smoke else self.tasks[task].seconds

    def scale(self, task: str) -> dict:
        spec = self.tasks[task]
        return {**spec.params, **spec.smoke} if self.smoke else dict(spec.params)

    def settings(self, family: Family, task: str, reg: str, factor: float | None) -> dict:
        """The ``task.``/``reg.``-qualified settings of a trial."""
        reg_params = dict(family.params.get(reg, {}))
        if factor is not None:
            reg_params.update(self.coefficients(family, task, reg, factor))
        return {**{f"task.{k}": v for k, v in self.scale(task).items()},
                **{f"reg.{k}": v for k, v in reg_params.items()}}

    def coefficients(self, family: Family, task: str, reg: str, factor: float) -> dict:
        """The family's coefficients of ``reg`` on ``task``: ``factor`` × their defaults there."""
        task_cls, reg_cls = TASKS.get(task), REGULARIZERS.get(reg)
        defaults = reg_cls.resolve(family.params.get(reg, {}), defaults=task_cls.term_defaults)
        return {name: float(f"{factor * defaults[name]:.12g}")
                for name in family.coefficients if name in defaults}

    def trial(self, stage: str, family: Family, task: str, reg: str, factor: float | None,
              seed: int, check_data: bool = False) -> Trial:
        try:
            config = prepare(task, reg, self.settings(family, task, reg, factor), seed, check_data)
        except RegbenchError as exc:
            raise RegbenchError(f"suite {self.name}, family {family.name}: {task} × {reg}: {exc}") from None
        return Trial(stage, family.name, factor, config)

    def selection_trials(self, tasks=None) -> list[Trial]:
        return [self.trial("selection", family, task, reg, factor, seed)
                for family in self.families for task in family.tasks if tasks is None or task in tasks
                for reg in family.regularizers if reg != "none" and exposes(family, task, reg)
                for factor in self.factors for seed in self.selection_seeds]

    def choose(self, outcomes: dict[str, tuple], values: dict[str, float], tasks=None) -> dict:
        """(family, task, reg) → :class:`Choice`, from the store's ``outcomes`` (run key → status)
        and the selection metric's ``values`` (run key → value)."""
        choices = {}
        by_pair: dict[tuple, dict[float, list]] = {}
        pending: set[tuple] = set()
        for trial in self.selection_trials(tasks):
            key = (trial.family, trial.config.task, trial.config.reg)
            run = trial.config.run_key
            if run not in outcomes:
                pending.add(key)
            ok = outcomes.get(run, ("not run",))[0] == "ok" and run in values
            by_pair.setdefault(key, {}).setdefault(trial.factor, []).append(values[run] if ok else None)
        for key, by_factor in by_pair.items():
            means = {f: (None if None in v or not all(map(math.isfinite, v)) else sum(v) / len(v))
                     for f, v in by_factor.items()}
            choices[key] = Choice(best_factor(means, self.direction(key[1])), means, key not in pending)
        return choices

    def direction(self, task: str) -> str:
        spec = self.tasks[task]
        return declared_metric(spec.select or spec.metric).direction

    def evaluation_trials(self, choices: dict, tasks=None) -> list[Trial]:
        """``none`` and each chosen configuration on the evaluation seeds (a regularizer whose
        choice is not complete yet has none); the sanity tasks at the defaults."""
        trials, seen = [], set()
        for family in self.families:
            for task in family.tasks + family.sanity:
                if tasks is not None and task not in tasks:
                    continue
                for reg in family.regularizers:
                    if not exposes(family, task, reg):
                        continue
                    if task in family.sanity or reg == "none":
                        factor = None
                    else:
                        choice = choices.get((family.name, task, reg))
                        if choice is None or not choice.complete or choice.factor is None:
                            continue
                        factor = choice.factor
                    for seed in self.evaluation_seeds:
                        trial = self.trial("evaluation", family, task, reg, factor, seed)
                        if (trial.family, trial.config.run_key) not in seen:
                            seen.add((trial.family, trial.config.run_key))
                            trials.append(trial)
        return trials

    def study(self, family: Family, trials: list[Trial]) -> "FamilyStudy":
        keys = [t.config.run_key for t in trials if t.family == family.name]
        added = [name for name in self.added if name in family.regularizers + family.tasks + family.sanity]
        note = f" Added by the user: {', '.join(added)}." if added else ""
        return FamilyStudy(f"{self.name}_{family.name}", f"{self.description} Family: {family.name}.{note}",
                           family.tasks + family.sanity, keys,
                           {t: self.tasks[t] for t in family.tasks + family.sanity})

    def data_needs(self) -> dict[str, str]:
        """Task → what is missing of its data ('' where everything is in place)."""
        needs = {}
        for task in dict.fromkeys(t for f in self.families for t in f.tasks + f.sanity):
            try:
                TASKS.get(task)(**TASKS.get(task).resolve(self.scale(task))).check_data()
                needs[task] = ""
            except RegbenchError as exc:
                needs[task] = str(exc)
        return needs


@dataclass
class FamilyStudy:
    """A family's evaluation runs as a study of the report and of the leaderboard: a grid-like
    view (``run_keys``, per task its metric and selection metric)."""
    name: str
    description: str
    tasks: list[str]
    keys: list[str]
    specs: dict[str, SuiteTask]
    ranked: bool = True

    def run_keys(self) -> list[str]:
        return self.keys

    def metric_for(self, task: str) -> str:
        return self.specs[task].metric

    def select_for(self, task: str) -> str | None:
        return self.specs[task].select

    @property
    def tables(self) -> list[Table]:
        return [Table(task, [task], [m for m in (spec.metric, spec.select) if m])
                for task, spec in self.specs.items()]


def best_factor(means: dict[float, float | None], direction: str) -> float | None:
    """The factor of the best mean (``direction`` ``min`` or ``max``), ties (:data:`TIE`) to the
    factor nearest 1; ``None`` when no factor has a mean."""
    scored = {f: (m if direction == "min" else -m) for f, m in means.items() if m is not None}
    if not scored:
        return None
    best = min(scored.values())
    tied = [f for f, m in scored.items() if m - best <= TIE * max(abs(best), 1e-300)]
    return min(tied, key=lambda f: (abs(math.log(f)), f))


def exposes(family: Family, task: str, reg: str) -> bool:
    """Whether ``task`` exposes what ``reg`` acts on in ``family`` (its ``target`` there, else the
    first of its targets): a regularizer runs on the tasks of its family that expose its target."""
    requested = family.params.get(reg, {}).get("target", "auto")
    try:
        TASKS.get(task).target_for(REGULARIZERS.get(reg), requested)
        return True
    except RegbenchError:
        return False


def load_suite(path: str | Path, smoke: bool = False) -> Suite:
    """Read and check a suite file; raises ``RegbenchError`` naming what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RegbenchError(f"suite file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"{path}: not valid TOML: {exc}") from None
    where = str(path)
    head = section(data, "suite", where, SUITE_KEYS)
    unknown = set(data) - {"suite", "resources", "family", "task"}
    if unknown:
        raise RegbenchError(f"{where}: unknown sections {', '.join(sorted(unknown))} (expected suite, "
                            f"resources, family, task)")
    factors = head.get("factors")
    if not (isinstance(factors, list) and factors and all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in factors)):
        raise RegbenchError(f"{where} [suite]: factors must be a non-empty list of positive numbers")
    selection = seeds_of(head.get("selection_seeds"), where, "selection_seeds")
    evaluation = seeds_of(head.get("evaluation_seeds"), where, "evaluation_seeds")
    resources = section(data, "resources", where, {"cpu", "gpu"}, required=False)
    resources = {"cpu": float(resources.get("cpu", 1)), "gpu": float(resources.get("gpu", 0))}
    if smoke:  # the smallest scale: one seed of each, the two factors nearest 1, one core
        selection, evaluation = selection[:1], evaluation[:1]
        factors = sorted(sorted(factors, key=lambda f: abs(math.log(f)))[:2])
        resources = {"cpu": 1.0, "gpu": min(resources["gpu"], 1.0) if cuda_devices() else 0.0}
    if set(selection) & set(evaluation):
        raise RegbenchError(f"{where} [suite]: seeds {sorted(set(selection) & set(evaluation))} are both "
                            f"selection and evaluation seeds; the choice must not see the evaluation seeds")
    tasks = {name: suite_task(name, spec, where) for name, spec in section(
        data, "task", where).items()}
    families = [family_of(name, spec, tasks, where) for name, spec in section(
        data, "family", where).items()]
    if not families:
        raise RegbenchError(f"{where}: the suite has no [family.<name>] section")
    suite = Suite(str(head.get("name") or path.stem), str(head.get("description", "")),
                  [float(f) for f in factors], selection, evaluation, families, tasks, resources, smoke)
    suite.selection_trials()  # every trial is valid (names, hyperparameters, compatibility)
    return suite


def section(data: dict, name: str, where: str, keys: set | None = None, required: bool = True) -> dict:
    value = data.get(name, {} if not required or name != "suite" else None)
    if not isinstance(value, dict):
        raise RegbenchError(f"{where}: missing or invalid [{name}] section")
    if keys is not None and set(value) - keys:
        raise RegbenchError(f"{where} [{name}]: unknown keys {', '.join(sorted(set(value) - keys))} "
                            f"(expected: {', '.join(sorted(keys))})")
    return value


def seeds_of(value, where: str, key: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and s >= 0 for s in value):
        return list(dict.fromkeys(value))
    raise RegbenchError(f"{where} [suite]: {key} must be a count ≥ 1 or a list of seeds ≥ 0")


def suite_task(name: str, spec, where: str) -> SuiteTask:
    spec = section({name: spec}, name, f"{where} [task.{name}]", TASK_KEYS)
    try:
        declared = TASKS.get(name).directions()
    except RegbenchError as exc:
        raise RegbenchError(f"{where} [task.{name}]: {exc}") from None
    metric, select = spec.get("metric"), spec.get("select")
    for key, value in (("metric", metric), ("select", select)):
        if value is not None and value not in declared:
            raise RegbenchError(f"{where} [task.{name}]: {key} '{value}' is not a metric of {name} "
                                f"(it has {', '.join(declared)})")
    if metric is None:
        raise RegbenchError(f"{where} [task.{name}]: give the metric it is ranked on (metric = ...)")
    if select is not None and not select.startswith("val_"):
        raise RegbenchError(f"{where} [task.{name}]: select must be a validation metric (val_*), "
                            f"not '{select}'")
    return SuiteTask(name, metric, select, run_seconds(spec.get("seconds"), f"{where} [task.{name}]"),
                     dict(spec.get("params", {})), dict(spec.get("smoke", {})))


def run_seconds(value, where: str) -> float:
    """The plan's estimate of one run: ``value`` (measured, from the suite file or the task
    class), else :data:`SECONDS`."""
    if value is None:
        return SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RegbenchError(f"{where}: seconds must be a positive number, not {value!r}")
    return float(value)


def family_of(name: str, spec, tasks: dict[str, SuiteTask], where: str) -> Family:
    at = f"{where} [family.{name}]"
    spec = section({name: spec}, name, at, FAMILY_KEYS)
    regs = names(spec.get("regularizers"), at, "regularizers", REGULARIZERS)
    ranked = names(spec.get("tasks"), at, "tasks", TASKS)
    sanity = names(spec.get("sanity", []), at, "sanity", TASKS, empty=True)
    coefficients = spec.get("coefficients")
    if not (isinstance(coefficients, list) and coefficients and all(isinstance(c, str) for c in coefficients)):
        raise RegbenchError(f"{at}: coefficients must name the hyperparameters the factors multiply")
    for reg in regs:
        if reg != "none" and not set(coefficients) & set(REGULARIZERS.get(reg).params()):
            raise RegbenchError(f"{at}: regularizer {reg} has none of the coefficients "
                                f"{', '.join(coefficients)}")
    for task in ranked + sanity:
        if task not in tasks:
            raise RegbenchError(f"{at}: task {task} has no [task.{task}] section (its scale and metrics)")
    for task in ranked:
        if tasks[task].select is None:
            raise RegbenchError(f"{where} [task.{task}]: a ranked task needs the validation metric its "
                                f"coefficients are chosen on (select = \"val_...\")")
    params = spec.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise RegbenchError(f"{at}: params must be one table per regularizer")
    return Family(name, regs, coefficients, ranked, sanity, params)


def names(value, where: str, key: str, registry, empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (not value and not empty):
        raise RegbenchError(f"{where}: {key} must be a list of names")
    registered(value, registry, where)
    return value


def cuda_devices() -> int:
    import torch
    return torch.cuda.device_count()


def workers(resources: dict[str, float]) -> int:
    """Trials at once on this machine (at least 1)."""
    fits = [(os.cpu_count() or 1) // resources["cpu"]] if resources["cpu"] else []
    if resources["gpu"]:
        fits.append(cuda_devices() // resources["gpu"])
    return max(1, int(min(fits, default=1)))

