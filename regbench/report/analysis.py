"""The whole analysis of a report, shared by its HTML page and its markdown summary: per family the
ranking and the comparison with ``none``, and the verdict written from them, in the manner of
autorank's reports (which test counts and why, what is rejected, what cannot be separated, each
effect with its size)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..leaderboard.render import fmt, fmt_diff, p_text
from ..leaderboard.stats import MIN_PAIRS, magnitude
from ..metrics.declared import metric
from .ranks import ALPHA, OUTCOMES, Ranking, against_none, left_out, outcome, rankings, score_table
from .studies import DOTS, FAMILIES, MEASURABLE, Study, TaskResult, label

SELECTION = ("A regularizer run at several configurations (several λ) is represented on a task by "
             "the one with the best mean of the study's validation metric (the grid's `select`, "
             "else the task's `val_*` metric), among those run at the task settings of `none`; "
             "never chosen on the metric it is ranked on.")
TABLES = (f"Mean and 95% CI (t distribution) over n seeds, or the range of the seeds where "
          f"n ≤ {DOTS}; Δ vs none: mean paired difference from `none` (paired by seed), p of a paired t-test (n ≥ {MIN_PAIRS}) Holm-corrected over the "
          "task's representatives (* p < 0.05); d_z: paired Cohen's d with its size (n, s, m, l: "
          "negligible, small, medium, large), δ: Cliff's δ; "
          "time: training time over none's; published: the paper's number only where the run's "
          f"scale is the paper's. No effect: not significant, and the metric and every geometry "
          f"diagnostic within {MEASURABLE:g} standard errors of none's (what the seeds cannot "
          "resolve).")
RANKING = ("Each ranked task ranks its representatives by their mean on the study's main metric "
           "(1 = best; ties share the average rank), per family. The Friedman test (with Iman and "
           "Davenport's F, the one that counts: Demšar, JMLR 7, 2006, finds the χ² form too "
           "conservative) needs the same regularizers on every task and uses the complete block "
           "with the most cells; the Skillings–Mack test uses every available cell. Post-hoc: every "
           "pair's z on the block's average ranks, Holm-corrected (scikit_posthocs); the "
           "critical-difference diagram joins what it does not separate, with Nemenyi's CD.")


@dataclass
class Family:
    """One family's ranking, its outcomes against ``none`` and the median training-time ratios
    over the ``timed`` ranked tasks whose runs recorded their training time."""
    name: str
    ranking: Ranking | None
    left_out: list[str]
    against_none: pd.DataFrame
    time: pd.Series
    scores: pd.DataFrame
    timed: int = 0


@dataclass
class Report:
    studies: list[Study]
    families: dict[str, Family]
    references: dict[str, str] = field(default_factory=dict)

    @property
    def results(self) -> list[TaskResult]:
        return [result for study in self.studies for result in study.tasks]


def analyse(studies: list[Study]) -> Report:
    results = [result for study in studies for result in study.tasks]
    families = {}
    for name, ranking in rankings(results).items():
        scores = score_table(results, name)
        rows = pd.concat([r.chosen[r.chosen.family.isin([name])] for r in results if r.ranked]
                         or [pd.DataFrame(columns=["reg", "time_ratio"])])
        time = rows.groupby("reg").time_ratio.median() if len(rows) else pd.Series(dtype=float)
        timed = sum(r.ranked and r.chosen[r.chosen.family == name].time_ratio.notna().any()
                    for r in results)
        families[name] = Family(name, ranking, left_out(ranking, scores) if not scores.empty else [],
                                against_none(results, name), time, scores, timed)
    references = {k: v for r in results for k, v in r.references.items()}
    return Report(studies, families, dict(sorted(references.items())))


# ---- the verdict ------------------------------------------------------------------------------

def effect_text(row, rate: bool) -> str:
    """``+1.6 pt, d_z 2.1 (large), δ 0.9 (large), p 0.003``."""
    parts = [fmt_diff(row.diff_vs_none, rate)]
    if not math.isnan(row.d_z):
        parts.append(f"d_z {row.d_z:.2g} ({magnitude(row.d_z, 'd_z')})")
    if not math.isnan(row.cliffs_delta):
        parts.append(f"δ {row.cliffs_delta:.2g} ({magnitude(row.cliffs_delta, 'cliffs_delta')})")
    if not math.isnan(row.p_rep_holm):
        parts.append(f"p {row.p_rep_holm:.2g}")
    return ", ".join(parts)


def findings(results: list[TaskResult], family: str) -> list[tuple[str, str, str, str]]:
    """(regularizer, outcome, task, effect) of every representative of ``family`` on a ranked task."""
    out = []
    for result in results:
        if not (result.ranked and result.facts.ranked):
            continue
        for row in result.chosen[result.chosen.family == family].itertuples():
            out.append((row.reg, outcome(result, row), result.name, effect_text(row, result.rate)))
    return out


def verdict(report: Report) -> list[str]:
    """The first screen, as paragraphs built from the statistics."""
    out = []
    results = report.results
    for name, family in report.families.items():
        found = findings(results, name)
        if not found:
            continue
        tasks = sorted({task for _, _, task, _ in found})
        head = f"{FAMILIES[name].capitalize()} ({len(family.against_none)} regularizers on {len(tasks)} ranked tasks)."
        wins = [f"{reg} on {task} ({effect})" for reg, kind, task, effect in found if kind == "win"]
        losses = [f"{reg} on {task} ({effect})" for reg, kind, task, effect in found if kind == "loss"]
        nothing = sorted({reg for reg, kind, _, _ in found if kind == "no effect"})
        against = ("Better than none at α = 0.05: " + "; ".join(wins) + "." if wins else
                   "No regularizer is better than none at α = 0.05 on any task.")
        against += (" Worse than none: " + "; ".join(losses) + "." if losses else "")
        if nothing:
            against += f" No measurable effect (not a tie) on at least one task: {', '.join(nothing)}."
        out += [head + " " + against, between(family)]
        if not family.time.dropna().empty:
            costs = ", ".join(f"{reg} ×{ratio:.2g}" for reg, ratio in family.time.dropna().sort_values().items())
            out.append(f"Training time relative to none (median over the {family.timed} of "
                       f"{len(family.scores)} ranked tasks whose runs recorded it): {costs}.")
    return out


def between(family: Family) -> str:
    """Whether the family's regularizers differ from each other, and what is separated."""
    ranking = family.ranking
    if ranking is None:
        return "Too few regularizers share ranked tasks for a test between them."
    n, k = len(ranking.tasks), len(ranking.regs)
    decided = "reject" if ranking.p_iman < ALPHA else "fail to reject"
    sm, p_sm, n_sm = ranking.sm
    pairs = [(a, b) for i, a in enumerate(ranking.regs) for b in ranking.regs[i + 1:]
             if ranking.separated(a, b)]
    separated = ("the post-hoc test separates " + ", ".join(f"{a} and {b}" for a, b in pairs)
                 if pairs else "the post-hoc test separates no pair (smallest Holm p "
                                f"{ranking.posthoc.where(~np.eye(k, dtype=bool)).min().min():.2g})")
    best = ranking.ranks.index[0]
    return (f"Between them, over the complete block of N = {n} tasks and k = {k} regularizers, we "
            f"{decided} the hypothesis that they rank alike (Iman–Davenport p = {ranking.p_iman:.2g}; "
            f"Friedman's χ² p = {ranking.p_friedman:.2g}); over every available cell ({n_sm} tasks), "
            f"Skillings–Mack p = {p_sm:.2g}. Best average rank: {best} ({ranking.ranks[best]:.2f}); "
            f"{separated}.")


