"""The task interface: data + model + training recipe + metrics, parameterised by ``Param``s.

``Task.run(regularizer, ctx)`` trains under the regularizer and returns a flat dict of metrics.
``Task.metrics`` declares each headline metric's direction (``"min"`` or ``"max"``) for the
leaderboard; ``Task.supports`` lists the regularizer targets the task can expose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..errors import RegbenchError
from ..params import Configurable, Param
from ..progress import progress_bar
from ..regularizers._base import CODES, POSTERIOR, WEIGHTS, Regularizer


@dataclass
class RunContext:
    """What the runner hands to a task: seed, device, verbosity, a hook for intermediate
    metrics (``report(step, metrics)``, e.g. validation loss per epoch for early-stopping schedulers),
    and the directory for the run's files such as figures (``None``: write none)."""
    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quiet: bool = False
    report: Callable[[int, dict], None] = lambda step, metrics: None
    artifacts_dir: Path | None = None

    def progress(self, iterable: Iterable, total: int | None = None, desc: str = "") -> Iterable:
        return progress_bar(iterable, total=total, desc=desc, quiet=self.quiet)


class Task(Configurable):
    kind = "task"
    supports: tuple[str, ...] = (CODES,)
    metrics: dict[str, str] = {}
    # name → function(records of one configuration, all seeds) → float, computed by the leaderboard
    cross_run_metrics: dict[str, Callable[[list[dict]], float]] = {}
    # hyperparameters that only shape the regularizer's effect; the comparison with `none` ignores them
    regularizer_params: tuple[str, ...] = ("lam", "target")

    target = Param("auto", "what the regularizer acts on; auto = the first of the regularizer's "
                   "targets that the task exposes", choices=("auto", CODES, WEIGHTS, POSTERIOR))

    def target_for(self, regularizer: type[Regularizer]) -> str:
        """The target the regularizer acts on in this task; a clear error when there is none."""
        name = regularizer.registered_name
        if self.target != "auto":
            if self.target not in self.supports:
                raise RegbenchError(f"task '{self.registered_name}' does not expose {self.target}; "
                                    f"it exposes {', '.join(self.supports)}")
            if self.target not in regularizer.targets:
                raise RegbenchError(f"regularizer '{name}' cannot act on {self.target}; it acts on "
                                    f"{', '.join(regularizer.targets)}")
            return self.target
        for target in regularizer.targets:
            if target in self.supports:
                return target
        raise RegbenchError(f"regularizer '{name}' acts on {', '.join(regularizer.targets)} but task "
                            f"'{self.registered_name}' exposes only {', '.join(self.supports)}")

    def check_data(self) -> None:
        """Raise ``RegbenchError`` naming a missing or corrupt data file; runs before any training."""

    def data_checksums(self) -> dict[str, str]:
        """``{dataset file: "md5:<hex>"}`` of the files a run read, for its record (after ``run``)."""
        return {}

    def check_compatible(self, regularizer: type[Regularizer]) -> None:
        """Fail before training when the regularizer cannot act on this task."""
        target = self.target_for(regularizer)
        d = self.hparams.get("d")
        if target in (CODES, POSTERIOR) and d is not None and d < regularizer.min_dim:
            raise RegbenchError(f"regularizer '{regularizer.registered_name}' needs latent dimension "
                                f"d ≥ {regularizer.min_dim}, task '{self.registered_name}' has d={d}")

    def run(self, regularizer: Regularizer, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError
