"""Which regularizer wins across tasks, per family, after Janez Demšar, "Statistical Comparisons of
Classifiers over Multiple Data Sets", JMLR 7:1-30, 2006.

A family is the regularizers of one kind of target, compared on the tasks that expose it: those of
latent codes and posteriors on the tasks with codes, those of layer weights on the tasks with
weights; ``none`` is the baseline of both. Only ranked tasks count (a sanity task is shown, not
ranked), and only representatives comparable with ``none`` (same task hyperparameters).

Each task ranks the family's representatives by their mean (1 = best, ties share the average rank).
The Friedman test (``scipy.stats.friedmanchisquare``, with Iman and Davenport's F) needs the same
regularizers on every task: it uses the complete block with the most (task, regularizer) cells.
Beside it the Skillings–Mack test uses every available cell (John H. Skillings and Gregory A. Mack,
"On the use of a Friedman-type statistic in balanced and unbalanced block designs",
Technometrics 23(2), 1981; it is Friedman's statistic on a complete block). The post-hoc test
compares every pair of the block by the z statistic of their average ranks, z = (R_i − R_j) /
sqrt(k(k+1)/(6N)), Holm-corrected (``scikit_posthocs.posthoc_siegel_friedman``); the
critical-difference diagram joins the regularizers it does not separate, with Nemenyi's
CD = q_α sqrt(k(k+1)/(6N)).

Against ``none``, per task: win or loss (the Holm-corrected paired test over the task's
representatives, p < ``ALPHA``), tie, ``no effect`` (the regularizer changed nothing measurable),
untested (fewer than 3 seeds paired with ``none``) or not comparable (no ``none`` at its settings).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .studies import FAMILIES, TaskResult

ALPHA = 0.05
OUTCOMES = ("win", "tie", "loss", "no effect", "untested", "not comparable")


@dataclass
class Ranking:
    """One family's ranking. ``scores``: tasks × regularizers, the representative's mean turned
    lower-is-better (NaN: none); ``tasks``/``regs``: the complete block; ``ranks``: average rank
    per regularizer of the block; ``posthoc``: Holm-corrected p per pair; ``all_ranks``: average
    rank over every task a regularizer has a representative on; ``sm``: Skillings–Mack (statistic,
    p, tasks) over every cell."""
    family: str
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
    all_ranks: pd.Series
    sm: tuple[float, float, int]

    def separated(self, a: str, b: str) -> bool:
        return self.posthoc.loc[a, b] < ALPHA


def score_table(results: list[TaskResult], family: str | None = None) -> pd.DataFrame:
    """Tasks × regularizers: each ranked representative's mean, lower is better (one family's
    members, or every representative)."""
    rows = {}
    for result in results:
        if result.ranked and result.facts.ranked:
            chosen = result.chosen[result.chosen.comparable]
            if family is not None:
                chosen = chosen[chosen.family.isin([family, ""])]
            if len(chosen) > 1 or family is None:
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


def skillings_mack(scores: np.ndarray) -> tuple[float, float, int]:
    """(statistic, p, tasks used) of the Skillings–Mack test on tasks × regularizers with missing
    cells (NaN), lower is better; tasks with fewer than two cells are left out.

    Per task i with k_i cells ranked r_ij: A_j = Σ_i √(12/(k_i+1)) (r_ij − (k_i+1)/2); with λ_st the
    number of tasks where s and t both have a cell, Σ has −λ_st off the diagonal and Σ_{t≠s} λ_st
    on it; the statistic is Aᵀ Σ⁻ A (a generalised inverse), χ² with k − 1 degrees of freedom."""
    scores = scores[(~np.isnan(scores)).sum(axis=1) >= 2]
    n, k = scores.shape
    a, together = np.zeros(k), np.zeros((k, k))
    for row in scores:
        present = np.flatnonzero(~np.isnan(row))
        size = len(present)
        a[present] += math.sqrt(12 / (size + 1)) * (stats.rankdata(row[present]) - (size + 1) / 2)
        together[np.ix_(present, present)] += 1
    sigma = -together
    np.fill_diagonal(sigma, 0)
    np.fill_diagonal(sigma, -sigma.sum(axis=1))
    statistic = float(a @ np.linalg.pinv(sigma) @ a)
    return statistic, float(stats.chi2.sf(statistic, k - 1)) if k > 1 else math.nan, n


def posthoc_holm(block: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Holm-corrected p of every pair's z test on average ranks (Demšar 2006, §3.2.2)."""
    import scikit_posthocs
    p = scikit_posthocs.posthoc_siegel_friedman(block, p_adjust="holm")
    return pd.DataFrame(p.to_numpy(), index=names, columns=names)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's CD = q_α sqrt(k(k+1)/(6N)), q_α the studentized range quantile over √2."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def rank(results: list[TaskResult], family: str = "") -> Ranking | None:
    """The ranking of one family (every representative with ``family=""``) over the ranked tasks;
    None without a complete block."""
    scores = score_table(results, family or None)
    if scores.empty:
        return None
    tasks, regs = complete_block(scores.notna())
    if not tasks:
        return None
    block = scores.loc[tasks, regs].to_numpy(dtype=float)
    ranks, chi2, p, f, p_f = friedman(block)
    all_ranks = pd.DataFrame(stats.rankdata(scores.to_numpy(float), axis=1, nan_policy="omit"),
                             index=scores.index, columns=scores.columns).mean().sort_values()
    return Ranking(family, scores, tasks, regs, pd.Series(ranks, index=regs).sort_values(), chi2, p,
                   f, p_f, posthoc_holm(block, regs), critical_difference(len(regs), len(tasks)),
                   all_ranks, skillings_mack(scores.to_numpy(dtype=float)))