LIMITS = "What these data cannot support:"


def limits(report: Report) -> list[str]:
    """Which conclusions the design is too small for (the verdict's closing list)."""
    out = []
    for name, family in report.families.items():
        ranking = family.ranking
        if ranking is not None:
            n, k = len(ranking.tasks), len(ranking.regs)
            if ranking.cd >= (k - 1) / 2:
                out.append(f"{FAMILIES[name].capitalize()}: with N = {n} tasks the critical difference is {ranking.cd:.2f} of "
                           f"at most {k - 1} ranks between k = {k} regularizers, so only a near-total "
                           f"dominance could be separated; more tasks are needed to rank them.")
        counts = family.against_none
        for kind in ("untested", "not comparable"):
            if not counts.empty and counts[kind].sum():
                regs = ", ".join(counts.index[counts[kind] > 0])
                out.append(f"{FAMILIES[name].capitalize()}: {int(counts[kind].sum())} comparisons with none are {kind} "
                           f"({regs}).")
    seeds = [int(n) for r in report.results for n in r.chosen.n]
    if seeds and min(seeds) < 5:
        out.append(f"Some representatives have only {min(seeds)} seed{'s' if min(seeds) > 1 else ''}: "
                   f"their intervals are wide "
                   f"and their paired tests weak.")
    return out


