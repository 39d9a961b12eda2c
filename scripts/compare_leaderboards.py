"""Compare the numbers of two leaderboard CSVs (``regbench leaderboard --study ... --out X.md``
writes X.csv), e.g. before and after a change of the results layer:

    git show HEAD~1:results/digits_latent.csv > /tmp/before.csv
    python scripts/compare_leaderboards.py /tmp/before.csv results/digits_latent.csv

Rows are matched by task, regularizer, metric and their numbers (mean, std, n, confidence interval,
paired difference from ``none``), not by label, so relabelled rows match. Prints the rows of each
file that have no equal in the other, and exits 1 when a row of the new file has none."""
from __future__ import annotations

import argparse
import sys

import pandas as pd

NUMBERS = ["mean", "std", "n", "ci_low", "ci_high", "diff_vs_none"]


def keyed(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    rounded = frame[NUMBERS].astype(float).round(9)  # float64 sums in another order: last bits
    frame["key"] = list(zip(frame.task, frame.reg, frame.metric,
                            *(rounded[c].fillna(float("inf")) for c in NUMBERS)))
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    before, after = keyed(args.before), keyed(args.after)
    only_before = before[~before.key.isin(set(after.key))]
    only_after = after[~after.key.isin(set(before.key))]
    same = after.key.isin(set(before.key)).sum()
    print(f"{args.after}: {same} of {len(after)} rows have the same numbers in {args.before}")
    for name, rows in (("only before", only_before), ("only after", only_after)):
        for r in rows.itertuples():
            print(f"  {name}: {r.task} {r.reg} [{r.config}] {r.metric}: mean {r.mean} n {r.n} "
                  f"diff {r.diff_vs_none}")
    return 1 if len(only_after) else 0


if __name__ == "__main__":
    sys.exit(main())
