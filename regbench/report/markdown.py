"""The report as a markdown summary: the same tables and tests as the page, without its plots."""
from __future__ import annotations

from ..leaderboard.render import ARROWS
from .analysis import (AGAINST_NONE, RANKING, SELECTION, TABLES, Report, friedman_text,
                       ranking_table, task_table)


def table(header: list[str], rows: list[list[tuple[str, object]]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(text.replace("|", "\\|") for text, _ in row) + " |" for row in rows)]


def to_markdown(report: Report) -> str:
    ranking = report.ranking
    parts = ["# Which regularizer wins, and how sure are we?", "",
             "Studies: " + ", ".join(f"`{study.name}`" for study in report.studies) + ".", "",
             "## Across tasks", "", RANKING, "", AGAINST_NONE, "", *table(*ranking_table(report))]
    if ranking:
        parts += ["", friedman_text(ranking), "", "Post-hoc test, Holm-corrected p of each pair:", "",
                  *table([""] + ranking.regs, [[(reg, reg)] + [(f"{p:.2g}", p) for p in
                                                                ranking.posthoc.loc[reg]]
                                                for reg in ranking.regs])]
    if report.left_out:
        parts += ["", "Left out of the Friedman test:", "", *(f"- {line}" for line in report.left_out)]
    parts += ["", "## Per task", "", SELECTION, "", TABLES]
    for result in report.results:
        arrow = ARROWS.get(result.direction, "")
        parts += ["", f"### {result.name} · {result.metric}" + (f" ({arrow})" if arrow else ""), "",
                  *table(*task_table(result))]
        parts += [""] + [f"- {note}" for note in result.notes] if result.notes else []
    parts += ["", "---"]
    for study in report.studies:
        parts += ["", f"Provenance of `{study.name}`:", "", study.provenance]
    return "\n".join(parts) + "\n"
