"""The one training loop of every task, and the regularizer's term in it.

A task hands :func:`fit` a :class:`Training` (model, optimiser, an endless supply of batches, the
number of steps and how they group into epochs) and its loss; the loop runs the loss under the
mixed precision asked for, adds the regularizer's :class:`Term` (times the multiplier of the
term's schedule at that step, when there is one: :func:`step_schedule`), steps the optimiser and
the learning-rate schedule, reads the loss once per ``period`` (the divergence check: a non-finite loss
raises :class:`~regbench.errors.Diverged`), validates, reports the validation metrics, keeps the
model of the best validation value when asked (the direction is the metric's,
:mod:`regbench.metrics.declared`) and stops early after ``patience`` epochs without a better one,
shows progress, and times the training.
"""
from __future__ import annotations

import bisect
import contextlib
import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from .errors import Diverged
from .metrics.declared import metric
from .progress import NOTE_AFTER_S


@dataclass
class Training:
    """What a task trains: its model and optimiser, and batches to feed its loss."""
    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: Iterator[Any]  # one batch per step, in the form the task's loss takes
    steps: int  # optimiser steps in all
    period: int = 1  # steps per epoch: loss check, validation and report after each
    unit: str = "epoch"  # what a period is called in messages; "step": name the step itself
    schedule: Any = None  # a learning-rate scheduler, stepped after every optimiser step
    term_schedule: Callable[[int], float] | None = None  # step → multiplier of the term's weight
    select: str | None = None  # a validation metric whose best value picks the model kept
    patience: int | None = None  # with select: stop after this many epochs without a better value
    check_every_step: bool = True  # also check each step's loss (a read per step)
    autocast: str = "none"  # "bf16": the loss's forward passes under bfloat16 autocast


