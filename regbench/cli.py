"""The ``regbench`` command line: ``run``, ``list``, ``leaderboard``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import RegbenchError
from .registry import REGULARIZERS, TASKS, load_plugin
from .store import ResultsStore


def parse_settings(items: list[str]) -> dict[str, str]:
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RegbenchError(f"--set expects key=value, got '{item}'")
        settings[key.strip()] = value.strip()
    return settings


def cmd_run(args) -> int:
    from .runner import execute, prepare
    config = prepare(args.task, args.reg, parse_settings(args.set), args.seed)
    store = ResultsStore(args.results)
    previous = None if args.force else store.find_ok(config.config_hash)
    if previous:
        print(f"Reusing record {previous['id']} (config {config.config_hash}); --force to re-run.")
        record = previous
    else:
        record = execute(config, device=args.device, quiet=args.quiet)
        store.append(record)
    print(summary(record, store))
    return 0 if record["status"] == "ok" else 1


def summary(record: dict, store: ResultsStore) -> str:
    lines = [f"{record['task']} × {record['reg']}  seed {record['seed']}  →  {record['status']}"
             f"  ({record['wall_time_s']:.1f} s on {record['device']})"]
    params = {**record["task_params"], **record["reg_params"]}
    lines.append("  hyperparameters: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if record["error"]:
        lines.append(f"  error: {record['error']}")
    for name, value in record["metrics"].items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"  {name:<24} {text}")
    lines.append(f"  record {record['id']} (config {record['config_hash']}) in {store.path}")
    return "\n".join(lines)


def describe_params(cls) -> list[str]:
    lines = []
    for name, p in cls.params().items():
        rule = f"; {p.rule}" if p.rule else ""
        choices = f"; one of {', '.join(map(str, p.choices))}" if p.choices else ""
        lines.append(f"      {name} = {p.default!r}  ({p.doc}{rule}{choices})")
    return lines or ["      (no hyperparameters)"]


def cmd_list(args) -> int:
    out = ["Regularizers:"]
    for name in REGULARIZERS.names():
        cls = REGULARIZERS.get(name)
        out.append(f"  {name}  [targets: {', '.join(cls.targets)}]  {_first_line(cls)}")
        out += describe_params(cls)
    out.append("Tasks:")
    for name in TASKS.names():
        cls = TASKS.get(name)
        out.append(f"  {name}  [exposes: {', '.join(cls.supports)}]  {_first_line(cls)}")
        out += describe_params(cls)
        out.append(f"      metrics: {', '.join(cls.metrics)}")
    print("\n".join(out))
    return 0


def _first_line(cls) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def cmd_leaderboard(args) -> int:
    from .leaderboard import to_csv, to_markdown
    records = [r for r in ResultsStore(args.results).records()
               if not args.task or r["task"] in args.task]
    fmt = args.format or ("csv" if args.out and args.out.endswith(".csv") else "md")
    text = to_csv(records) if fmt == "csv" else to_markdown(records)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"Wrote {args.out} ({len(records)} records)")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE to register its regularizers/tasks (repeatable)")
    common.add_argument("--results", metavar="DIR",
                        help="results store directory (default $REGBENCH_RESULTS or ~/.local/share/regbench)")
    parser = argparse.ArgumentParser(prog="regbench", parents=[common],
                                     description="Compare diversity regularizers on equal terms.")
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
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", parents=[common], help="regularizers and tasks with hyperparameters")
    lst.set_defaults(func=cmd_list)

    board = sub.add_parser("leaderboard", parents=[common], help="tables from the results store")
    board.add_argument("--out", help="output file (default: stdout)")
    board.add_argument("--format", choices=["md", "csv"], help="default: from --out's suffix, else md")
    board.add_argument("--task", action="append", help="only these tasks (repeatable)")
    board.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for module in args.plugin:
            load_plugin(module)
        return args.func(args)
    except RegbenchError as exc:
        print(f"regbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
