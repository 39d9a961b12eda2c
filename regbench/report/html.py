"""The report as one self-contained HTML page that reads like a paper's results section: the verdict
first, then the summary per family (a task-subset and quantity selector recomputes its average
ranks in the page), the rankings with their critical-difference diagrams, one collapsible section
per task (settings in its header, tables with effect sizes and cost, plots), the references and
the provenance. A contents list stays in view (a side column, or a bar on a phone); inline CSS,
SVG and script: nothing is fetched when it opens."""
from __future__ import annotations

import json
import math
import re
from html import escape

from ..leaderboard.render import ARROWS
from . import added as placed
from . import plots
from .analysis import (LIMITS, RANKING, SELECTION, TABLES, Family, Report, friedman_text, limits,
                       ranking_table, strongest, task_table, verdict)
from .studies import DOTS, FAMILIES, MARK

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff}
.page{display:grid;grid-template-columns:210px minmax(0,1fr);max-width:1320px;margin:auto}
nav.contents{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto;padding:14px 10px;
 border-right:1px solid #e3e3e3;font-size:.86em}
nav.contents a{display:block;padding:2px 0;color:#1f5f99;text-decoration:none;overflow-wrap:anywhere}
nav.contents strong{display:block;margin-top:.6em}
main{padding:0 18px 40px;min-width:0}
h1{font-size:1.5em;margin:.8em 0 .3em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.2em 0 .4em}
p,li,figcaption,footer{overflow-wrap:anywhere}
.verdict p{margin:.5em 0}.verdict{background:#f6f9fc;border-left:4px solid #1f6fb4;padding:.4em 1em}
.scroll{overflow:auto;max-height:75vh;max-width:100%;margin:.5em 0;border:1px solid #eee}
table{border-collapse:collapse;font-size:.86em}
th,td{padding:.25em .55em;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f4f4f4;position:sticky;top:0;z-index:1}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \\2195";color:#aaa}
th[aria-sort=ascending]::after{content:" \\2191";color:#222}
th[aria-sort=descending]::after{content:" \\2193";color:#222}
tr.chosen td{background:#eef5fc}
details.task{border-top:1px solid #ddd;margin:.8em 0}
details.task>summary{cursor:pointer;font-weight:600;padding:.4em 0}
details.task>summary span{font-weight:400;color:#555;font-size:.9em}
figure{margin:.6em 0}figcaption{font-size:.85em;color:#555}
svg{display:block;width:100%;height:auto;max-width:820px}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,360px),1fr));gap:10px}
.plots svg{max-width:none}
.selector{display:flex;flex-wrap:wrap;gap:.3em 1em;font-size:.88em;margin:.4em 0}
.selector label{white-space:nowrap}
.note{font-size:.88em;color:#444}
pre.doc{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.86em;background:#f6f6f6;padding:.5em .8em}
footer{font-size:.8em;color:#555;border-top:1px solid #ccc;margin-top:2em}
@media (max-width:760px){
 .page{display:block}
 nav.contents{position:sticky;top:0;z-index:2;background:#fff;max-height:none;border-right:0;
  border-bottom:1px solid #ddd;white-space:nowrap;overflow-x:auto;overflow-y:hidden;padding:6px 8px}
 nav.contents a,nav.contents strong{display:inline;margin:0 .5em 0 0}
 main{padding:0 10px 30px}body{font-size:14px}th,td{padding:.2em .35em}}
"""

SCRIPT = """
function sortable(table) {
  table.querySelectorAll("th").forEach(function (th) {
    th.tabIndex = 0;
    function sort() {
      var body = table.tBodies[0], column = th.cellIndex, better = th.getAttribute("data-better");
      var now = th.getAttribute("aria-sort");
      var ascending = now ? now !== "ascending" : better !== "desc";
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
}
document.querySelectorAll("table.sortable").forEach(sortable);

var DATA = JSON.parse(document.getElementById("summary-data").textContent);
function averageRanks(values, tasks) {
  // the regularizers with a value on every chosen task; ranks per task (ties share), averaged
  var regs = null;
  tasks.forEach(function (t) {
    var here = Object.keys(values[t] || {});
    regs = regs === null ? here : regs.filter(function (r) { return here.indexOf(r) >= 0; });
  });
  regs = regs || [];
  var total = {};
  regs.forEach(function (r) { total[r] = 0; });
  tasks.forEach(function (t) {
    regs.forEach(function (r) {
      var v = values[t][r], less = 0, same = 0;
      regs.forEach(function (o) { if (values[t][o] < v) { less++; } else if (values[t][o] === v) { same++; } });
      total[r] += less + (same + 1) / 2;
    });
  });
  return regs.map(function (r) { return [r, total[r] / tasks.length]; })
             .sort(function (a, b) { return a[1] - b[1]; });
}
function render(family) {
  var box = document.getElementById("summary-" + family), data = DATA[family];
  var tasks = Array.prototype.filter.call(box.querySelectorAll("input[type=checkbox]"),
                                          function (c) { return c.checked; }).map(function (c) { return c.value; });
  var quantity = box.querySelector("select").value;
  var rows = tasks.length ? averageRanks(data[quantity], tasks) : [];
  var body = box.querySelector("tbody");
  body.innerHTML = "";
  rows.forEach(function (row) {
    var tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td class=num></td>";
    tr.cells[0].textContent = row[0];
    tr.cells[1].textContent = row[1].toFixed(2);
    body.appendChild(tr);
  });
  box.querySelector(".count").textContent = tasks.length + " tasks, " + rows.length +
    " regularizers on all of them (1 = best)";
}
Object.keys(DATA).forEach(function (family) {
  var box = document.getElementById("summary-" + family);
  box.querySelectorAll("input, select").forEach(function (c) {
    c.addEventListener("change", function () { render(family); });
  });
  render(family);
});
"""


def sort_key(value) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    return "" if math.isnan(value) else "Infinity" if value == math.inf else repr(value)


def table(header: list[str], rows: list[list[tuple[str, object]]], better=None, chosen=None,
          sortable: bool = True) -> str:
    better = better or [""] * len(header)
    numeric = [all(not isinstance(row[i][1], str) for row in rows) if rows else False
               for i in range(len(header))]
    head = "".join(f'<th scope="col"{" class=num" if numeric[i] else ""}'
                   f'{f" data-better={better[i]}" if better[i] else ""}>{escape(h)}</th>'
                   for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        marked = ' class="chosen"' if chosen is not None and chosen[r] else ""
        cells = "".join(f'<td{" class=num" if numeric[i] else ""} data-sort="{escape(sort_key(key))}">'
                        f'{escape(text)}</td>' for i, (text, key) in enumerate(row))
        body.append(f"<tr{marked}>{cells}</tr>")
    kind = "sortable" if sortable else "matrix"
    return (f'<div class="scroll"><table class="{kind}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def embedded(data: dict) -> str:
    """``data`` as JSON that cannot end the ``<script>`` element it sits in."""
    return json.dumps(data).replace("</", "<\\/")


def anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def paragraph(text: str, kind: str = "") -> str:
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
    return f'<p class="{kind}">{text}</p>' if kind else f"<p>{text}</p>"


def summary_data(report: Report) -> dict:
    """Per family: for each ranked task, each representative's mean (lower is better) and its
    training-time ratio, for the page's selector."""
    data = {}
    for name, family in report.families.items():
        metric = {task: {reg: float(v) for reg, v in row.dropna().items()}
                  for task, row in family.scores.iterrows()}
        time = {}
        for result in report.results:
            if result.name in metric:
                rows = result.chosen[result.chosen.family.isin([name, ""]) & result.chosen.comparable]
                time[result.name] = {r.reg: (1.0 if r.reg == "none" else float(r.time_ratio))
                                     for r in rows.itertuples() if not math.isnan(r.time_ratio) or r.reg == "none"}
        if metric:
            data[name] = {"metric": metric, "time": time}
    return data


def summary(report: Report, data: dict) -> list[str]:
    parts = ['<section id="summary"><h2>Summary</h2>',
             paragraph("Average ranks over the tasks chosen below (the regularizers represented on "
                       "all of them, 1 = best), by the main metric or by training time; the tasks "
                       "first chosen are those of the Friedman test under Rankings.")]
    for name in data:
        ranking = report.families[name].ranking
        ranked = ranking.tasks if ranking else list(data[name]["metric"])
        tasks = "".join(f'<label><input type="checkbox" value="{escape(t)}"'
                        f'{" checked" if t in ranked else ""}> {escape(t)}</label>'
                        for t in data[name]["metric"])
        parts += [f'<div id="summary-{name}"><h3>{escape(FAMILIES[name].capitalize())}</h3>',
                  f'<div class="selector">{tasks}<label>rank by <select><option value="metric">the '
                  f'main metric</option><option value="time">training time</option></select></label>'
                  f'</div><p class="note count"></p>',
                  '<div class="scroll"><table class="summary"><thead><tr><th>regularizer</th>'
                  '<th class="num">average rank</th></tr></thead><tbody></tbody></table></div></div>']
    return parts + ["</section>"]


def family_section(family: Family, added=()) -> list[str]:
    header, rows, better = ranking_table(family, added)
    parts = [f'<h3 id="ranking-{family.name}">{escape(FAMILIES[family.name].capitalize())}</h3>',
             table(header, rows, better)]
    ranking = family.ranking
    if ranking:
        regs = ranking.regs
        parts += [paragraph(friedman_text(ranking)),
                  f"<figure>{plots.cd_diagram(ranking, added)}<figcaption>Critical-difference diagram: "
                  f"average ranks on 1..{len(regs)} (1 = best); a bar joins regularizers the "
                  f"Holm-corrected post-hoc test does not separate; CD: Nemenyi's critical "
                  f"difference.</figcaption></figure>",
                  "<h4>Post-hoc test: Holm-corrected p of each pair</h4>",
                  table([""] + regs, [[(reg, reg)] + [(f"{p:.2g}", p) for p in ranking.posthoc.loc[reg]]
                                      for reg in regs], sortable=False)]
    if family.left_out:
        parts += ["<h4>Left out of the Friedman test</h4><ul>",
                  *(f"<li>{escape(line)}</li>" for line in family.left_out), "</ul>"]
    return parts


def task_section(result, added=()) -> list[str]:
    arrow = ARROWS.get(result.direction, "")
    settings = f"settings: {result.settings}" if result.settings else "task defaults"
    kind = "" if result.ranked else " · not ranked (a sanity task)"
    mark = f" {MARK}" if result.task in added else ""
    header, rows, better = task_table(result, added)
    parts = [f'<details class="task" open id="{anchor(result.name)}"><summary>{escape(result.name + mark)} · '
             f'{escape(result.metric)}{" (" + arrow + ")" if arrow else ""}'
             f' <span>{escape(settings)}{kind}</span></summary>',
             paragraph(f"Strongest finding: {strongest(result)}."),
             table(header, rows, better, chosen=result.rows.chosen.tolist()),
             *(paragraph(note, "note") for note in result.notes),
             f'<div class="plots"><figure>{plots.intervals(result)}<figcaption>Mean and 95% CI (seeds as '
             f'dots where n ≤ {DOTS}); blue: the representative of its regularizer; grey band: '
             f'none\'s 95% CI.</figcaption></figure>']
    if result.curves:
        parts.append(f"<figure>{plots.curves(result)}<figcaption>Training curves of the "
                     f"representatives, mean over seeds.</figcaption></figure>")
    parts.append("</div>")
    for family in result.geometry:
        parts.append(f"<figure>{plots.geometry(result, family)}<figcaption>Geometry of the "
                     f"{escape(family.family)} (representatives, one dot per seed).</figcaption></figure>")
    return parts + ["</details>"]


def contents(report: Report, data: dict) -> str:
    items = ['<a href="#verdict">Verdict</a>', '<a href="#summary">Summary</a>',
             '<a href="#rankings">Rankings</a>', "<strong>Tasks</strong>"]
    items += [f'<a href="#{anchor(r.name)}">{escape(r.name)}</a>' for r in report.results]
    items += ['<a href="#added">Added by the user</a>'] if placed.placed(report) else []
    items += ['<a href="#studies">Studies</a>', '<a href="#references">References</a>',
              '<a href="#provenance">Provenance</a>']
    return f'<nav class="contents" aria-label="contents">{"".join(items)}</nav>'


def added_section(report: Report) -> list[str]:
    """What the user placed: each one's documentation (a plugin's paper, where it cites one), and
    whether its runs and the rest ran on the same code and hardware."""
    added = placed.placed(report)
    if not added:
        return []
    parts = ['<section id="added"><h2>Added by the user</h2>']
    for name, what in added.items():
        parts += [f"<h3>{escape(name)} {MARK} <span class=note>({escape(what.kind)})</span></h3>",
                  f'<pre class="doc">{escape(what.documentation)}</pre>']
    return parts + [paragraph(note) for note in placed.environments(report)] + ["</section>"]


def to_html(report: Report) -> str:
    data = summary_data(report)
    added = placed.placed(report)
    studies = "".join(
        f"<li><code>{escape(s.name)}</code>{': ' + escape(s.description) if s.description else ''}"
        + "".join(f' <a href="{escape(path)}">{escape(what)}</a>' for what, path in s.links.items())
        + "</li>" for s in report.studies)
    references = "".join(f"<li><b>{escape(key)}</b>: {escape(source)}</li>"
                         for key, source in report.references.items())
    footer = "".join(f"<h3>{escape(study.name)}</h3>"
                     + "".join(paragraph(line) for line in study.provenance.splitlines())
                     for study in report.studies)
    rankings = [part for family in report.families.values() for part in family_section(family, added)]
    return "\n".join([
        '<!doctype html>', '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>regbench report: which regularizer wins?</title>", f"<style>{CSS}</style></head>",
        '<body><div class="page">', contents(report, data), "<main>",
        "<h1>Which regularizer wins, and how sure are we?</h1>",
        '<section id="verdict" class="verdict"><h2>Verdict</h2>',
        *(paragraph(line) for line in verdict(report) + placed.paragraphs(report)), paragraph(LIMITS),
        "<ul>", *(f"<li>{escape(line)}</li>" for line in limits(report)), "</ul></section>",
        *summary(report, data),
        '<section id="rankings"><h2>Rankings</h2>', paragraph(RANKING),
        *([paragraph(placed.LEGEND)] if added else []), *rankings, "</section>",
        '<section id="tasks"><h2>Per task</h2>', paragraph(SELECTION), paragraph(TABLES),
        *(part for result in report.results for part in task_section(result, added)), "</section>",
        *added_section(report),
        f'<section id="studies"><h2>Studies</h2><ul>{studies}</ul></section>',
        f'<section id="references"><h2>References</h2><ul>{references}</ul></section>',
        f'<footer id="provenance"><h2>Provenance</h2>{footer}</footer>',
        "</main></div>",
        f'<script type="application/json" id="summary-data">{embedded(data)}</script>',
        f"<script>{SCRIPT}</script></body></html>", ""])
