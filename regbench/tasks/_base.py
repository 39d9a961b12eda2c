"""The task interface: data, model, loss and evaluation, parameterised by ``Param``s.

A task supplies what differs between tasks and the one loop of :mod:`regbench.training` does the
rest (optimiser steps, the regularizer's term, divergence, validation, model selection, progress):

- ``setup(regularizer, target, ctx)`` loads the data and returns a :class:`~regbench.training.Training`
  (model, optimiser, batches, steps);
- ``loss(model, batch)`` returns the task's loss and what the regularizer's target acts on
  (``{"codes": z}``, ``{"posterior": h}``; weights are found in the model);
- ``validate(model)`` returns validation metrics after each epoch; ``evaluate(model, summary, ctx)``
  the run's metrics.

``metrics`` names the headline metrics (their directions are declared once, in
:mod:`regbench.metrics.declared`); ``supports`` the targets the task exposes; ``term_defaults`` the
λ a regularizer's term gets here unless it is set (the scale of λ depends on the task's loss).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..errors import RegbenchError
from ..metrics.declared import declare, direction
from ..params import Configurable
from ..progress import progress_bar
from ..regularizers._base import CODES, POSTERIOR, Regularizer


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
    train_seconds: float | None = None  # set by the training loop: its wall time, for the record

    def progress(self, iterable: Iterable, total: int | None = None, desc: str = "") -> Iterable:
        return progress_bar(iterable, total=total, desc=desc, quiet=self.quiet)


class Task(Configurable):
    kind = "task"
    supports: tuple[str, ...] = (CODES,)
    metrics: tuple[str, ...] = ()
    # name → function(records of one configuration, all seeds) → float, computed by the leaderboard
    cross_run_metrics: dict[str, Callable[[list[dict]], float]] = {}
    term_defaults: dict[str, Any] = {}  # e.g. {"lam": 1e-3}: the regularizer's λ here unless set

    @classmethod
    def directions(cls) -> dict[str, str]:
        """``{metric: direction}`` of the task's headline metrics, in order. A task of the older
        form gives ``metrics`` as such a dict; its directions are declared from it."""
        if isinstance(cls.metrics, dict):
            return {name: direction(declare(name, kind)) for name, kind in cls.metrics.items()}
        return {name: direction(name) for name in cls.metrics}

    @classmethod
    def target_for(cls, regularizer: type[Regularizer], requested: str = "auto") -> str | None:
        """The target the regularizer acts on in this task (``None`` for ``none``); a clear error
        when there is none."""
        name = regularizer.registered_name
        if regularizer.inert:
            return None
        if requested != "auto":
            if requested not in cls.supports:
                raise RegbenchError(f"task '{cls.registered_name}' does not expose {requested}; "
                                    f"it exposes {', '.join(cls.supports)}")
            return requested
        for target in regularizer.targets:
            if target in cls.supports:
                return target
        raise RegbenchError(f"regularizer '{name}' acts on {', '.join(regularizer.targets)} but task "
                            f"'{cls.registered_name}' exposes only {', '.join(cls.supports)}")

    def check_data(self) -> None:
        """Raise ``RegbenchError`` naming a missing or corrupt data file; runs before any training."""

    def data_checksums(self) -> dict[str, str]:
        """``{dataset file: "md5:<hex>"}`` of the files a run read, for its record (after ``run``)."""
        return {}

    def check_compatible(self, regularizer: type[Regularizer], reg_params: dict) -> None:
        """Fail before training when the regularizer cannot act on this task."""
        target = self.target_for(regularizer, reg_params.get("target", "auto"))
        d = self.hparams.get("d")
        if target in (CODES, POSTERIOR) and d is not None and d < regularizer.min_dim:
            raise RegbenchError(f"regularizer '{regularizer.registered_name}' needs latent dimension "
                                f"d ≥ {regularizer.min_dim}, task '{self.registered_name}' has d={d}")

    def term_scale(self, target: str) -> float:
        """A factor the task puts on the regularizer's term beside λ (e.g. VGAE's 1/N)."""
        return 1.0

    def run(self, regularizer: Regularizer, ctx: RunContext) -> dict[str, Any]:
        """Train under the regularizer through the one loop; the run's metrics."""
        from ..training import Term, fit
        target = self.target_for(type(regularizer), regularizer.hparams.get("target", "auto"))
        training = self.setup(regularizer, target, ctx)
        term = Term(regularizer, target, self.term_scale(target) if target else 1.0)
        summary = fit(training, self.loss, term, self.validate, ctx, desc=self.registered_name)
        ctx.train_seconds = summary.seconds
        return {**self.evaluate(training.model, summary, ctx), "train_steps": summary.steps,
                **({"target": target} if target else {})}

    def setup(self, regularizer: Regularizer, target: str | None, ctx: RunContext):
        """Load the data; return the :class:`~regbench.training.Training` to run."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch) -> tuple[torch.Tensor, dict]:
        """(the task's loss on ``batch``, what the regularizer's target acts on)."""
        raise NotImplementedError

    def validate(self, model: torch.nn.Module) -> dict:
        """Validation metrics after an epoch (none by default)."""
        return {}

    def evaluate(self, model: torch.nn.Module, summary, ctx: RunContext) -> dict:
        """The run's metrics; ``summary`` (:class:`~regbench.training.Summary`) holds the last
        epoch's mean loss and term, and the term."""
        return {}
