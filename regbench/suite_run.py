"""Running a suite (:mod:`regbench.suite`) end to end: the plan and its cost, the selection runs,
the choice, the evaluation runs, then each family's leaderboard and the report. Every stage reads
what the store holds, so a second call goes on where the first stopped.

Outputs, beside the store ``DIR`` (``results/suite_<name>`` by default): ``DIR.html`` and
``DIR.md`` (the report), ``DIR_<family>.md`` / ``.csv`` (leaderboards of the evaluation runs) and
``DIR_choices.md`` (every selection mean and the factor chosen).

Runs that other stores hold are reused, read-only (:mod:`regbench.suite_reuse`); a regularizer or
task placed in the suite (:mod:`regbench.suite_place`) is named in the plan with its own trials and
cost, and in the report with its documentation.
"""
from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from .progress import duration
from .store import ResultsStore
from .store.claims import Claims, claim_pending, holders
from .suite import Suite, Trial, workers
from .suite_place import added_trial
from .suite_reuse import copy_records, environment, stale


class Progress:
    """One line per ``every`` seconds (and at the end of a stage): trials done, pending, and the
    time left at the rate of this session."""

    def __init__(self, stage: str, total: int, every: float = 30.0):
        self.stage, self.total, self.every = stage, total, every
        self.done, self.failed, self.started, self.last = 0, 0, time.monotonic(), 0.0

    def __call__(self, record: dict) -> None:
        self.done += 1
        self.failed += record["status"] != "ok"
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            print(self.line(now), flush=True)

    def line(self, now: float) -> str:
        pending = self.total - self.done
        left = (now - self.started) / self.done * pending if self.done else float("nan")
        failed = f" ({self.failed} failed or diverged)" if self.failed else ""
        return (f"{self.stage}: {self.done} of {self.total} trials done{failed}, {pending} pending"
                + (f", about {duration(left)} left" if pending else ""))


def outcomes(stores: list[ResultsStore]) -> dict[str, tuple[str, str | None]]:
    """run key → (status, error) of its run in the first store with an ``ok`` record of it, else in
    the first store with any (the suite's own store first, then the reused ones)."""
    merged: dict[str, tuple[str, str | None]] = {}
    for store in stores:
        for key, outcome in store.outcomes().items():
            if key not in merged or merged[key][0] != "ok" and outcome[0] == "ok":
                merged[key] = outcome
    return merged


def selection_values(suite: Suite, stores: list[ResultsStore]) -> dict[str, float]:
    """run key → the selection metric of its task, for every counted run (the first store's)."""
    wanted = {spec.select or spec.metric for spec in suite.tasks.values()}
    values = {}
    for store in reversed(stores):
        index = store.index
        by_line = {line: (run_key, task) for line, run_key, _, _, task, *_ in index.counted()}
        for line, name, value in index.metric_rows(list(by_line), wanted):
            run_key, task = by_line[line]
            spec = suite.tasks.get(task)
            if spec is not None and name == (spec.select or spec.metric):
                values[run_key] = value
    return values


def choices(suite: Suite, store: ResultsStore, tasks=None, reused=()) -> dict:
    stores = [store, *reused]
    return suite.choose(outcomes(stores), selection_values(suite, stores), tasks)


def seconds(suite: Suite, stores: list[ResultsStore]) -> dict[tuple, float]:
    """(task, reg) → the median wall time of its recorded runs; (task, None) → of the task's."""
    times: dict[tuple, list[float]] = {}
    for store in stores:
        for task, reg, wall in store.index.run_times():
            times.setdefault((task, reg), []).append(wall)
            times.setdefault((task, None), []).append(wall)
    return {key: statistics.median(values) for key, values in times.items()}


def estimate(suite: Suite, measured: dict, trial: Trial) -> float:
    task, reg = trial.config.task, trial.config.reg
    return measured.get((task, reg), measured.get((task, None), suite.seconds(task)))