def strongest(result: TaskResult) -> str:
    """The task's strongest finding against none: the largest |d_z| among its wins and losses."""
    rows = result.chosen[result.chosen.reg.ne("none") & result.chosen.comparable]
    decided = [(abs(r.d_z), r) for r in rows.itertuples()
               if outcome(result, r) in ("win", "loss") and not math.isnan(r.d_z)]
    if not decided:
        return "no regularizer differs from none at α = 0.05"
    _, row = max(decided, key=lambda pair: pair[0])
    return f"{row.reg}, {outcome(result, row)} ({effect_text(row, result.rate)})"


# ---- tables -----------------------------------------------------------------------------------

def task_table(result: TaskResult, added=()) -> tuple[list[str], list[list[tuple[str, object]]], list[str]]:
    """(header, rows of (text, sort key) cells, the better direction of each column: ``asc``,
    ``desc`` or ``""``) of a task's table: every configuration (those ``added`` by the user marked)."""
    rows, rate = result.rows, result.rate
    better = {"min": "asc", "max": "desc", "target1": "asc"}.get(result.direction, "")
    select = result.select and rows.select_mean.notna().any()
    published = "published_source" in rows and rows.published_source.ne("").any()
    header = ["regularizer", "config", "mean" + (" (%)" if rate else ""), f"95% CI (n ≤ {DOTS}: range)", "n",
              "Δ vs none", "p (Holm)", "d_z", "δ", "outcome", "time"] \
        + ([result.select] if select else []) + (["published"] if published else []) + ["failed"]
    direction = ["", "", better, "", "desc", "", "asc", "", "", "", "asc"] + \
        ([{"min": "asc", "max": "desc"}.get(metric(result.select).direction, "")] if select else []) \
        + ([""] if published else []) + [""]
    out = []
    for r in rows.itertuples():
        shown = "target1" if result.direction == "target1" else ""
        cells = [(label(r.reg, added), r.reg), (r.short, r.short),
                 (fmt(r.mean, rate), abs(r.mean - 1) if shown else r.mean),
                 spread_cell(r, result.seeds.get(r.config_key, []), rate),
                 (str(int(r.n)), int(r.n)), *none_cells(r, rate),
                 (row_outcome(result, r), row_outcome(result, r)),
                 ("–" if math.isnan(r.time_ratio) else f"×{r.time_ratio:.2g}", r.time_ratio)]
        if select:
            cells.append((fmt(r.select_mean, metric(result.select).rate), r.select_mean))
        if published:
            cells.append((r.published_source or "–", r.published))
        cells.append((r.failed, r.failed))
        out.append(cells)
    return header, out, direction


