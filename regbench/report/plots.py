"""The report's plots as inline SVG (matplotlib; text kept as text, no file, no network): each
task's metric per configuration with its 95% interval, the critical-difference diagram, and the
geometry of a task's representative runs."""
from __future__ import annotations

import io
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .ranks import ALPHA, Ranking
from .studies import Geometry, TaskResult

STYLE = {"svg.fonttype": "none", "svg.hashsalt": "regbench", "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False}
BEST = "#1f6fb4"


def svg(fig: Figure, label: str) -> str:
    """The figure as an ``<svg>`` element that scales to its container (no width or height)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    head, rest = text.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    return f'{head} role="img" aria-label="{label}" preserveAspectRatio="xMinYMin meet">{rest}'


def figure(width: float, height: float, columns: int = 1, layout: str | None = "constrained"):
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout=layout)
        return fig, fig.subplots(1, columns, squeeze=False)[0]


def intervals(result: TaskResult) -> str:
    """Every configuration's mean and 95% CI of the task's metric; ``none``'s as a band."""
    rows = result.rows.iloc[::-1]
    scale = 100 if result.rate else 1
    fig, (ax,) = figure(6, 0.8 + 0.25 * len(rows))
    y = np.arange(len(rows))
    mean = rows["mean"].to_numpy() * scale
    low, high = rows.ci_low.to_numpy() * scale, rows.ci_high.to_numpy() * scale
    error = np.nan_to_num(np.vstack([mean - low, high - mean]))
    colours = [BEST if chosen else "#999999" for chosen in rows.chosen]
    for i in range(len(rows)):
        ax.errorbar(mean[i], y[i], xerr=error[:, i:i + 1], fmt="o", color=colours[i], ms=4,
                    capsize=2)
    none = rows[rows.reg == "none"]
    if len(none) == 1 and np.isfinite(none.ci_low.iloc[0]):
        ax.axvspan(none.ci_low.iloc[0] * scale, none.ci_high.iloc[0] * scale, color="#dddddd",
                   zorder=0, label="none: 95% CI")
        ax.legend(loc="best", fontsize=7, frameon=False)
    ax.set_yticks(y, [f"{r.reg} ({r.config})" for r in rows.itertuples()])
    ax.set_xlabel(result.metric + (" (%)" if result.rate else ""))
    return svg(fig, f"{result.metric} of every configuration on {result.name}")


def cd_diagram(ranking: Ranking) -> str:
    """Demšar's critical-difference diagram: average ranks, bars join the regularizers the
    Holm-corrected post-hoc test does not separate, and Nemenyi's CD above the axis."""
    import scikit_posthocs
    fig, (ax,) = figure(6, 0.9 + 0.22 * len(ranking.regs), layout=None)  # the diagram places itself
    with matplotlib.rc_context(STYLE):
        scikit_posthocs.critical_difference_diagram(ranking.ranks, ranking.posthoc, ax=ax,
                                                    alpha=ALPHA, cd=ranking.cd)
    return svg(fig, "critical-difference diagram of the average ranks")


def geometry(result: TaskResult, family: Geometry) -> str:
    """Eccentricity and pairwise angles per representative (one dot per seed) and the mean
    normalised covariance spectrum, in three small panels."""
    panels = 3 if family.spectra else 2
    fig, axes = figure(2.6 * panels, 2.4, panels)
    values: pd.DataFrame = family.values
    regs = list(dict.fromkeys(values.reg))
    x = {reg: i for i, reg in enumerate(regs)}
    axes[0].scatter(values.reg.map(x), values.eccentricity, s=10, color=BEST)
    axes[0].set_title("eccentricity ε", fontsize=9)
    axes[1].scatter(values.reg.map(x) - 0.1, values.min_angle_deg, s=10, color="#d95f02",
                    label="min")
    axes[1].scatter(values.reg.map(x) + 0.1, values.mean_angle_deg, s=10, color=BEST, label="mean")
    axes[1].set_title("pairwise angles (°)", fontsize=9)
    axes[1].legend(fontsize=7, frameon=False)
    for ax in axes[:2]:
        ax.set_xticks(range(len(regs)), regs, rotation=45, ha="right")
    if family.spectra:
        for reg, spectrum in family.spectra.items():
            axes[2].plot(np.arange(1, len(spectrum) + 1), spectrum, marker=".", label=reg)
        axes[2].set_yscale("log")
        axes[2].set_title("covariance spectrum / trace", fontsize=9)
        axes[2].set_xlabel("eigenvalue index")
        axes[2].legend(fontsize=6, frameon=False)
    return svg(fig, f"geometry of the {family.family} on {result.name}")
