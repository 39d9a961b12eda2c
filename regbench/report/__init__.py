"""``regbench report``: which regularizer wins, and how sure we are, over one or more studies.

The verdict first, written from the statistics; per family of regularizers (codes and posteriors;
layer weights) the ranks over the ranked tasks, the Friedman, Skillings–Mack and post-hoc tests and
the critical-difference diagram (:mod:`.ranks`); per task every configuration's mean, interval,
difference from ``none`` with its corrected p and effect sizes, its training-time cost and the
published number at the run's scale (:mod:`.studies`, :mod:`regbench.leaderboard`). One
self-contained HTML page (:mod:`.html`) or a markdown summary (:mod:`.markdown`).
"""
from __future__ import annotations

from .analysis import Report, analyse
from .html import to_html
from .markdown import to_markdown
from .studies import Added, Study, load_study

__all__ = ["Added", "Report", "Study", "analyse", "load_study", "to_html", "to_markdown"]
