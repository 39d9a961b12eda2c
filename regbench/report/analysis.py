"""The whole analysis of a report, shared by its HTML page and its markdown summary."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..leaderboard.render import fmt, fmt_diff, p_text
from ..metrics.declared import metric
from ..leaderboard.stats import MIN_PAIRS
from .ranks import ALPHA, Ranking, against_none, left_out, rank, score_table
from .studies import Study, TaskResult

SELECTION = ("A regularizer run at several configurations (several λ) is represented on a task by "
             "the one with the best mean of the study's validation metric (the grid's `select`, "
             "else the task's `val_*` metric), never chosen on the metric it is ranked on; "
             "without a validation metric it is not represented there.")
TABLES = ("Mean ± 95% CI (t distribution) over n seeds; Δ vs none: mean paired difference from "
          f"`none` (paired by seed), with the p of a paired t-test (n ≥ {MIN_PAIRS}), "
          "Holm-corrected across the rows of the table (* p < 0.05); published: the paper's number "
          "only where the run's scale is the paper's.")
RANKING = ("Each task ranks the representatives by their mean on the study's main metric (1 = best; "
           "ties share the average rank). Friedman test: scipy.stats.friedmanchisquare, and Iman and "
           "Davenport's F from its χ². Post-hoc: every pair's z = (R_i − R_j) / √(k(k+1)/(6N)) on "
           "the average ranks, Holm-corrected over the pairs (scikit_posthocs.posthoc_siegel_friedman). "
           "The critical-difference diagram (Demšar, \"Statistical Comparisons of Classifiers over "
           "Multiple Data Sets\", JMLR 7, 2006) joins the regularizers that test does not separate "
           f"at α = {ALPHA} and shows Nemenyi's critical difference CD. Ranks need the same "
           "regularizers on every task: the test uses the complete block with the most (task, "
           "regularizer) cells.")
AGAINST_NONE = (f"Against none, per task where the regularizer has a representative: win / loss "
                f"when the Holm-corrected paired t-test gives p < {ALPHA} and the mean is better / "
                f"worse; tie otherwise; untested with fewer than {MIN_PAIRS} seeds paired with none.")


@dataclass
class Report:
    studies: list[Study]
    ranking: Ranking | None
    left_out: list[str]
    against_none: pd.DataFrame
    scores: pd.DataFrame

    @property
    def results(self) -> list[TaskResult]:
        return [result for study in self.studies for result in study.tasks]


def analyse(studies: list[Study]) -> Report:
    results = [result for study in studies for result in study.tasks]
    scores = score_table(results)
    ranking = rank(results)
    return Report(studies, ranking, left_out(ranking, scores), against_none(results), scores)


def task_table(result: TaskResult) -> tuple[list[str], list[list[tuple[str, object]]]]:
    """(header, rows of (text, sort key) cells) of a task's table: every configuration."""
    rows, rate = result.rows, result.rate
    select = result.select and rows.select_mean.notna().any()
    published = "published_source" in rows and rows.published_source.ne("").any()
    header = ["regularizer", "config", "mean" + (" (%)" if rate else ""), "95% CI", "n",
              "Δ vs none", "p (Holm)"] + ([result.select] if select else []) \
        + (["published"] if published else []) + ["ranked"]
    out = []
    for r in rows.itertuples():
        cells = [(r.reg, r.reg), (r.config, r.config), (fmt(r.mean, rate), r.mean),
                 ("–" if math.isnan(r.ci_low) else f"[{fmt(r.ci_low, rate)}, {fmt(r.ci_high, rate)}]",
                  r.ci_high - r.ci_low), (str(int(r.n)), int(r.n)),
                 *none_cells(r, rate)]
        if select:
            cells.append((fmt(r.select_mean, metric(result.select).rate), r.select_mean))
        if published:
            cells.append((r.published_source or "–", r.published))
        cells.append(("yes" if r.chosen else "", int(r.chosen)))
        out.append(cells)
    return header, out


def none_cells(r, rate: bool) -> list[tuple[str, object]]:
    if r.reg == "none":
        return [("baseline", 0.0), ("", math.nan)]
    if not r.n_pairs >= 1:
        return [("–", math.nan), ("", math.nan)]
    p = "" if math.isnan(r.p_holm) else p_text(r.p_holm)
    return [(fmt_diff(r.diff_vs_none, rate), r.diff_vs_none), (p, r.p_holm)]


def ranking_table(report: Report) -> tuple[list[str], list[list[tuple[str, object]]]]:
    """(header, rows) per regularizer: average rank, wins/ties/losses against none, tasks."""
    ranks = report.ranking.ranks if report.ranking else pd.Series(dtype=float)
    tally = report.against_none
    header = ["regularizer", "average rank", "win", "tie", "loss", "untested", "tasks"]
    regs = list(ranks.index) + [r for r in report.scores.columns if r not in ranks.index]
    out = []
    for reg in regs:
        counts = tally.loc[reg] if reg in tally.index else None
        tasks = int(report.scores[reg].notna().sum())
        out.append([(reg, reg), (f"{ranks[reg]:.2f}", ranks[reg]) if reg in ranks.index else
                    ("not ranked", math.inf)]
                   + [(str(int(counts[c])), int(counts[c])) if counts is not None else ("–", -1)
                      for c in ("win", "tie", "loss", "untested")]
                   + [(str(tasks), tasks)])
    return header, out


def friedman_text(ranking: Ranking) -> str:
    return (f"Friedman test over N = {len(ranking.tasks)} tasks and k = {len(ranking.regs)} "
            f"regularizers: χ² = {ranking.chi2:.3g}, p = {ranking.p_friedman:.2g}; Iman–Davenport "
            f"F = {ranking.f_iman:.3g}, p = {ranking.p_iman:.2g}. Nemenyi CD (α = {ALPHA}) = "
            f"{ranking.cd:.2f} ranks. Tasks compared: {', '.join(ranking.tasks)}.")
