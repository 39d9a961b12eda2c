"""The report as a markdown summary: the same verdict, rankings and tables as the page, without
its plots and selector."""
from __future__ import annotations

from ..leaderboard.render import ARROWS
from . import added as placed
from .analysis import (LIMITS, RANKING, SELECTION, TABLES, Report, friedman_text, limits, ranking_table,
                       strongest, task_table, verdict)
from .studies import FAMILIES, MARK


def table(header: list[str], rows: list[list[tuple[str, object]]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(text.replace("|", "\\|") for text, _ in row) + " |" for row in rows)]


def to_markdown(report: Report) -> str:
    added = placed.placed(report)
    parts = ["# Which regularizer wins, and how sure are we?", "",
             "Studies: " + ", ".join(f"`{study.name}`" for study in report.studies) + ".", "",
             "## Verdict", "", *(line for paragraph in verdict(report) + placed.paragraphs(report)
                                 for line in (paragraph, "")),
             LIMITS, "", *(f"- {line}" for line in limits(report)), "",
             "## Rankings", "", RANKING, *(["", placed.LEGEND] if added else [])]
    for name, family in report.families.items():
        header, rows, _ = ranking_table(family, added)
        parts += ["", f"### {FAMILIES[name].capitalize()}", "", *table(header, rows)]
        ranking = family.ranking
        if ranking:
            parts += ["", friedman_text(ranking), "", "Post-hoc test, Holm-corrected p of each pair:", "",
                      *table([""] + ranking.regs, [[(reg, reg)] + [(f"{p:.2g}", p) for p in
                                                                    ranking.posthoc.loc[reg]]
                                                    for reg in ranking.regs])]
        if family.left_out:
            parts += ["", "Left out of the Friedman test:", "", *(f"- {line}" for line in family.left_out)]
    parts += ["", "## Per task", "", SELECTION, "", TABLES]
    for result in report.results:
        arrow = ARROWS.get(result.direction, "")
        kind = "" if result.ranked else " (not ranked: a sanity task)"
        mark = f" {MARK}" if result.task in added else ""
        parts += ["", f"### {result.name}{mark} · {result.metric}" + (f" ({arrow})" if arrow else "") + kind, "",
                  f"Settings: {result.settings or 'task defaults'}. Strongest finding: {strongest(result)}.",
                  "", *table(*task_table(result, added)[:2])]
        parts += [""] + [f"- {note}" for note in result.notes] if result.notes else []
    if added:
        parts += ["", "## Added by the user", ""]
        for name, what in added.items():
            parts += [f"### {name} ({what.kind})", "", *(f"> {line}".rstrip() for line in
                                                        what.documentation.splitlines()), ""]
        parts += placed.environments(report)
    if report.references:
        parts += ["", "## References", "", *(f"- **{k}**: {v}" for k, v in report.references.items())]
    parts += ["", "---"]
    for study in report.studies:
        parts += ["", f"Provenance of `{study.name}`:", "", study.provenance]
    return "\n".join(parts) + "\n"