def rankings(results: list[TaskResult]) -> dict[str, Ranking | None]:
    """Each family's ranking (:data:`~.studies.FAMILIES`)."""
    return {family: rank(results, family) for family in FAMILIES}


def left_out(ranking: Ranking | None, scores: pd.DataFrame) -> list[str]:
    """Why each task and regularizer outside the block was left out of the Friedman test."""
    if ranking is None:
        return ["No ranking: no 3 regularizers have a representative on the same 2 ranked tasks."]
    lines = []
    for reg in scores.columns.difference(ranking.regs, sort=False):
        missing = [t for t in ranking.tasks if pd.isna(scores.loc[t, reg])]
        lines.append(f"regularizer {reg}: no representative comparable with none on {', '.join(missing)}")
    for task in scores.index.difference(ranking.tasks, sort=False):
        missing = [r for r in ranking.regs if pd.isna(scores.loc[task, r])]
        lines.append(f"task {task}: no representative comparable with none of {', '.join(missing)}")
    return lines


def outcome(result: TaskResult, row, alpha: float = ALPHA) -> str:
    """How a representative compares with ``none`` on its task (:data:`OUTCOMES`)."""
    none = result.chosen[(result.chosen.reg == "none")]["mean"]
    if not row.comparable or none.empty:
        return "not comparable"
    if math.isnan(row.p_rep_holm):
        return "no effect" if row.no_effect else "untested"
    if row.p_rep_holm >= alpha:
        return "no effect" if row.no_effect else "tie"
    ours, theirs = result.facts.oriented([row.mean, none.iloc[0]])
    return "win" if ours < theirs else "loss"


def against_none(results: list[TaskResult], family: str | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """Per regularizer (of ``family``): its outcomes against ``none`` over the ranked tasks where it
    has a representative."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        if not (result.ranked and result.facts.ranked):
            continue
        for row in result.chosen[result.chosen.reg != "none"].itertuples():
            if family is not None and row.family != family:
                continue
            tally = counts.setdefault(row.reg, dict.fromkeys(OUTCOMES, 0))
            tally[outcome(result, row, alpha)] += 1
    return pd.DataFrame.from_dict(counts, orient="index", columns=list(OUTCOMES))
