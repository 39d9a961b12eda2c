"""``regbench report``: which regularizer wins, and how sure we are, over one or more studies.

Per task: every configuration's mean, 95% CI, n, difference from ``none`` with its corrected p and
the published number at the run's scale (:mod:`regbench.leaderboard`), a plot of the intervals
and the geometry of the runs; across tasks: average ranks, the Friedman test, a Holm-corrected
post-hoc test, the critical-difference diagram and wins/ties/losses against ``none``
(:mod:`.ranks`). One self-contained HTML page (:mod:`.html`) or a markdown summary
(:mod:`.markdown`).
"""
from __future__ import annotations

from .analysis import Report, analyse
from .html import to_html
from .markdown import to_markdown
from .studies import Study, load_study

__all__ = ["Report", "Study", "analyse", "load_study", "to_html", "to_markdown"]