def plan(suite: Suite, store: ResultsStore, tasks=None, reused=()) -> tuple[list[Trial], list[Trial], list[str]]:
    """(pending selection trials, pending evaluation trials known so far, the plan's lines: per
    family and task the trials recorded and to run and their estimated cost; with a placed
    regularizer or task, its own trials apart from the rest of the suite's). A run counts as
    recorded in the suite's store or in a ``reused`` one."""
    stores = [store, *reused]
    status = outcomes(stores)
    measured = seconds(suite, stores)
    selection = suite.selection_trials(tasks)
    chosen = choices(suite, store, tasks, reused)
    evaluation = suite.evaluation_trials(chosen, tasks)
    # evaluation runs of regularizers whose choice is still open: as many as a chosen one has
    unknown = [key for key, choice in chosen.items() if not choice.complete]
    lines = [f"Suite {suite.name}: factors {', '.join(f'{f:g}' for f in suite.factors)} × the default "
             f"coefficients; selection seeds {', '.join(map(str, suite.selection_seeds))}; "
             f"evaluation seeds {', '.join(map(str, suite.evaluation_seeds))}."]
    later_cost = 0.0
    pending_selection, pending_evaluation = [], {}
    for family in suite.families:
        lines.append(f"  family {family.name} ({len(family.regularizers)} regularizers):")
        for task in family.tasks + family.sanity:
            if tasks is not None and task not in tasks:
                continue
            sel = [t for t in selection if t.family == family.name and t.config.task == task]
            ev = [t for t in evaluation if t.family == family.name and t.config.task == task]
            todo_sel = [t for t in sel if t.config.run_key not in status]
            todo_ev = [t for t in ev if t.config.run_key not in status]
            later = sum(1 for f, t, _ in unknown if f == family.name and t == task) * len(suite.evaluation_seeds)
            later_cost += later * suite.seconds(task)
            cost = sum(estimate(suite, measured, t) for t in todo_sel + todo_ev) + later * suite.seconds(task)
            pending_selection += todo_sel
            pending_evaluation.update((t.config.run_key, t) for t in todo_ev)
            kind = " (sanity: not ranked)" if task in family.sanity else ""
            kind += " (added)" if task in suite.added else ""
            lines.append(f"    {task:<14} selection {len(sel) - len(todo_sel)}/{len(sel)} recorded, "
                         f"evaluation {len(ev) - len(todo_ev)}/{len(ev) + later} recorded; "
                         f"about {duration(cost)} of trial time left{kind}")
    pending_evaluation = list(pending_evaluation.values())  # none's runs shared by two families once
    total_left = later_cost + sum(estimate(suite, measured, t) for t in pending_selection + pending_evaluation)
    parallel = workers(suite.resources)
    lines.append(f"  to run: {len(pending_selection)} selection and "
                 f"{len(pending_evaluation) + len(unknown) * len(suite.evaluation_seeds)} evaluation "
                 f"trials (none's runs on a task of both families once), about "
                 f"{total_left / 3600:.2f} trial-hours ({duration(total_left / parallel)} with {parallel} "
                 f"trials at once on this machine)")
    if suite.added:
        lines += added_lines(suite, {t.config.run_key: t for t in selection + evaluation}, unknown,
                             status, measured)
    return pending_selection, pending_evaluation, lines


