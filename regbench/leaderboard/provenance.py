"""The leaderboard's footer: what produced it and what the trials ran on."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone


def version(record: dict, name: str) -> str:
    return (record.get("versions") or {}).get(name) or "none"


def counted(values) -> str:
    return ", ".join(f"{k} ×{n}" for k, n in sorted(Counter(values).items())) or "none"


def provenance(records: list[dict]) -> str:
    from ..runner import versions
    v = versions()
    ok = [r for r in records if r.get("status") == "ok"]
    datasets = sorted({f"{name} {digest}" for r in ok for name, digest in
                       (r.get("data") or {}).items()})
    return "\n".join([
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by regbench {v['regbench']} "
        f"(git {v['git_commit'] or 'none'}), torch {v['torch']}, python {v['python']}.",
        f"Runs: {len(ok)} ok of {len(records)} records. "
        f"regbench commits: {counted(version(r, 'git_commit') for r in ok)}. "
        f"torch: {counted(version(r, 'torch') for r in ok)}.",
        f"Hardware: {counted(r.get('device', '?') + ' on ' + r.get('host', '?') for r in ok)}.",
        f"Datasets: {', '.join(datasets) or 'no checksums recorded'}."])
