"""The ``regbench`` command line: ``run``, ``list``, ``check``, ``grid``, ``suite``, ``leaderboard``,
``report``, ``store``."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from functools import partial
from pathlib import Path

from .errors import NotRecorded, RegbenchError
from .interrupt import interruptible
from .registry import REGULARIZERS, TASKS, load_plugin
from .params import check_unique
from .store import ResultsStore
from .store.claims import Claims, claim_pending, holders


def parse_settings(items: list[str]) -> dict[str, str]:
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RegbenchError(f"--set expects key=value, got '{item}'")
        settings.setdefault(key.strip(), []).append(value.strip())
    twice = [f"{key} ({', '.join(values)})" for key, values in settings.items() if len(values) > 1]
    if twice:
        raise RegbenchError(f"--set gives {'; '.join(twice)}: give each key once")
    settings = {key: values[0] for key, values in settings.items()}
    check_unique(settings, "--set")
    return settings


def cmd_run(args) -> int:
    from .runner import execute, prepare
    config = prepare(args.task, args.reg, parse_settings(args.set), args.seed)
    store = checked_store(args.results)
    with Claims(store.directory) as claims:
        record = None if args.force else store.find_ok(config.run_key)
        if record is None:
            store.check(write=True)
            holder = claims.take(config.run_key)
            if holder:
                print(f"Run {config.run_key} is computed by another process ({holder}); not run here.")
                return 0
            record = None if args.force else store.find_ok(config.run_key)  # recorded meanwhile
        if record is None:
            trackers = open_trackers(args.track, store, "regbench")
            record = execute(config, device=args.device, quiet=args.quiet, results_dir=store.directory)
            try:
                store.append(record)
            except NotRecorded:
                print(summary(record))
                raise
            for tracker in trackers:
                tracker.log_record(record, f"{config.task} {config.reg} seed {config.seed}")
        else:
            print(f"Reusing record {record['id']} (run {config.run_key}); --force to re-run.")
    print(summary(record) + f"\n  record {record['id']} (run {record['run_key']}) in {store.path}")
    return 0 if record["status"] == "ok" else 1


def open_trackers(tracks, store: ResultsStore, experiment: str) -> list:
    """The trackers of ``--track`` that start (:mod:`regbench.tracking`; the others said in one line)."""
    from .tracking import open_tracker
    return [t for t in (open_tracker(track, store.directory, experiment) for track in tracks) if t]


def checked_store(directory) -> ResultsStore:
    """The store in ``directory`` (default: the user's), refused in one line if it cannot hold
    records (:meth:`ResultsStore.check`)."""
    store = ResultsStore(directory)
    store.check()
    return store


def summary(record: dict) -> str:
    lines = [f"{record['task']} × {record['reg']}  seed {record['seed']}  →  {record['status']}"
             f"  ({record['wall_time_s']:.1f} s on {record['device']})"]
    changed = {**record["params"]["task"], **record["params"]["reg"]}
    lines.append("  hyperparameters: " + (", ".join(f"{k}={v}" for k, v in changed.items())
                                          or "defaults") + " (`regbench list` shows the defaults)")
    if record["error"]:
        lines.append(f"  error: {record['error']}")
    for name, value in {**record["metrics"], **record.get("info", {})}.items():
        if isinstance(value, (dict, list)):
            continue  # arrays and per-layer diagnostics: in the run's artifact file
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"  {name:<24} {text}")
    return "\n".join(lines)


def describe_params(cls) -> list[str]:
    lines = []
    for name, p in cls.params().items():
        bounds = " and ".join(f"{op} {bound:g}" for op, bound in p.bounds.items())
        rule = f"; {name} {bounds}" if bounds else ""
        choices = f"; one of {', '.join(map(str, p.choices))}" if p.choices else ""
        lines.append(f"      {name} = {p.default!r}  ({p.doc}{rule}{choices})")
    return lines or ["      (no hyperparameters)"]


def cmd_list(args) -> int:
    out = ["Regularizers:"]
    for name in REGULARIZERS.names():
        cls = REGULARIZERS.get(name)
        out.append(f"  {name}  [targets: {', '.join(cls.targets) or 'none'}]  {_first_line(cls)}")
        out += describe_params(cls)
    out.append("Tasks:")
    for name in TASKS.names():
        cls = TASKS.get(name)
        out.append(f"  {name}  [exposes: {', '.join(cls.supports)}]  {_first_line(cls)}")
        out += describe_params(cls)
        if cls.term_defaults:
            out.append(f"      regularizer's term here: "
                       f"{', '.join(f'{k} = {v!r}' for k, v in cls.term_defaults.items())} unless set")
        out.append(f"      metrics: {', '.join(cls.directions())}")
    print("\n".join(out))
    return 0


def _first_line(cls) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def cmd_check(args) -> int:
    """The contract checks of the plugins' regularizers and tasks and of those named; 1 when one fails."""
    from .contract import NOT_RUN, checks_of, outcomes
    regs = [*(_names(args.reg) or []), *(n for m in args.plugin for n in REGULARIZERS.names_from(m))]
    tasks = [*(_names(args.task) or []), *(n for m in args.plugin for n in TASKS.names_from(m))]
    if not regs and not tasks:
        raise RegbenchError("name what to check: --plugin MODULE (its regularizers and tasks), "
                            "--reg NAME or --task NAME")
    for name in regs:
        REGULARIZERS.get(name)
    for name in tasks:
        TASKS.get(name)
    subject, counts = None, {"hold": 0, "fail": 0, "not run": 0}
    for check, why in outcomes(checks_of(dict.fromkeys(regs), dict.fromkeys(tasks),
                                         settings=parse_settings(args.set))):
        if check.subject != subject:
            subject = check.subject
            print(f"{subject}:")
        kind = "hold" if why is None else "not run" if why == NOT_RUN else "fail"
        counts[kind] += 1
        print(f"  {'ok' if why is None else '-' if why == NOT_RUN else 'FAIL':<5} {check.what}"
              + ("" if why in (None, NOT_RUN) else f": {why}"), flush=True)
    print(f"{sum(counts.values())} checks: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + ".")
    return 1 if counts["fail"] else 0


def cmd_grid(args) -> int:
    from .grid import inline_grid, load_grid, parse_seeds, parse_values
    seeds = parse_seeds(args.seeds) if args.seeds else None
    tasks, regs = _names(args.task), _names(args.reg)
    if args.grid_file:
        grid = load_grid(args.grid_file).override(tasks, regs, seeds, parse_values(
            parse_settings(args.set)), args.cpu, args.gpu)
    elif tasks and regs:
        grid = inline_grid(tasks, regs, parse_settings(args.set), seeds).override(
            cpu=args.cpu, gpu=args.gpu)
    else:
        raise RegbenchError("give a grid file, or --task and --reg for an inline grid")
    store = checked_store(args.results)
    try:
        if args.tune:
            from .tuning import tune_grid
            runs = tune_grid(grid, store, args.tune, args.samples, address=args.address,
                             plugins=args.plugin, quiet=args.quiet, dry_run=args.dry_run,
                             trackers=() if args.dry_run else open_trackers(args.track, store, grid.name))
            return grid_summary(grid.name, runs, store) if runs else 0
        return run_grid_trials(grid, store, args)
    except KeyboardInterrupt:  # Ray is shut down by now; only whole records are in the store
        print("\n" + interrupted(grid, store, args))
        return 130


def interrupted(grid, store: ResultsStore, args) -> str:
    """What an interrupted grid leaves, and the command that goes on with it."""
    again = ["regbench", *args.argv]
    if args.tune:
        return f"Interrupted: the finished trials are recorded, none half-way. Run again: {shlex.join(again)}"
    keys = {c.run_key for c in grid.trials()}
    recorded = len(keys & set(store.outcomes()))
    if recorded and not args.resume:
        again.append("--resume")
    return (f"Interrupted: {recorded} of {len(keys)} trials of grid {grid.name} recorded, none "
            f"half-way. To go on: {shlex.join(again)}")


def run_grid_trials(grid, store: ResultsStore, args) -> int:
    from .grid import labels
    trials = grid.trials()
    outcomes = store.outcomes()
    status = {key: outcome[0] for key, outcome in outcomes.items()}
    runs = partial(to_run, retry_failed=args.retry_failed)
    pending = [c for c in trials if runs(outcomes.get(c.run_key))]
    recorded = sum(c.run_key in status for c in trials)
    if args.resume and not recorded:
        raise RegbenchError(f"nothing to resume: no trial of grid '{grid.name}' is recorded in "
                            f"{store.path}")
    print(f"Grid {grid.name}: {len(trials)} trials, {recorded} already recorded, "
          f"{len(pending)} to run.")
    if args.dry_run:
        scheduled = {c.run_key for c in pending}
        names = labels([{**c.identity["params"]["task"], **c.identity["params"]["reg"]}
                        for c in trials], [(c.task, c.reg) for c in trials])
        for config, label in zip(trials, names):
            state = "to run" if config.run_key in scheduled else status.get(config.run_key, "not run")
            print(f"  {state:<9} {config.task:<12} {config.reg:<12} seed {config.seed:<3} {label}")
        return 0
    elsewhere = {}
    if pending:
        store.check(write=True)  # before Ray: Tune writes <results>/tune
        with Claims(store.directory) as claims:
            pending, elsewhere = claim_pending(claims, store, pending, runs)
            if pending:
                trackers = open_trackers(args.track, store, grid.name)
                from .cluster import ray_session
                with ray_session(args.address, quiet=args.quiet):
                    from .scheduler import run_grid
                    run_grid(pending, store=store, name=grid.name, resources=grid.resources,
                             metric=grid.metric, mode=grid.mode(grid.metric), plugins=args.plugin,
                             quiet=args.quiet, trackers=trackers)
    return grid_summary(grid.name, trials, store, elsewhere)


def to_run(outcome: tuple | None, retry_failed: bool) -> bool:
    """Whether a grid runs a trial whose run has this outcome ((status, error), None if none)."""
    if retry_failed:
        return outcome is not None and outcome[0] in ("failed", "diverged")
    return outcome is None


def grid_summary(name: str, trials, store: ResultsStore, elsewhere: dict | None = None) -> int:
    """Counts by status (and each failure) of the grid's trials in the store, those not recorded
    that another process computes (``elsewhere``: run_key → who) counted apart; the exit status."""
    outcomes, elsewhere = store.outcomes(), elsewhere or {}
    counts: dict[str, int] = {}
    skipped = []
    for config in trials:
        status, error = outcomes.get(config.run_key, ("not run", None))
        if status == "not run" and config.run_key in elsewhere:
            status = "computed by another process"
            skipped.append(elsewhere[config.run_key])
        counts[status] = counts.get(status, 0) + 1
        if status in ("failed", "diverged"):
            print(f"  {status}: {config.task} × {config.reg} seed {config.seed} "
                  f"(run {config.run_key}): {error}")
    if skipped:
        print(f"  {len(skipped)} trials computed by another process ({holders(skipped)}); not run "
              f"here (if it stops before recording them, --resume runs them)")
    print(f"Grid {name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; records in {store.path}")
    if counts.get("not run"):
        print("Some trials did not finish: run the same command with --resume to complete them.")
    elif set(counts) - {"ok", "computed by another process"}:
        print("Rerun the failed or diverged trials with --retry-failed.")
    return 0 if set(counts) <= {"ok", "computed by another process"} else 1


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def cmd_suite(args) -> int:
    from .store import default_results_dir
    from .suite import load_suite
    from .suite_run import run_suite
    suite = load_suite(args.suite_file, smoke=args.smoke)
    for key in ("cpu", "gpu"):
        if getattr(args, key) is not None:
            suite.resources[key] = getattr(args, key)
    known = {t for f in suite.families for t in f.tasks + f.sanity}
    named = _names(args.task) or []
    placed = [TASKS.get(t).registered_name for t in named if t not in known]  # unknown names: an error
    regs = [REGULARIZERS.get(r).registered_name for r in _names(",".join(args.reg)) or []]
    if regs or placed:
        from .contract import verify
        from .suite_place import place
        verify(regs, placed)  # before anything is placed or run
        suite = place(suite, regs, placed)
    tasks = named if set(named) & known else None  # the suite's tasks named: only those
    name = f"suite_{suite.name}" + ("_smoke" if args.smoke else "")
    store = ResultsStore(args.results or default_results_dir() / "+".join([name, *suite.added]))
    store.check(write=not args.dry_run)  # the suite writes its outputs even with nothing to run
    reused = reused_stores(args, name, store) if args.reuse or suite.added else []
    if args.resume and not store.outcomes():
        raise RegbenchError(f"nothing to resume: no run of suite {suite.name} is recorded in {store.path}")
    try:
        return run_suite(suite, store, address=args.address, plugins=args.plugin,
                         dry_run=args.dry_run, tasks=tasks, reused=reused)
    except KeyboardInterrupt:
        again = ["regbench", *args.argv] + ([] if args.resume else ["--resume"])
        print(f"\nInterrupted: the finished trials are recorded in {store.path}, none half-way. "
              f"To go on: {shlex.join(again)}")
        return 130


def reused_stores(args, name: str, store: ResultsStore) -> list:
    """The stores ``--reuse`` names, else the suite's own (``name``) where they exist; refused when
    one is the store the suite writes to."""
    from .suite_reuse import ReadOnlyStore, default_reuse
    paths = [Path(p) for p in args.reuse] or default_reuse(args.suite_file, name)
    if not paths:
        print(f"No store to reuse: neither results/{name} beside the suite file's folder nor {name} in "
              f"the results directory holds records; give --reuse DIR, or every run of the suite runs "
              f"here too.")
    for path in paths:
        if path.resolve() == store.directory.resolve():
            raise RegbenchError(f"--results {store.directory} is a store the suite reuses read-only: "
                                f"give your own (the default is {store.directory.name}+<added names> "
                                f"in the results directory)")
    return [ReadOnlyStore(path) for path in paths]


def cmd_leaderboard(args) -> int:
    from .leaderboard import study_report, to_csv, to_markdown
    store = checked_store(args.results)
    figures = None
    if args.out:
        from .leaderboard.figure_links import figure_section
        figures = partial(figure_section, out=Path(args.out))
    if args.study:
        from .grid import load_grid
        markdown, csv = study_report(load_grid(args.study), store, figures)
        outputs = {args.out: markdown, str(Path(args.out).with_suffix(".csv")): csv} \
            if args.out else {None: markdown}
    else:
        fmt = args.format or ("csv" if args.out and args.out.endswith(".csv") else "md")
        outputs = {args.out: to_csv(store, args.task) if fmt == "csv"
                   else to_markdown(store, args.task, figures)}
    for path, text in outputs.items():
        if path is None:
            sys.stdout.write(text)
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
        print(f"Wrote {path}")
    return 0


def study_links(store: Path, name: str, out_dir: Path) -> dict[str, str]:
    """The study's leaderboard, CSV and store that exist beside it (``<store>/../<name>.md``),
    as paths relative to the report's directory."""
    found = {"leaderboard": store.parent / f"{name}.md", "CSV": store.parent / f"{name}.csv",
             "store": store}
    return {what: os.path.relpath(path, out_dir) for what, path in found.items() if path.exists()}


def cmd_report(args) -> int:
    from .report import analyse, load_study, to_html, to_markdown
    if args.study:
        from .grid import load_grid
        results = Path(args.results) if args.results else None
        studies = []
        for path in args.study:
            grid = load_grid(path)
            own = results / grid.name if results else None  # results/<study>/, else DIR itself
            store = checked_store(own if own and (own / "records.jsonl").is_file() else results)
            study = load_study(store, grid)
            study.links = study_links(store.directory, grid.name, Path(args.out or ".").parent)
            studies.append(study)
    else:
        studies = [load_study(checked_store(args.results))]
    if not any(study.tasks for study in studies):
        raise RegbenchError(f"no finished runs to report in {args.results or 'the results store'} "
                            f"(give --results the directory of a store, or of the studies' stores)")
    fmt = args.format or ("md" if args.out and args.out.endswith(".md") else "html")
    text = (to_markdown if fmt == "md" else to_html)(analyse(studies))
    if not args.out:
        sys.stdout.write(text)
        return 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"Wrote {args.out}")
    return 0


def cmd_store(args) -> int:
    from .store import convert
    store = checked_store(args.results)
    if args.fix and args.action != "check":
        raise RegbenchError("--fix goes with regbench store check")
    if args.all and args.action != "export":
        raise RegbenchError("--all goes with regbench store export")
    if args.action == "check":
        if args.fix:
            store.check(write=True)
        return store_check(store, args.fix)
    if args.action == "migrate":
        count, backup = convert.migrate(store)
        if not count:
            print(f"Nothing to migrate: every record of {store.path} is of the current layout.")
            return 0
        print(f"Migrated {count} records of {store.path} to the current layout (arrays in "
              f"{store.directory / 'artifacts'}); the original is kept as {backup}.")
    elif args.action == "export":
        if not args.file:
            raise RegbenchError("regbench store export needs the output file: regbench store export FILE")
        count = convert.export(store, Path(args.file), every=args.all)
        print(f"Exported {count} records of {store.path} to {args.file}")
    else:
        if not args.file:
            raise RegbenchError("regbench store import needs the store or file to read: regbench "
                                "store import DIR|FILE")
        merged = convert.import_records(store, Path(args.file))
        print(f"Imported {args.file} into {store.path}: {merged.added} new records, {merged.present} "
              f"already present, {merged.several} runs now with more than one record (each counts "
              f"its latest ok one)")
    return 0


def store_check(store: ResultsStore, fix: bool) -> int:
    """``regbench store check [--fix]``: 0 when nothing is (left) amiss."""
    from .store.health import DAMAGED_FILE, examine
    found = examine(store, fix)
    print(f"{store.path}: {found.records} records, {len(found.damaged)} damaged lines, "
          f"{len(found.orphans)} orphaned run files.")
    for line, why in found.damaged:
        print(f"  damaged line {line}: {why}")
    for line, why in found.kept:
        print(f"  line {line} kept: {why}")
    for name in found.orphans:
        why = "a run's files that no live process is recording" if name.startswith("staging/") \
            else "no record names it"
        print(f"  orphan: {name} ({why})")
    for name, holder in found.running:
        print(f"  in progress: {name} (a run computed by {holder})")
    if fix and (found.damaged or found.orphans):
        print(f"Fixed: {len(found.damaged)} damaged lines moved to {store.directory / DAMAGED_FILE}, "
              f"{len(found.orphans)} orphans removed.")
    elif found.damaged or found.orphans:
        print("`regbench store check --fix` moves the damaged lines aside and removes the orphans.")
    return 1 if found.kept or (found.damaged or found.orphans) and not fix else 0


def cmd_publish(args) -> int:
    from .publish import NotPushed, collect, push, write
    configurations = collect(args.results, args.study)
    out = Path(args.dir)
    write(configurations, out, args.license, args.push)
    print(f"Wrote {out}: {', '.join(f'{c.name} ({len(c.records)} runs)' for c in configurations)}; "
          f"its card is {out / 'README.md'}")
    if not args.push:
        return 0
    try:
        url = push(out, args.push)
    except NotPushed as exc:
        print(f"regbench: could not push to {args.push}: {exc}; the dataset is in {out}", file=sys.stderr)
        return 1
    print(f"Pushed {out} to {url}")
    return 0


def add_track(command) -> None:
    from .tracking import parse_track
    command.add_argument("--track", type=parse_track, action="append", default=[],
                         metavar="mlflow[=URI]|wandb[=PROJECT]",
                         help="also log the runs computed here to MLflow (default: a SQLite file "
                              "in the results store) or W&B (offline unless configured); "
                              "repeatable; needs regbench[track]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regbench",
                                     description="Compare diversity regularizers on equal terms.")
    common = argparse.ArgumentParser(add_help=False)
    # Global options typed after the subcommand are stored as after_*, else the subcommand's
    # defaults would overwrite those typed before it; main() merges the two.
    for options, prefix in ((parser, ""), (common, "after_")):
        options.add_argument("--plugin", dest=prefix + "plugin", action="append", default=[],
                             metavar="MODULE",
                             help="import MODULE to register its regularizers/tasks (repeatable)")
        options.add_argument("--results", dest=prefix + "results", metavar="DIR",
                             help="results store directory (default $REGBENCH_RESULTS or "
                                  "~/.local/share/regbench)")
        options.add_argument("--data-dir", dest=prefix + "data_dir", metavar="DIR",
                             help="datasets directory, read-only (sets $REGBENCH_DATA; see README)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="train one configuration and record it")
    run.add_argument("--reg", required=True, help="regularizer name (see `regbench list`)")
    run.add_argument("--task", required=True, help="task name (see `regbench list`)")
    run.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                     help="hyperparameters; task.KEY / reg.KEY when a name is ambiguous")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    run.add_argument("--force", action="store_true", help="re-run even if an ok record exists")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_track(run)
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", parents=[common], help="regularizers and tasks with hyperparameters")
    lst.set_defaults(func=cmd_list)

    check = sub.add_parser("check", parents=[common],
                           help="the contract checks of the --plugin modules' regularizers and tasks "
                                "(and of those named): what the suite checks before it runs them, "
                                "with each task's runs")
    check.add_argument("--reg", help="also these regularizers, comma-separated")
    check.add_argument("--task", help="also these tasks, comma-separated")
    check.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                       help="settings of the tasks' runs, e.g. epochs=1 (default: the task's own)")
    check.set_defaults(func=cmd_check)

    grid = sub.add_parser("grid", parents=[common], help="run a grid of trials with Ray Tune")
    grid.add_argument("grid_file", nargs="?", metavar="GRID.toml", help="grid file (tasks/*.toml)")
    grid.add_argument("--task", help="task names, comma-separated (replaces the file's)")
    grid.add_argument("--reg", help="regularizer names, comma-separated (replaces the file's)")
    grid.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=A,B",
                      help="hyperparameters; a comma list is a grid axis; REG.KEY= or TASK.KEY= "
                           "for one regularizer or task")
    grid.add_argument("--seeds", help="a count (5: seeds 0-4) or a list (0,3,7)")
    grid.add_argument("--cpu", type=float, help="CPUs per trial (default: the file's, else 1)")
    grid.add_argument("--gpu", type=float, help="GPUs per trial, fractions share a GPU (default 0)")
    grid.add_argument("--address", help="join this Ray cluster (HOST:PORT of `ray start --head`)")
    grid.add_argument("--dry-run", action="store_true", help="print the trials, run nothing")
    grid.add_argument("--resume", action="store_true",
                      help="continue an interrupted grid (an error if none of it is recorded)")
    grid.add_argument("--retry-failed", action="store_true",
                      help="rerun only the trials recorded as failed or diverged")
    grid.add_argument("--tune", choices=["random", "asha"],
                      help="tuning mode: a Tune search of --samples trials per regularizer")
    grid.add_argument("--samples", type=int, default=8, help="trials per regularizer (tuning mode)")
    grid.add_argument("--quiet", action="store_true", help="no Tune progress output")
    add_track(grid)
    grid.set_defaults(func=cmd_grid)

    suite = sub.add_parser("suite", parents=[common],
                           help="a benchmark suite end to end: selection, choice, evaluation, "
                                "leaderboards, report")
    suite.add_argument("suite_file", metavar="SUITE.toml", help="suite file (suites/*.toml)")
    suite.add_argument("--dry-run", action="store_true",
                       help="print the plan, its estimated cost and the data it needs; run nothing")
    suite.add_argument("--resume", action="store_true",
                       help="continue an interrupted suite (an error if none of it is recorded)")
    suite.add_argument("--smoke", action="store_true",
                       help="every task at the file's smallest scale (its smoke settings), one "
                            "selection and one evaluation seed, the two factors nearest 1, one CPU "
                            "per trial, in a store of its own")
    suite.add_argument("--task", help="only these of the suite's tasks, comma-separated; a task the suite "
                                      "lacks (a plugin's) is placed in it, every regularizer of its "
                                      "families run on it")
    suite.add_argument("--reg", action="append", default=[], metavar="NAME",
                       help="place a regularizer the suite lacks (a plugin's) in its families: only its "
                            "runs and those the reused stores lack run (repeatable, or comma-separated)")
    suite.add_argument("--reuse", action="append", default=[], metavar="DIR",
                       help="a results store whose runs the suite reuses, read-only (repeatable); with "
                            "--reg or a placed --task, default: the suite's own stores that exist")
    suite.add_argument("--cpu", type=float, help="CPUs per trial (default: the file's, else 1)")
    suite.add_argument("--gpu", type=float, help="GPUs per trial (default: the file's, else 0)")
    suite.add_argument("--address", help="join this Ray cluster (HOST:PORT of `ray start --head`)")
    suite.set_defaults(func=cmd_suite)

    board = sub.add_parser("leaderboard", parents=[common], help="tables from the results store")
    board.add_argument("--out", help="output file (default: stdout)")
    board.add_argument("--format", choices=["md", "csv"], help="default: from --out's suffix, else md")
    board.add_argument("--task", action="append", help="only these tasks (repeatable)")
    board.add_argument("--study", metavar="GRID.toml",
                       help="the grid's trials only, one section per [[table]] with the published "
                            "numbers it names; --out X.md also writes X.csv")
    board.set_defaults(func=cmd_leaderboard)

    report = sub.add_parser("report", parents=[common],
                            help="one self-contained HTML page (or markdown): which regularizer "
                                 "wins across tasks, and how sure we are")
    report.add_argument("--study", action="append", metavar="GRID.toml",
                        help="a study (repeatable): the grid's runs, in --results DIR/<name>/ when "
                             "that holds a store, else in DIR; default: every run in DIR")
    report.add_argument("--out", help="output file (default: stdout)")
    report.add_argument("--format", choices=["html", "md"],
                        help="default: md for an --out ending in .md, else html")
    report.set_defaults(func=cmd_report)

    store = sub.add_parser("store", parents=[common],
                           help="check, migrate, export or import records")
    store.add_argument("action", choices=["check", "migrate", "export", "import"],
                       help="check: name damaged lines and orphaned run files (--fix: move the "
                            "lines aside, remove the orphans); "
                            "migrate: convert a store of an older layout (keeps records.v<N>.jsonl); "
                            "export FILE.jsonl|.parquet|.csv: the records, with their artifact "
                            "files (a table: one row per counted run, --all: per record); "
                            "import DIR|FILE: add the records of a store or an export that the "
                            "store does not hold")
    store.add_argument("file", nargs="?", metavar="FILE")
    store.add_argument("--fix", action="store_true",
                       help="with check: move damaged lines to records.damaged.jsonl, remove orphans")
    store.add_argument("--all", action="store_true",
                       help="with export to .parquet or .csv: every record, not one per counted run")
    store.set_defaults(func=cmd_store)

    publish = sub.add_parser("publish", parents=[common],
                             help="the counted runs as a Hugging Face dataset: Parquet files, a "
                                  "dataset card, the leaderboards")
    publish.add_argument("dir", metavar="DIR",
                         help="the dataset's folder: new, empty, or an earlier publish (replaced)")
    publish.add_argument("--study", action="append", metavar="GRID.toml",
                         help="one configuration per study (repeatable): the grid's runs, in "
                              "--results DIR/<name>/ when that holds a store, else in DIR; default: "
                              "one configuration of every counted run in the store")
    publish.add_argument("--license", default="mit", help="the card's license (default: mit)")
    publish.add_argument("--push", metavar="REPO",
                         help="then upload the folder to the Hugging Face dataset repository REPO "
                              "(created if missing; needs a token)")
    publish.set_defaults(func=cmd_publish)
    return parser


def print_warning(message, category, *rest, **kwargs) -> None:
    """Warnings as one line each (the store's damaged lines, for example)."""
    print(f"regbench: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = print_warning
    try:
        args.plugin += vars(args).pop("after_plugin")  # --plugin accumulates
        for name in ("results", "data_dir"):
            before, after = getattr(args, name), vars(args).pop("after_" + name)
            if before and after and before != after:
                raise RegbenchError(f"--{name.replace('_', '-')} given twice with different "
                                    f"values: '{before}' before the subcommand, '{after}' after it")
            setattr(args, name, after or before)
        if args.data_dir:
            os.environ["REGBENCH_DATA"] = args.data_dir  # inherited by local workers
        for module in args.plugin:
            load_plugin(module)
        with interruptible():
            return args.func(args)
    except KeyboardInterrupt:
        print(f"\nregbench: interrupted; nothing of the {args.command} in progress was recorded",
              file=sys.stderr)
        return 130
    except RegbenchError as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, NotRecorded) else 2
    except BrokenPipeError:  # output piped into a reader that stopped early, e.g. `| head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