def added_lines(suite: Suite, trials: dict[str, Trial], unknown: list[tuple], status: dict,
                measured: dict) -> list[str]:
    """The placed regularizers' and tasks' own trials and their cost, also as a share of the rest of
    the suite's; the rest's trials recorded (reused) and not (they run too), and the cost left."""
    new, rest = Counter(), Counter()
    for trial in trials.values():
        part, cost = (new if added_trial(suite, trial) else rest), estimate(suite, measured, trial)
        part["trials"] += 1
        part["cost"] += cost
        recorded = trial.config.run_key in status
        part["recorded trials"] += recorded
        part["left"] += 0.0 if recorded else cost
    for family, task, reg in unknown:  # evaluation trials of a choice still open
        part = new if reg in suite.added or task in suite.added else rest
        part["trials"] += len(suite.evaluation_seeds)
        part["cost"] += len(suite.evaluation_seeds) * suite.seconds(task)
        part["left"] += len(suite.evaluation_seeds) * suite.seconds(task)
    placed = ", ".join(f"{kind} {name}" for name, kind in suite.added.items())
    share = ""
    if new["cost"] and rest["cost"]:
        ratio = rest["cost"] / new["cost"]
        share = (f", {new['cost'] / rest['cost']:.1%} of the suite's {rest['cost'] / 3600:.2f} trial-hours "
                 f"without it" + (f" (about 1/{ratio:.0f})" if ratio >= 1.5 else ""))
    guessed = [name for name, kind in suite.added.items() if kind == "task" and (name, None) not in measured]
    share += "".join(f" (a run of {name} priced at {suite.seconds(name):g} s until one is recorded)"
                     for name in guessed)
    return [f"  placed: {placed}: {new['trials']} trials of its own ({new['recorded trials']} recorded), "
            f"about {new['cost'] / 3600:.2f} trial-hours in all{share}",
            f"  the rest of the suite: {rest['trials']} trials, {rest['recorded trials']} recorded "
            f"(reused), {rest['trials'] - rest['recorded trials']} not recorded, which run too "
            f"(about {rest['left'] / 3600:.2f} trial-hours)"]


