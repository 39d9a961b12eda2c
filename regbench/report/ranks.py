"""Which regularizer wins across tasks, after Janez Demšar, "Statistical Comparisons of Classifiers
over Multiple Data Sets", JMLR 7:1-30, 2006: each task ranks the regularizers by the mean of their
representative configuration (1 = best, ties share the average rank); the Friedman test asks
whether the average ranks differ (``scipy.stats.friedmanchisquare``, and Iman and Davenport's F
from its statistic); the post-hoc test compares every pair by the z statistic of their average
ranks, z = (R_i − R_j) / sqrt(k(k+1)/(6N)), Holm-corrected over the pairs
(``scikit_posthocs.posthoc_siegel_friedman``); the critical-difference diagram joins the
regularizers that test does not separate and shows Nemenyi's critical difference
CD = q_α sqrt(k(k+1)/(6N)).

Ranks need a complete block: the same regularizers on every task compared. The block is the one
with the most (task, regularizer) cells, at least 3 regularizers and 2 tasks (ties: more tasks);
what it leaves out is said. Against ``none`` every regularizer counts a win, tie or loss per task
from the paired test of the leaderboard (Holm-corrected p < ``ALPHA``), on every task it has a
representative on.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .studies import TaskResult

ALPHA = 0.05


@dataclass
class Ranking:
    """``scores``: tasks × regularizers, the representative's mean turned lower-is-better (NaN:
    no representative); ``tasks``/``regs``: the complete block; ``ranks``: average rank per
    regularizer of the block; ``posthoc``: Holm-corrected p per pair."""
    scores: pd.DataFrame
    tasks: list[str]
    regs: list[str]
    ranks: pd.Series
    chi2: float
    p_friedman: float
    f_iman: float
    p_iman: float
    posthoc: pd.DataFrame
    cd: float


def score_table(results: list[TaskResult]) -> pd.DataFrame:
    """Tasks × regularizers: each representative's mean, lower is better."""
    rows = {}
    for result in results:
        if result.direction in ("min", "max", "target1"):
            chosen = result.chosen
            rows[result.name] = pd.Series(result.facts.oriented(chosen["mean"]),
                                          index=chosen.reg.to_numpy())
    return pd.DataFrame(rows).T


def complete_block(present: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(tasks, regularizers) of the largest block of ``present`` (tasks × regularizers, bool) that
    is all true, with at least 3 regularizers and 2 tasks; empty lists when there is none."""
    matrix = present.to_numpy(dtype=bool)
    best, cells = ([], []), 0
    for size in range(len(matrix), 1, -1):
        for subset in itertools.combinations(range(len(matrix)), size):
            regs = np.flatnonzero(matrix[list(subset)].all(axis=0))
            if len(regs) >= 3 and size * len(regs) > cells:
                best, cells = (list(subset), list(regs)), size * len(regs)
    return list(present.index[best[0]]), list(present.columns[best[1]])


def friedman(block: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
    """(average ranks, χ², p, Iman-Davenport F, its p) of an N tasks × k block, lower is better."""
    n, k = block.shape
    ranks = stats.rankdata(block, axis=1).mean(axis=0)
    with np.errstate(all="ignore"):  # every task a tie: no statistic (NaN)
        chi2, p = stats.friedmanchisquare(*block.T)
    denominator = n * (k - 1) - chi2
    f = math.nan if math.isnan(chi2) else (n - 1) * chi2 / denominator if denominator > 0 else math.inf
    return ranks, float(chi2), float(p), f, float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))


def posthoc_holm(block: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Holm-corrected p of every pair's z test on average ranks (Demšar 2006, §3.2.2)."""
    import scikit_posthocs
    p = scikit_posthocs.posthoc_siegel_friedman(block, p_adjust="holm")
    return pd.DataFrame(p.to_numpy(), index=names, columns=names)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's CD = q_α sqrt(k(k+1)/(6N)), q_α the studentized range quantile over √2."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def rank(results: list[TaskResult]) -> Ranking | None:
    """The ranking of the complete block of ``results``; None when there is no block."""
    scores = score_table(results)
    if scores.empty:
        return None
    tasks, regs = complete_block(scores.notna())
    if not tasks:
        return None
    block = scores.loc[tasks, regs].to_numpy(dtype=float)
    ranks, chi2, p, f, p_f = friedman(block)
    return Ranking(scores, tasks, regs, pd.Series(ranks, index=regs).sort_values(), chi2, p, f,
                   p_f, posthoc_holm(block, regs), critical_difference(len(regs), len(tasks)))


def left_out(ranking: Ranking | None, scores: pd.DataFrame) -> list[str]:
    """Why each task and regularizer outside the block was left out of the Friedman test."""
    if ranking is None:
        return ["No ranking: no 3 regularizers have a representative on the same 2 tasks."]
    lines = []
    for reg in scores.columns.difference(ranking.regs, sort=False):
        missing = [t for t in ranking.tasks if pd.isna(scores.loc[t, reg])]
        lines.append(f"regularizer {reg}: no representative on {', '.join(missing)}")
    for task in scores.index.difference(ranking.tasks, sort=False):
        missing = [r for r in ranking.regs if pd.isna(scores.loc[task, r])]
        lines.append(f"task {task}: no representative of {', '.join(missing)}")
    return lines


def against_none(results: list[TaskResult], alpha: float = ALPHA) -> pd.DataFrame:
    """Per regularizer: wins, ties, losses against ``none`` and untested tasks (fewer than 3
    seeds paired with ``none``), over the tasks where it has a representative."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        if result.direction not in ("min", "max", "target1"):
            continue
        none = result.chosen[result.chosen.reg == "none"]["mean"]
        for row in result.chosen[result.chosen.reg != "none"].itertuples():
            tally = counts.setdefault(row.reg, dict.fromkeys(("win", "tie", "loss", "untested"), 0))
            if none.empty or math.isnan(row.p_holm):
                tally["untested"] += 1
            elif row.p_holm >= alpha:
                tally["tie"] += 1
            else:
                ours, theirs = result.facts.oriented([row.mean, none.iloc[0]])
                tally["win" if ours < theirs else "loss"] += 1
    return pd.DataFrame.from_dict(counts, orient="index", columns=["win", "tie", "loss", "untested"])
