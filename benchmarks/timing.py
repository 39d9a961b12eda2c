"""Wall-clock timing shared by the benchmarks: CUDA work is synchronised before and after; the
time of a number of steps of the one training loop (:func:`regbench.training.fit`); and the seconds
per period (epoch) of a whole run of a task, between the loop's per-period reports."""
from __future__ import annotations

import dataclasses
import statistics
import time

import torch

from regbench.training import Term, Training, fit


def seconds(work, device) -> float:
    """Seconds that ``work()`` takes on ``device`` (a name or a ``torch.device``)."""
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    work()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fit_seconds(training: Training, loss, term: Term | None, steps: int, device) -> float:
    """Seconds of ``steps`` steps of :func:`~regbench.training.fit` on ``training``'s model,
    optimiser, schedule and next ``steps`` batches, as one period (the loop's own work per step:
    the batch, the loss under the training's autocast, the regularizer's term, backward, the
    optimiser and schedule steps, and the loss read of ``check_every_step``; then one read of the
    period's loss). No validation, model selection or progress display."""
    part = dataclasses.replace(training, steps=steps, period=steps, select=None, patience=None)
    return seconds(lambda: fit(part, loss, term), device)


def seconds_per_period(task: str, reg: str, settings: dict, device="cpu") -> float:
    """Median seconds between the loop's per-period (epoch) reports of ``task`` under ``reg`` with
    hyperparameters ``settings`` (the rest as ``regbench run`` resolves them): the training steps,
    validation and model selection of a period."""
    from regbench import REGULARIZERS, TASKS
    from regbench.runner import prepare
    from regbench.tasks._base import RunContext
    stamps = []
    ctx = RunContext(seed=0, device=torch.device(device), quiet=True,
                     report=lambda step, metrics: stamps.append(time.perf_counter()))
    config = prepare(task, reg, settings, 0)  # RegbenchError: no data files
    regularizer = REGULARIZERS.get(reg)(**config.reg_params).to(device)
    TASKS.get(task)(**config.task_params).run(regularizer, ctx)
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:]))
