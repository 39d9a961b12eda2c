"""The leaderboard's figures section, per task: FID (else the offline FCD) against ε across runs
(Figure 10 of Li & Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without
explicit projection", IJCNN 2022), drawn beside the leaderboard file (``<its stem>_<task>_<metric>_
vs_eccentricity.png``; the store is only read), and links to every run's own figures, with paths
relative to the leaderboard file (the figures in the store, or in a copy of its files)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .runs import Counted

PLOTTED = ("fid", "fcd", "eccentricity")


def figure_section(counted: Counted, out: Path, files: Path | None = None) -> list[str]:
    """The section of a leaderboard written to ``out``, its links to the runs' figures in
    ``files`` (default: the store's directory), which holds them by the names the records give."""
    index, files, out_dir = counted.store.index, files or counted.store.directory, out.parent
    found = index.metric_rows(counted.runs.line, PLOTTED)
    plotted = pd.DataFrame(found, columns=["line", "metric", "value"]).pivot_table(
        index="line", columns="metric", values="value")
    linked = index.with_figures(counted.runs.line)
    runs = counted.runs.join(counted.configs[["task", "reg"]], on="cfg").set_index("line")
    labels = counted.configs.set_index("config_key").label
    lines = []
    for task in counted.configs.task.unique():
        parts = []
        metrics = plotted.reindex(runs.index[runs.task == task])
        metric = next((m for m in ("fid", "fcd") if m in metrics and metrics[m].notna().any()), None)
        if metric and "eccentricity" in metrics:
            both = metrics[["eccentricity", metric]].assign(reg=runs.reg[runs.task == task]).dropna()
            points = {reg: (group.eccentricity.to_numpy(), group[metric].to_numpy())
                      for reg, group in both.groupby("reg")}
            path = out.with_name(f"{out.stem}_{task}_{metric}_vs_eccentricity.png")
            from ..figures import generation_vs_eccentricity  # matplotlib: only when drawing
            generation_vs_eccentricity(points, metric, path)
            parts += [f"{metric} against ε over the runs below (Figure 10):", "",
                      f"![{metric} against eccentricity]({os.path.relpath(path, out_dir)})", ""]
        rows = [row for row in linked if row[1] == task]
        if rows:
            parts += ["| regularizer | seed | config | figures |", "|---|---|---|---|"]
            for _, _, reg, seed, config_key, artifacts in rows:
                links = " ".join(f"[{Path(n).stem}]({os.path.relpath(files / n, out_dir)})"
                                 for n in json.loads(artifacts) if n.startswith("figures/"))
                parts.append(f"| {reg} | {seed} | {labels[config_key]} | {links} |")
        if parts:
            lines += ["", f"## Figures: {task}", "", *parts]
    return lines
