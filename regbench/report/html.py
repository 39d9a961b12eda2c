"""The report as one self-contained HTML page: inline CSS, inline SVG plots and a few lines of
inline script that sort a table by the column header clicked; nothing is fetched when it opens."""
from __future__ import annotations

import math
import re
from html import escape

from ..leaderboard.render import ARROWS
from . import plots
from .analysis import (AGAINST_NONE, RANKING, SELECTION, TABLES, Report, friedman_text,
                       ranking_table, task_table)

CSS = """
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff}
main{max-width:1100px;margin:auto;padding:0 14px 40px}
h1{font-size:1.5em;margin:.8em 0 .3em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.4em 0 .4em}h4{margin:1em 0 .3em;font-size:1em}
nav{margin:.6em 0}nav a{margin-right:.6em;white-space:nowrap;line-height:1.8}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{padding:.25em .6em;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
th{background:#f4f4f4;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \\2195";color:#aaa}
th[aria-sort=ascending]::after{content:" \\2191";color:#222}
th[aria-sort=descending]::after{content:" \\2193";color:#222}
tr.chosen td{background:#eef5fc}
figure{margin:.6em 0}figcaption{font-size:.85em;color:#555}
svg{display:block;width:100%;height:auto;max-width:760px}
.geometry{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:10px}
.geometry svg{max-width:none}
.note{font-size:.88em;color:#444}
footer{font-size:.8em;color:#555;border-top:1px solid #ccc;margin-top:2em}
@media (max-width:600px){body{font-size:14px}th,td{padding:.2em .35em}}
"""

SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.tabIndex = 0;
  function sort() {
    var table = th.closest("table"), body = table.tBodies[0], column = th.cellIndex;
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].getAttribute("data-sort"), y = b.cells[column].getAttribute("data-sort");
      if (x === "" || y === "") { return (x === "") - (y === ""); }  // no value: always last
      var nx = Number(x), ny = Number(y);
      var order = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : (nx > ny) - (nx < ny);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  th.addEventListener("click", sort);
  th.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
  });
});
"""


def sort_key(value) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    return "" if math.isnan(value) else "Infinity" if value == math.inf else repr(value)


def table(header: list[str], rows: list[list[tuple[str, object]]], chosen=None) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        marked = ' class="chosen"' if chosen is not None and chosen[i] else ""
        cells = "".join(f'<td data-sort="{escape(sort_key(key))}">{escape(text)}</td>'
                        for text, key in row)
        body.append(f"<tr{marked}>{cells}</tr>")
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def paragraph(text: str, kind: str = "") -> str:
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
    return f'<p class="{kind}">{text}</p>' if kind else f"<p>{text}</p>"


def across(report: Report) -> list[str]:
    ranking = report.ranking
    parts = ['<section id="across"><h2>Across tasks</h2>', paragraph(RANKING),
             paragraph(AGAINST_NONE), table(*ranking_table(report))]
    if ranking:
        parts += [paragraph(friedman_text(ranking)),
                  f"<figure>{plots.cd_diagram(ranking)}<figcaption>Critical-difference diagram: "
                  f"average ranks (1 = best); a bar joins regularizers the Holm-corrected post-hoc "
                  f"test does not separate; CD: Nemenyi's critical difference.</figcaption></figure>",
                  "<h3>Post-hoc test: Holm-corrected p of each pair</h3>",
                  table([""] + ranking.regs, [[(reg, reg)] + [(f"{p:.2g}", p) for p in
                                                              ranking.posthoc.loc[reg]]
                                              for reg in ranking.regs])]
    if report.left_out:
        parts += ["<h3>Left out of the Friedman test</h3><ul>",
                  *(f"<li>{escape(line)}</li>" for line in report.left_out), "</ul>"]
    return parts + ["</section>"]


def per_task(report: Report) -> list[str]:
    parts = ['<section id="tasks"><h2>Per task</h2>', paragraph(SELECTION), paragraph(TABLES)]
    for result in report.results:
        arrow = ARROWS.get(result.direction, "")
        title = f"{result.name} · {result.metric}" + (f" ({arrow})" if arrow else "")
        parts += [f'<h3 id="{anchor(result.name)}">{escape(title)}</h3>',
                  table(*task_table(result), chosen=result.rows.chosen.tolist()),
                  *(paragraph(note, "note") for note in result.notes),
                  f"<figure>{plots.intervals(result)}<figcaption>Mean and 95% CI of every "
                  f"configuration; blue: the representative of its regularizer; grey band: none's "
                  f"95% CI.</figcaption></figure>"]
        for family in result.geometry:
            parts += [f"<h4>Geometry of the {escape(family.family)} (representatives, one dot per "
                      f"seed)</h4>", f'<div class="geometry">{plots.geometry(result, family)}</div>']
    return parts + ["</section>"]


def to_html(report: Report) -> str:
    links = " ".join(f'<a href="#{anchor(r.name)}">{escape(r.name)}</a>' for r in report.results)
    footer = "".join(f"<h3>{escape(study.name)}</h3>"
                     + "".join(paragraph(line) for line in study.provenance.splitlines())
                     for study in report.studies)
    studies = "".join(f"<li><code>{escape(s.name)}</code>{': ' + escape(s.description) if s.description else ''}"
                      f"</li>" for s in report.studies)
    return "\n".join([
        '<!doctype html>', '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>regbench report: which regularizer wins?</title>", f"<style>{CSS}</style></head>",
        "<body><main>", "<h1>Which regularizer wins, and how sure are we?</h1>",
        f"<ul>{studies}</ul>", f'<nav><a href="#across">Across tasks</a> {links} '
                               f'<a href="#provenance">Provenance</a></nav>',
        *across(report), *per_task(report),
        f'<footer id="provenance"><h2>Provenance</h2>{footer}</footer>',
        f"</main><script>{SCRIPT}</script></body></html>", ""])