def spread_cell(r, seeds: list[float], rate: bool) -> tuple[str, object]:
    """The 95% t interval of the mean, or with at most ``DOTS`` seeds their range (a t interval
    of 3 seeds can leave the metric's domain)."""
    finite = [v for v in seeds if math.isfinite(v)]
    if 0 < len(finite) <= DOTS:
        low, high = min(finite), max(finite)
        return f"range [{fmt(low, rate)}, {fmt(high, rate)}]", high - low
    if math.isnan(r.ci_low):
        return "–", math.nan
    return f"[{fmt(r.ci_low, rate)}, {fmt(r.ci_high, rate)}]", r.ci_high - r.ci_low


def row_outcome(result: TaskResult, row) -> str:
    """A row's outcome against none: a representative's, "not comparable" for any row with no
    ``none`` at its settings, else blank."""
    if row.reg == "none":
        return "baseline"
    if not row.comparable:
        return "not comparable"
    return outcome(result, row) if row.chosen else ""


def none_cells(r, rate: bool) -> list[tuple[str, object]]:
    if r.reg == "none":
        return [("baseline", 0.0), ("", math.nan), ("", math.nan), ("", math.nan)]
    if not r.n_pairs >= 1:
        return [("–", math.nan), ("", math.nan), ("", math.nan), ("", math.nan)]
    p = r.p_rep_holm if r.chosen else math.nan
    return [(fmt_diff(r.diff_vs_none, rate), r.diff_vs_none),
            ("" if math.isnan(p) else p_text(p), p),
            ("" if math.isnan(r.d_z) else f"{r.d_z:.2g} ({magnitude(r.d_z, 'd_z')[0]})", abs(r.d_z)),
            ("" if math.isnan(r.cliffs_delta) else f"{r.cliffs_delta:.2g}", abs(r.cliffs_delta))]


def ranking_table(family: Family, added=()) -> tuple[list[str], list[list[tuple[str, object]]], list[str]]:
    """(header, rows, better directions) per regularizer of a family (those ``added`` by the user
    marked): average ranks, outcomes against none, tasks, median time."""
    ranks = family.ranking.ranks if family.ranking else pd.Series(dtype=float)
    every = family.ranking.all_ranks if family.ranking else pd.Series(dtype=float)
    tally = family.against_none
    header = ["regularizer", "rank (block)", "rank (all)", *OUTCOMES, "tasks", "time"]
    direction = ["", "asc", "asc", "desc", "", "asc", "", "", "", "desc", "asc"]
    regs = list(ranks.index) + [r for r in family.scores.columns if r not in ranks.index]
    out = []
    for reg in regs:
        counts = tally.loc[reg] if reg in tally.index else None
        tasks = int(family.scores[reg].notna().sum()) if reg in family.scores else 0
        time = family.time.get(reg, math.nan)
        out.append([(label(reg, added), reg),
                    (f"{ranks[reg]:.2f}", ranks[reg]) if reg in ranks.index else ("–", math.nan),
                    (f"{every[reg]:.2f}", every[reg]) if reg in every.index else ("–", math.nan)]
                   + [(str(int(counts[c])), int(counts[c])) if counts is not None else ("–", math.nan)
                      for c in OUTCOMES]
                   + [(str(tasks), tasks), ("–" if math.isnan(time) else f"×{time:.2g}", time)])
    return header, out, direction


def friedman_text(ranking: Ranking) -> str:
    sm, p_sm, n_sm = ranking.sm
    return (f"Friedman test over N = {len(ranking.tasks)} tasks and k = {len(ranking.regs)} "
            f"regularizers: χ² = {ranking.chi2:.3g}, p = {ranking.p_friedman:.2g}; Iman–Davenport "
            f"F = {ranking.f_iman:.3g}, p = {ranking.p_iman:.2g} (the test that counts). "
            f"Skillings–Mack over every cell ({n_sm} tasks): {sm:.3g}, p = {p_sm:.2g}. Nemenyi CD "
            f"(α = {ALPHA}) = {ranking.cd:.2f} ranks. Tasks compared: {', '.join(ranking.tasks)}.")
