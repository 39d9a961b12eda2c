"""What the report says of the regularizers and tasks that the user placed in a suite
(:mod:`regbench.suite_place`): a mark beside their names (:data:`MARK`), their standing in their
families at the end of the verdict (rank and place, the pairs the post-hoc test separates, the
outcomes against ``none``, the cost), and a section with their documentation (a plugin's paper,
where its docstring cites one) and whether their runs and the rest ran on the same code and
hardware."""
from __future__ import annotations

import math

from .analysis import Report, strongest
from .ranks import OUTCOMES
from .studies import FAMILIES, MARK, Added

LEGEND = f"{MARK}: added by the user (see Added by the user)."


def placed(report: Report) -> dict[str, Added]:
    """Name → what the user placed, over the report's studies."""
    return {added.name: added for study in report.studies for added in study.added}


def environments(report: Report) -> list[str]:
    return list(dict.fromkeys(study.environment for study in report.studies if study.environment))


def regularizer_standing(report: Report, name: str) -> str:
    """Where the placed regularizer ``name`` stands in each family it ran in."""
    parts = []
    for family_name, family in report.families.items():
        in_family = name in family.scores.columns or name in family.against_none.index
        if not in_family:
            continue
        ranking, text = family.ranking, f"{name} among the {FAMILIES[family_name]}: "
        if ranking is not None and name in ranking.ranks.index:
            place = list(ranking.ranks.index).index(name) + 1
            separated = [other for other in ranking.regs if other != name and ranking.separated(name, other)]
            text += (f"average rank {ranking.ranks[name]:.2f}, place {place} of k = {len(ranking.regs)} "
                     f"over the complete block of N = {len(ranking.tasks)} tasks; the post-hoc test "
                     + (f"separates it from {', '.join(separated)}" if separated else "separates it from none of them"))
        elif ranking is not None and name in ranking.all_ranks.index:
            text += (f"average rank {ranking.all_ranks[name]:.2f} over the tasks where it is represented "
                     f"(outside the complete block of the Friedman test)")
        else:
            text += "not ranked (no representative comparable with none on enough ranked tasks)"
        if name in family.against_none.index:
            counts = family.against_none.loc[name]
            text += "; against none: " + ", ".join(f"{int(counts[kind])} {kind}" for kind in OUTCOMES if counts[kind])
        ratio = family.time.get(name, math.nan)
        if not math.isnan(ratio):
            text += f"; training time ×{ratio:.2g} none's (median)"
        parts.append(text + ".")
    return " ".join(parts) or f"{name} has no representative on a ranked task yet."


def task_standing(report: Report, name: str) -> str:
    """Whether the placed task ``name`` is ranked, in which families, and its strongest finding."""
    results = [result for result in report.results if result.task == name]
    if not results:
        return f"task {name} has no finished runs yet."
    ranked = [FAMILIES[f] for f, family in report.families.items()
              if family.ranking is not None and any(r.name in family.ranking.tasks for r in results)]
    where = (f"ranked among the tasks of the {' and of the '.join(ranked)}" if ranked else
             "not ranked (a sanity task)" if not results[0].ranked else
             "outside every family's complete block")
    found = [strongest(result) if len(results) == 1 else f"on {result.name}, {strongest(result)}"
             for result in results]
    return f"task {name}: {where}; strongest finding: " + "; ".join(found) + "."


def paragraphs(report: Report) -> list[str]:
    """The verdict's closing paragraphs on what the user placed."""
    out = []
    for name, added in placed(report).items():
        standing = regularizer_standing(report, name) if added.kind == "regularizer" else task_standing(report, name)
        out.append(f"Added by the user ({MARK}): {standing}")
    return out + environments(report)
