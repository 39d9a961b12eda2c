"""The task interface: data + model + training recipe + metrics, parameterised by ``Param``s.

``Task.run(regularizer, ctx)`` trains under the regularizer and returns a flat dict of metrics.
``Task.metrics`` declares each headline metric's direction (``"min"`` or ``"max"``) for the
leaderboard; ``Task.supports`` lists the regularizer targets the task can expose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch

from ..errors import RegbenchError
from ..params import Configurable
from ..progress import progress_bar
from ..regularizers.base import CODES, Regularizer


@dataclass
class RunContext:
    """What the runner hands to a task: seed, device, verbosity, and a hook for intermediate
    metrics (``report(step, metrics)``, e.g. validation loss per epoch for early-stopping schedulers)."""
    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quiet: bool = False
    report: Callable[[int, dict], None] = lambda step, metrics: None

    def progress(self, iterable: Iterable, total: int | None = None, desc: str = "") -> Iterable:
        return progress_bar(iterable, total=total, desc=desc, quiet=self.quiet)


class Task(Configurable):
    kind = "task"
    supports: tuple[str, ...] = (CODES,)
    metrics: dict[str, str] = {}

    def check_compatible(self, regularizer: type[Regularizer]) -> None:
        """Fail before training when the regularizer acts on nothing this task exposes."""
        if not set(regularizer.targets) & set(self.supports):
            raise RegbenchError(
                f"regularizer '{regularizer.registered_name}' acts on {', '.join(regularizer.targets)}"
                f" but task '{self.registered_name}' exposes only {', '.join(self.supports)}")

    def run(self, regularizer: Regularizer, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError
