"""The leaderboard's footer: what produced it and what the counted runs ran on."""
from __future__ import annotations

import json
import platform
from collections import Counter
from datetime import datetime, timezone

from .. import __version__
from ..git import git_commit
from ..store import ResultsStore, line_numbers
from .runs import Counted


def provenance(counted: Counted) -> str:
    """The footer of a leaderboard of ``counted`` (:func:`.runs.counted_runs`)."""
    index, lines = counted.store.index, counted.runs.line
    machines = index.machines(lines)
    datasets = sorted({f"{name} {digest}" for data in index.datasets(lines)
                       for name, digest in json.loads(data).items()})
    statuses = counted.store.counts()

    def tally(describe, unknown: str) -> str:
        """``value ×count, …`` of ``describe(commit, torch, device, host, hardware)``."""
        totals = Counter()
        for *row, count in machines:
            totals[describe(*row)] += count
        return ", ".join(f"{k or unknown} ×{n}" for k, n in sorted(totals.items(), key=str)) or "none"

    def place(commit, torch, device, host, hardware) -> str:
        return f"{device or '?'} on {host or '?'}"

    return "\n".join([
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by regbench {__version__} "
        f"(git {git_commit() or 'none'}), python {platform.python_version()}.",
        f"Runs counted: {len(counted.runs)} (one per task, configuration and seed: the latest ok "
        f"record) of {sum(statuses.values())} records "
        f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}).{skipped(counted.store)} "
        f"regbench commits: {tally(lambda commit, *_: commit, 'none')}. "
        f"torch: {tally(lambda _, torch, *__: torch, 'none')}.",
        f"Hardware: {tally(place, '?')}.",
        f"CPUs (a CPU run's last bits depend on them): "
        f"{tally(lambda *row: cpu(row[-1]), 'not recorded')}.",
        f"Datasets: {', '.join(datasets) or 'no checksums recorded'}.",
        "Tests against none: scipy.stats.ttest_rel (n ≥ 3) and wilcoxon (n ≥ 6) over the seeds "
        "both ran, Holm-corrected across the rows of each table."])


def cpu(hardware: str | None) -> str | None:
    """``AMD EPYC (AVX512, mkl 2024.2, 1 thread)`` of a record's ``hardware`` (JSON)."""
    if not hardware:
        return None
    found = json.loads(hardware)
    threads = found.get("threads")
    return (f"{found.get('cpu', '?')} ({found.get('isa', '?')}, {found.get('blas', '?')}, "
            f"{threads} thread{'s' if threads != 1 else ''})")


def skipped(store: ResultsStore) -> str:
    """`` Skipped as unreadable: …`` of the lines of the records file that no count includes."""
    found = store.skipped()
    if not found:
        return ""
    total = sum(map(len, found.values()))
    where = "; ".join(f"line{'s' if len(lines) > 1 else ''} {line_numbers(lines)}: {why}"
                      for why, lines in found.items())
    return (f" Skipped as unreadable: {total} line{'s' if total > 1 else ''} of "
            f"{store.path.name} ({where}).")
