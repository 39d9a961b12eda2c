"""The leaderboard's figures section, per task: Figure 10 of seed 000 (FID, else the offline FCD,
against ε across runs), drawn into the results store, and links to every run's own figures
(Figures 3, 5, 6–7), with paths relative to the leaderboard file."""
from __future__ import annotations

import os
from pathlib import Path

from ..figures import generation_vs_eccentricity

SHOWN = ("d", "lam", "mu", "epochs", "train_size")


def figure_section(records: list[dict], store_dir: Path, out_dir: Path) -> list[str]:
    runs = [r for r in records if r.get("status") == "ok"]
    lines = []
    for task in dict.fromkeys(r["task"] for r in runs):
        task_runs = [r for r in runs if r["task"] == task]
        parts = []
        metric = next((m for m in ("fid", "fcd") if any(m in r["metrics"] for r in task_runs)), None)
        if metric and any("eccentricity" in r["metrics"] for r in task_runs):
            path = store_dir / "figures" / f"{task}_{metric}_vs_eccentricity.png"
            generation_vs_eccentricity(task_runs, metric, path)
            parts += [f"{metric} against ε over the runs below (Figure 10):", "",
                      f"![{metric} against eccentricity]({os.path.relpath(path, out_dir)})", ""]
        linked = [r for r in task_runs if r.get("artifacts") and r["metrics"].get("figures")]
        if linked:
            parts += ["| regularizer | seed | config | figures |", "|---|---|---|---|"]
            for r in linked:
                params = {**r["task_params"], **r["reg_params"]}
                config = ", ".join(f"{k}={params[k]}" for k in SHOWN if k in params)
                links = " ".join(f"[{Path(name).stem}]"
                                 f"({os.path.relpath(store_dir / r['artifacts'] / name, out_dir)})"
                                 for name in r["metrics"]["figures"])
                parts.append(f"| {r['reg']} | {r['seed']} | {config} | {links} |")
        if parts:
            lines += ["", f"## Figures: {task}", "", *parts]
    return lines