def choices_markdown(suite: Suite, chosen: dict, tasks=None) -> str:
    lines = [f"# Suite {suite.name}: the choice of each regularizer's coefficients", "",
             f"Mean of each task's selection metric over the selection seeds "
             f"({', '.join(map(str, suite.selection_seeds))}) at each factor × the default "
             f"coefficients; the chosen factor in bold (– : a seed failed, diverged or is missing).", ""]
    for family in suite.families:
        lines += [f"## {family.name} (coefficients: {', '.join(family.coefficients)})", "",
                  "| task | select | regularizer | " + " | ".join(f"×{f:g}" for f in suite.factors) + " |",
                  "|---|---|---|" + "---|" * len(suite.factors)]
        for (name, task, reg), choice in chosen.items():
            if name != family.name or (tasks is not None and task not in tasks):
                continue
            cells = [("–" if m is None else f"**{m:.6g}**" if f == choice.factor else f"{m:.6g}")
                     for f, m in choice.means.items()]
            spec = suite.tasks[task]
            lines.append(f"| {task} | {spec.select or spec.metric} | {reg} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_outputs(suite: Suite, store: ResultsStore, out: Path, tasks=None) -> list[Path]:
    """The choices, each family's leaderboard (markdown and CSV) and the report, beside ``out``
    (of ``tasks``, default all)."""
    from .leaderboard import study_report
    from .report import analyse, load_study, to_html, to_markdown
    chosen = choices(suite, store, tasks)
    evaluation = suite.evaluation_trials(chosen, tasks)
    written = {out.with_name(f"{out.name}_choices.md"): choices_markdown(suite, chosen, tasks)}
    studies = []
    for family in suite.families:
        view = suite.study(family, evaluation)
        markdown, csv = study_report(view, store)
        written[out.with_name(f"{out.name}_{family.name}.md")] = markdown
        written[out.with_name(f"{out.name}_{family.name}.csv")] = csv
        study = load_study(store, view)
        study.links = {"leaderboard": f"{out.name}_{family.name}.md", "CSV": f"{out.name}_{family.name}.csv",
                       "store": out.name}
        studies.append(study)
    if suite.added:
        describe_added(suite, store, studies, evaluation)
    if any(study.tasks for study in studies):
        report = analyse(studies)
        written[out.with_name(f"{out.name}.html")] = to_html(report)
        written[out.with_name(f"{out.name}.md")] = to_markdown(report)
    for path, text in written.items():
        path.write_text(text)
    return list(written)


def describe_added(suite: Suite, store: ResultsStore, studies: list, evaluation: list[Trial]) -> None:
    """Each family's study names what the user placed in it, with its documentation, and how the
    placed runs' code and hardware compare with the rest's."""
    from .contract import documentation
    from .registry import REGULARIZERS, TASKS
    from .report import Added
    new = {t.config.run_key for t in evaluation if added_trial(suite, t)}
    note = environment(store, list(suite.added), new, {t.config.run_key for t in evaluation} - new)
    for family, study in zip(suite.families, studies):
        members = family.regularizers + family.tasks + family.sanity
        study.added = [Added(name, kind, documentation((REGULARIZERS if kind == "regularizer" else TASKS).get(name)))
                       for name, kind in suite.added.items() if name in members]
        study.environment = note


def run_suite(suite: Suite, store: ResultsStore, *, address=None, plugins=(), dry_run=False,
              tasks=None, reused=()) -> int:
    """The whole protocol, reusing the runs that the ``reused`` stores hold (read-only); returns
    the exit status (1 when a trial of the evaluation failed)."""
    pending_selection, pending_evaluation, lines = plan(suite, store, tasks, reused)
    for source in reused:
        lines.append(f"  reused, read-only: {source.directory} ({sum(source.counts().values())} records)")
    stale_runs = stale([t for t in pending_selection + pending_evaluation if not added_trial(suite, t)], reused)
    if stale_runs:
        lines.append("  not reused, recorded at another version (their runs run again): " + "; ".join(stale_runs))
    print("\n".join(lines), flush=True)
    missing = {task: note for task, note in suite.data_needs().items() if note}
    if missing:
        print("Data not in place (those tasks are left out of this run):")
        for task, note in missing.items():
            print(f"  {task}: {note}")
    if dry_run:
        return 0
    if reused:
        needed = suite.selection_trials(tasks) + suite.evaluation_trials(choices(suite, store, tasks, reused), tasks)
        copied = copy_records(store, reused, {t.config.run_key for t in needed})
        if copied:
            print(f"Copied {copied} records of the suite's runs from the reused stores into {store.path} "
                  f"(the reused stores are unchanged)", flush=True)
    runnable = [t for f in suite.families for t in f.tasks + f.sanity if t not in missing
                and (tasks is None or t in tasks)]
    if pending_selection:
        run_stage(suite, store, "selection", [t for t in pending_selection if t.config.task in runnable],
                  address, plugins)
    status = store.outcomes()
    evaluation = [t for t in suite.evaluation_trials(choices(suite, store, runnable), runnable)
                  if t.config.run_key not in status]
    if evaluation:
        run_stage(suite, store, "evaluation", evaluation, address, plugins)
    written = write_outputs(suite, store, store.directory, runnable)
    print("Wrote " + ", ".join(str(p) for p in written))
    status = store.outcomes()
    final = suite.evaluation_trials(choices(suite, store, runnable), runnable)
    bad = [t for t in final if status.get(t.config.run_key, ("not run",))[0] != "ok"]
    for trial in bad:
        outcome, error = status.get(trial.config.run_key, ("not run", None))
        print(f"  {outcome}: {trial.config.task} × {trial.config.reg} seed {trial.config.seed}: {error}")
    return 1 if bad else 0


def run_stage(suite: Suite, store: ResultsStore, stage: str, trials: list[Trial], address, plugins) -> None:
    from .cluster import ray_session
    configs = list({t.config.run_key: t.config for t in trials}.values())
    with Claims(store.directory) as claims:
        configs, elsewhere = claim_pending(claims, store, configs, lambda outcome: outcome is None)
        if elsewhere:
            print(f"{stage}: {len(elsewhere)} trials computed by another process "
                  f"({holders(elsewhere.values())}); not run here")
        if not configs:
            return
        print(f"{stage}: {len(configs)} trials to run", flush=True)
        with ray_session(address, quiet=True):
            from .scheduler import run_grid
            run_grid(configs, store=store, name=f"suite_{suite.name}_{stage}", resources=suite.resources,
                     plugins=plugins, quiet=True,
                     progress=Progress(f"suite {suite.name} · {stage}", len(configs)))
    sys.stdout.flush()
