"""The leaderboard's footer: what produced it and what the trials ran on."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone


def provenance(records: list[dict]) -> str:
    from ..runner import versions
    v = versions()
    ok = [r for r in records if r.get("status") == "ok"]

    def counted(values) -> str:
        return ", ".join(f"{k} ×{n}" for k, n in sorted(Counter(values).items())) or "none"

    datasets = sorted({f"{name} sha256 {digest}" for r in ok for name, digest in
                       (r.get("data") or {}).items()})
    return "\n".join([
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by regbench {v['regbench']} "
        f"(git {v['git_commit'] or 'none'}), torch {v['torch']}, python {v['python']}.",
        f"Runs: {len(ok)} ok of {len(records)} records. "
        f"regbench commits: {counted((r.get('versions') or {}).get('git_commit') or 'none' for r in ok)}. "
        f"torch: {counted((r.get('versions') or {}).get('torch') or '?' for r in ok)}.",
        f"Hardware: {counted(r.get('device', '?') + ' on ' + r.get('host', '?') for r in ok)}.",
        f"Datasets: {', '.join(datasets) or 'no checksums recorded'}."])
