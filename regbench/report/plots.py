"""The report's plots as inline SVG (matplotlib; text kept as text, no file, no network): each
task's metric per configuration (its 95% interval, or its seeds as dots when n ≤ ``DOTS``), the
critical-difference diagram on its own 1..k axis, the geometry of a task's representative runs and
their training curves. Colours come from a 20-colour palette, so that no two series share one."""
from __future__ import annotations

import io
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .ranks import Ranking
from .studies import DOTS, Geometry, TaskResult, label

STYLE = {"svg.fonttype": "none", "svg.hashsalt": "regbench", "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False}
BEST = "#1f6fb4"


def palette(names) -> dict[str, str]:
    """One colour per name, from matplotlib's tab20 (distinct for up to 20)."""
    colours = matplotlib.colormaps["tab20"].colors
    return {name: matplotlib.colors.to_hex(colours[(2 * i) % 20 + (2 * i // 20) % 2])
            for i, name in enumerate(dict.fromkeys(names))}


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
    """Every configuration's mean and 95% CI (n > ``DOTS``) or seeds (n ≤ ``DOTS``); ``none``'s
    interval as a band."""
    rows = result.rows.iloc[::-1]
    scale = 100 if result.rate else 1
    fig, (ax,) = figure(6, 0.9 + 0.3 * len(rows))
    for y, r in enumerate(rows.itertuples()):
        colour = BEST if r.chosen else "#888888"
        seeds = np.asarray(result.seeds.get(r.config_key, []), dtype=float) * scale
        if len(seeds) <= DOTS:
            ax.scatter(seeds, np.full(len(seeds), y), s=14, color=colour, alpha=0.8)
            ax.plot([r.mean * scale], [y], marker="|", ms=12, color=colour)
        else:
            low, high = r.ci_low * scale, r.ci_high * scale
            ax.errorbar(r.mean * scale, y, xerr=[[r.mean * scale - low], [high - r.mean * scale]],
                        fmt="o", color=colour, ms=4, capsize=2)
    none = rows[rows.reg == "none"]
    if len(none) == 1 and np.isfinite(none.ci_low.iloc[0]):
        ax.axvspan(none.ci_low.iloc[0] * scale, none.ci_high.iloc[0] * scale, color="#e4e4e4",
                   zorder=0, label="none: 95% CI")
        ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_yticks(range(len(rows)), [f"{r.reg} ({r.short})" for r in rows.itertuples()], fontsize=9)
    ax.set_xlabel(result.metric + (" (%)" if result.rate else "") +
                  f"; seeds as dots where n ≤ {DOTS}", fontsize=9)
    return svg(fig, f"{result.metric} of every configuration on {result.name}")


def cd_diagram(ranking: Ranking, added=()) -> str:
    """Demšar's critical-difference diagram on an axis of 1..k: each regularizer's average rank,
    the names in two columns (better half left) one line apart (those ``added`` by the user marked
    and bold), a bar under the axis joining each maximal group the Holm-corrected post-hoc test
    does not separate, Nemenyi's CD above it."""
    ranks = ranking.ranks
    k = len(ranking.regs)
    half = (len(ranks) + 1) // 2
    lines = max(half, len(ranks) - half)
    groups = cliques(ranking)
    fig, (ax,) = figure(6.4, 1.3 + 0.3 * lines + 0.12 * len(groups), layout=None)
    ax.set_xlim(0.3, k + 0.7)
    ax.set_ylim(-(lines + 1.2) - 0.25 * len(groups), 1.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for tick in range(1, k + 1):
        ax.vlines(tick, 0, 0.15, color="black", lw=1)
        ax.text(tick, 0.3, str(tick), ha="center", va="bottom", fontsize=9)
    ax.hlines(1.2, 1, 1 + ranking.cd, color="black", lw=1.5)
    ax.text(1 + ranking.cd / 2, 1.3, f"CD = {ranking.cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, (reg, value) in enumerate(ranks.items()):
        left = i < half
        row = (i if left else len(ranks) - 1 - i) + 1
        x_text = 0.35 if left else k + 0.65
        ax.vlines(value, -row, 0, color="#555555", lw=0.8)
        ax.hlines(-row, min(value, x_text) if left else value, value if left else x_text,
                  color="#555555", lw=0.8)
        ax.text(x_text, -row + 0.08, f"{label(reg, added)} ({value:.2f})", ha="left" if left else "right",
                va="bottom", fontsize=9, fontweight="bold" if reg in added else "normal")
    for j, (low, high) in enumerate(groups):
        y = -0.35 - 0.18 * j
        ax.hlines(y, low - 0.03, high + 0.03, color=BEST, lw=3)
    return svg(fig, "critical-difference diagram of the average ranks")


def cliques(ranking: Ranking) -> list[tuple[float, float]]:
    """(lowest, highest average rank) of each maximal run of regularizers, in rank order, that the
    post-hoc test separates nowhere within."""
    names = list(ranking.ranks.index)
    runs = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and not any(ranking.separated(a, names[j + 1]) for a in names[i:j + 1]):
            j += 1
        if j > i and not any(i >= a and j <= b for a, b in runs):
            runs.append((i, j))
    return [(ranking.ranks.iloc[i], ranking.ranks.iloc[j]) for i, j in runs]


def geometry(result: TaskResult, family: Geometry) -> str:
    """Eccentricity and pairwise angles per representative (one dot per seed) and the mean
    normalised covariance spectrum, in three small panels."""
    panels = 3 if family.spectra else 2
    fig, axes = figure(3.1 * panels, 2.9, panels)
    values: pd.DataFrame = family.values
    regs = list(dict.fromkeys(values.reg))
    x = {reg: i for i, reg in enumerate(regs)}
    axes[0].scatter(values.reg.map(x), values.eccentricity, s=12, color=BEST)
    axes[0].set_title("eccentricity ε", fontsize=10)
    axes[1].scatter(values.reg.map(x) - 0.1, values.min_angle_deg, s=12, color="#d95f02", label="min")
    axes[1].scatter(values.reg.map(x) + 0.1, values.mean_angle_deg, s=12, color=BEST, label="mean")
    axes[1].set_title("pairwise angles (°)", fontsize=10)
    axes[1].legend(fontsize=8, frameon=False)
    for ax in axes[:2]:
        ax.set_xticks(range(len(regs)), regs, rotation=45, ha="right", fontsize=9)
    if family.spectra:
        colours = palette(family.spectra)
        for reg, spectrum in family.spectra.items():
            axes[2].plot(np.arange(1, len(spectrum) + 1), spectrum, marker=".", label=reg,
                         color=colours[reg])
        axes[2].set_yscale("log")
        axes[2].set_title("covariance spectrum / trace", fontsize=10)
        axes[2].set_xlabel("eigenvalue index")
        axes[2].legend(fontsize=7, frameon=False)
    return svg(fig, f"geometry of the {family.family} on {result.name}")


def curves(result: TaskResult) -> str:
    """Each representative's training loss and first validation metric per period, mean over seeds."""
    names = [n for n in ("train_loss", *(m for r in result.curves.values() for m in r if m.startswith("val_")))]
    shown = list(dict.fromkeys(n for n in names if any(n in c for c in result.curves.values())))[:2]
    fig, axes = figure(3.4 * len(shown), 2.8, len(shown))
    colours = palette(result.curves)
    for ax, name in zip(axes, shown):
        for reg, curve in result.curves.items():
            if name in curve:
                ax.plot(np.arange(1, len(curve[name]) + 1), curve[name], label=reg, color=colours[reg], lw=1.2)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("period (epoch)")
    axes[0].legend(fontsize=7, frameon=False)
    return svg(fig, f"training curves on {result.name}")
