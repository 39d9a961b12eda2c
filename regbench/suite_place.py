"""Placing in a suite a regularizer or a task that it lacks (a plugin's, ``regbench suite SUITE.toml
--plugin MODULE --reg NAME`` or ``--task NAME``), under exactly the suite's protocol: the same
factors of the coefficients, selection seeds and evaluation seeds, and the task scales of the file.

- A **regularizer** joins every family that acts on one of its targets (the targets its
  regularizers act on, on the family's tasks); it acts there on the first such target, and must
  have one of the family's coefficients (else the placement is refused, naming them). It runs on
  the family's tasks that expose that target.
- A **task** joins every family that acts on a target it exposes: among the ranked tasks when its
  class says so (``Task.ranked``), else among the sanity tasks. It runs at its defaults (the file
  gives no scale for it); it is ranked on its first metric that is not a validation one and its
  coefficients are chosen on that metric's validation twin (``test_x`` → ``val_x``), which a ranked
  task must declare. The plan prices its runs at the class's ``seconds`` (else
  :data:`regbench.suite.SECONDS`) each until some are recorded.

What is placed is ``Suite.added`` (name → ``"regularizer"`` or ``"task"``); the trials of the
placed suite that involve it are its own (:func:`added_trial`), every other one is the suite's.
"""
from __future__ import annotations

import copy

from .errors import RegbenchError
from .registry import REGULARIZERS, TASKS
from .suite import Family, Suite, SuiteTask, Trial, run_seconds


def family_targets(family: Family) -> set[str]:
    """The targets the family's regularizers act on, on its tasks."""
    found = set()
    for reg in family.regularizers:
        requested = family.params.get(reg, {}).get("target", "auto")
        for task in family.tasks + family.sanity:
            try:
                found.add(TASKS.get(task).target_for(REGULARIZERS.get(reg), requested))
            except RegbenchError:
                continue
    return found - {None}


def place(suite: Suite, regularizers: list[str] = (), tasks: list[str] = ()) -> Suite:
    """A copy of ``suite`` with ``regularizers`` and ``tasks`` placed in its families; a
    ``RegbenchError`` names what cannot be placed."""
    placed = copy.deepcopy(suite)
    targets = {family.name: family_targets(family) for family in placed.families}
    for name in dict.fromkeys(regularizers):
        place_regularizer(placed, name, targets)
    for name in dict.fromkeys(tasks):
        place_task(placed, name, targets)
    placed.selection_trials()  # every trial is valid (hyperparameters, compatibility, memory)
    return placed


def place_regularizer(suite: Suite, name: str, targets: dict[str, set[str]]) -> None:
    cls = REGULARIZERS.get(name)
    if any(name in family.regularizers for family in suite.families):
        raise RegbenchError(f"--reg {name}: suite {suite.name} has it already; --reg places a "
                            f"regularizer that the suite lacks")
    joined = []
    for family in suite.families:
        usable = [t for t in cls.targets if t in targets[family.name]]
        if not usable:
            continue
        if not set(family.coefficients) & set(cls.params()):
            raise RegbenchError(f"--reg {name}: it acts on {usable[0]} as family {family.name} does, "
                                f"but has none of its coefficients {', '.join(family.coefficients)}"
                                + (" (subclass regbench.WeightRegularizer)" if "lam_hidden" in
                                   family.coefficients else ""))
        family.regularizers.append(name)
        family.params[name] = {"target": usable[0]} if len(cls.targets) > 1 else {}
        joined.append(family.name)
    if not joined:
        raise nowhere(f"--reg {name}: it acts on {', '.join(cls.targets) or 'nothing'}", suite, targets)
    suite.added[name] = "regularizer"


def place_task(suite: Suite, name: str, targets: dict[str, set[str]]) -> None:
    cls = TASKS.get(name)
    if any(name in family.tasks + family.sanity for family in suite.families):
        raise RegbenchError(f"--task {name}: suite {suite.name} has it already")
    suite.tasks[name] = placed_task(name)
    joined = []
    for family in suite.families:
        if set(cls.supports) & targets[family.name]:
            (family.tasks if cls.ranked else family.sanity).append(name)
            joined.append(family.name)
    if not joined:
        raise nowhere(f"--task {name}: it exposes {', '.join(cls.supports)}", suite, targets)
    suite.added[name] = "task"


def nowhere(what: str, suite: Suite, targets: dict[str, set[str]]) -> RegbenchError:
    """The error of a regularizer or task that no family of the suite can take."""
    return RegbenchError(f"{what}; the families of suite {suite.name} act on " + "; ".join(
        f"{f}: {', '.join(sorted(t))}" for f, t in targets.items()))


def placed_task(name: str) -> SuiteTask:
    """The suite's view of a placed task: its metric, validation twin, defaults, estimate."""
    cls = TASKS.get(name)
    declared = list(cls.directions())
    metric = next((m for m in declared if not m.startswith("val_")), None)
    if metric is None:
        raise RegbenchError(f"--task {name}: it declares no metric to rank on (metrics = "
                            f"('test_...', 'val_...'))")
    twin = "val_" + metric.removeprefix("test_")
    select = twin if twin in declared else None
    if cls.ranked and select is None:
        raise RegbenchError(f"--task {name}: a ranked task is chosen on the validation twin of its "
                            f"metric {metric}: declare {twin} among its metrics (or ranked = False)")
    return SuiteTask(name, metric, select, run_seconds(cls.seconds, f"--task {name}"), {}, {})


def added_trial(suite: Suite, trial: Trial) -> bool:
    """Whether ``trial`` is one of a placed regularizer or task."""
    return trial.config.reg in suite.added or trial.config.task in suite.added