def autocast_context(device_type: str, mode: str):
    """The autocast context of ``mode`` (``"none"`` or ``"bf16"``) on ``device_type``."""
    return torch.autocast(device_type, torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()


def as_float32(outputs: dict[str, Any]) -> dict[str, Any]:
    """Floating tensors of a step's outputs in float32, for the regularizer's term."""
    return {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in outputs.items()}


@dataclass
class Summary:
    """The end of a fit: the last period's mean task loss and term, the term, steps and seconds."""
    train_loss: float
    penalty: float
    term: "Term | None" = None
    steps: int = 0
    seconds: float = 0.0


class Term:
    """The regularizer's term on the target it acts on in a task, times the task's scale."""

    def __init__(self, regularizer: nn.Module, target: str | None, scale: float = 1.0):
        from .registry import TARGETS
        self.regularizer = regularizer
        self.target = None if target is None else TARGETS.create(target)
        self.weight = None if target is None else scale * self.target.weight(regularizer)

    def __call__(self, model: nn.Module, outputs: dict[str, Any]) -> torch.Tensor | None:
        if self.target is None:
            return None
        penalty = self.target.penalty(self.regularizer, self.target.expose(model, outputs))
        return penalty if self.weight == 1 else self.weight * penalty


def fit(training: Training, loss: Callable[[nn.Module, Any], tuple[torch.Tensor, dict]],
        term: Term | None = None, validate: Callable[[nn.Module], dict] | None = None,
        ctx=None, desc: str = "") -> Summary:
    """Train; returns the mean task loss and term of the last period.

    ``loss(model, batch)`` gives the task's loss (``None`` for a task whose only loss is the
    regularizer's term) and the outputs a term may act on (e.g. ``{"codes": z}``);
    ``validate(model)`` gives validation metrics after each period. Losses and the term are
    computed in float32 whatever the autocast. With a ``term_schedule`` the term is multiplied by
    its value at the step, and not computed where that is 0."""
    model, optimizer = training.model, training.optimizer
    device = next(model.parameters()).device
    loss_sum, penalty_sum, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    best, best_state, stale, estimated = None, None, 0, ctx is None
    steps = ctx.progress(range(training.steps), desc=desc) if ctx else range(training.steps)
    started = time.perf_counter()
    model.train()
    for step in steps:
        with autocast_context(device.type, training.autocast):
            task_loss, outputs = loss(model, next(training.batches))
        outputs = as_float32(outputs)
        factor = 1.0 if training.term_schedule is None else training.term_schedule(step)
        penalty = term(model, outputs) if term is not None and factor != 0 else None
        if penalty is not None and factor != 1:
            penalty = factor * penalty
        parts = [part for part in (task_loss, penalty) if part is not None]
        where = (step // training.period, training.unit) if training.unit == "epoch" else (step, "step")
        if parts:
            total = parts[0].float() if len(parts) == 1 else parts[0].float() + parts[1]
            if training.check_every_step:
                check_finite(total, *where)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        if training.schedule is not None:
            training.schedule.step()
        if task_loss is not None:
            loss_sum += task_loss.detach()
        if penalty is not None:
            penalty_sum += penalty.detach()
        count += 1
        if not estimated and step < training.steps - 1 and (count == training.period or (
                training.unit == "step" and time.perf_counter() - started >= NOTE_AFTER_S)):
            estimated = True
            by_step = training.unit == "step"
            ctx.estimate(step + 1 if by_step else 1,
                         training.steps if by_step else math.ceil(training.steps / training.period),
                         training.unit, time.perf_counter() - started)
        if count < training.period and step < training.steps - 1:
            continue
        check_finite(loss_sum + penalty_sum, *where)
        train_loss, mean_penalty = float(loss_sum) / count, float(penalty_sum) / count
        loss_sum.zero_(), penalty_sum.zero_()
        count = 0
        metrics = validate(model) if validate is not None else {}
        model.train()
        if ctx is not None:
            ctx.report(where[0], {"train_loss": train_loss, **metrics})
        if training.select is not None:
            value = metrics[training.select]
            if best is None or metric(training.select).better(value, best):
                best, best_state, stale = value, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
            if training.patience is not None and stale >= training.patience:
                break
    seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    return Summary(train_loss, mean_penalty, term, step + 1, seconds)


def step_schedule(steps: Sequence[int], factors: Sequence[float]) -> Callable[[int], float]:
    """A piecewise-constant multiplier of the step: 1 before ``steps[0]``, ``factors[i]`` from
    step ``steps[i]`` on (``steps`` ascending)."""
    values = [1.0, *factors]
    return lambda step: values[bisect.bisect_right(steps, step)]


def fractions_schedule(schedule: Sequence[tuple[float, float]], steps: int) -> Callable[[int], float]:
    """:func:`step_schedule` of (fraction of ``steps`` from which on, multiplier) pairs."""
    fractions, factors = zip(*schedule)
    return step_schedule([round(steps * f) for f in fractions], factors)


def product(*schedules: Callable[[int], float] | None) -> Callable[[int], float] | None:
    """The step-wise product of the schedules given (``None``: constant 1)."""
    given = [s for s in schedules if s is not None]
    if len(given) < 2:
        return given[0] if given else None
    return lambda step: math.prod(s(step) for s in given)


def check_finite(loss: torch.Tensor, step: int, where: str = "step") -> float:
    """The loss as a float; raises :class:`Diverged` when it is NaN or infinite."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise Diverged(step, value, where)
    return value


def epochs(n: int, batch_size: int, generator: torch.Generator, device=None, drop_last=False):
    """Endless index batches: a fresh random permutation of ``range(n)`` per epoch."""
    while True:
        order = torch.randperm(n, generator=generator, device=generator.device).to(device)
        if drop_last:
            size = min(batch_size, n)
            yield from order[:n - n % size].view(-1, size)
        else:
            yield from order.split(batch_size)


def fixed_subset(total: int, size: int) -> torch.Tensor:
    """Indices of a fixed random subset (seed 0, the same for every run); ``size`` 0 = all."""
    if size <= 0 or size >= total:
        return torch.arange(total)
    return torch.randperm(total, generator=torch.Generator().manual_seed(0))[:size].sort().values
