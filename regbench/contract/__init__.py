"""The contract every registered regularizer and task meets, as checks that ``regbench check``, the
suite (before it runs a regularizer or task it places) and the registry-wide tests
(``tests/test_contract_*.py``) share: one definition of the contract.

A check is a named call that raises :class:`Broken` (or any error) when the contract does not
hold; :func:`outcomes` runs a list of them, and :func:`verify` refuses, naming every check that
failed, a regularizer or task that breaks it. The checks themselves are in
:mod:`.regularizers` and :mod:`.tasks`.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import RegbenchError

YEAR = re.compile(r"\b(19|20)\d\d\b")
VENUE = re.compile(r"arXiv|NeurIPS|NIPS|ICML|ICLR|AISTATS|UAI|JMLR|ECAI|IJCNN|CVPR|ICCV|ECCV|AAAI|"
                   r"IJCAI|KDD|TPAMI|Proc\.|Journal|Transactions")
NOT_RUN = "not run: an earlier check of it failed"


class Broken(RegbenchError):
    """A check of the contract that does not hold."""


def require(condition, message: str) -> None:
    if not condition:
        raise Broken(message)


@dataclass
class Check:
    """One check of a regularizer or task (``subject``): what it checks, and the call that
    raises when it does not hold. A failed ``gate`` (its targets are unknown, it cannot be built)
    leaves the subject's later checks unrun."""
    subject: str
    what: str
    call: Callable[[], object]
    gate: bool = False


def outcomes(checks: list[Check]) -> Iterator[tuple[Check, str | None]]:
    """(check, ``None`` when it holds, else why not) in order; :data:`NOT_RUN` for the checks of
    a subject after one of its gates failed."""
    closed = set()
    for check in checks:
        if check.subject in closed:
            yield check, NOT_RUN
            continue
        why = failure(check)
        if why is not None and check.gate:
            closed.add(check.subject)
        yield check, why


def failure(check: Check) -> str | None:
    """Why ``check`` does not hold (``None`` when it does): its message, or the error the
    regularizer or task raised."""
    try:
        check.call()
    except RegbenchError as exc:
        return str(exc)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def checks_of(regularizers=(), tasks=(), task_runs: bool = True, settings: dict | None = None) -> list[Check]:
    """The checks of these regularizers and tasks (names); ``task_runs``: with each task's tiny
    runs (at its defaults updated by ``settings``)."""
    from . import regularizers as reg_checks, tasks as task_checks
    return ([c for name in regularizers for c in reg_checks.checks(name)]
            + [c for name in tasks for c in task_checks.checks(name, task_runs, settings)])


def verify(regularizers=(), tasks=()) -> None:
    """Refuse, in one message naming each failed check, regularizers or tasks that break the
    contract (a task's tiny runs are ``regbench check``'s, not run here)."""
    failed: dict[tuple[str, str], list[str]] = {}
    for check, why in outcomes(checks_of(regularizers, tasks, task_runs=False)):
        if why not in (None, NOT_RUN):
            failed.setdefault((check.subject, why), []).append(check.what)
    if failed:
        named = [f"{subject}: {', '.join(whats)}: {why}" for (subject, why), whats in failed.items()]
        raise RegbenchError("the contract does not hold, so nothing was run: " + "; ".join(named)
                            + " (`regbench check --plugin MODULE` runs every check)")


def documentation(cls) -> str:
    """The docstrings of ``cls``'s module and of ``cls`` (what the report shows of a plugin)."""
    module = sys.modules.get(cls.__module__)
    parts = [(module.__doc__ or "").strip() if module else "", (cls.__doc__ or "").strip()]
    return "\n\n".join(dict.fromkeys(part for part in parts if part))


def cites_paper(text: str) -> bool:
    """Whether ``text`` cites a paper: a year, and arXiv or a venue."""
    return bool(YEAR.search(text) and VENUE.search(text))


def documented(cls) -> None:
    require(documentation(cls), f"{cls.__name__} and its module have no docstring: say what it "
                                f"computes (and cite its paper, if it has one)")
