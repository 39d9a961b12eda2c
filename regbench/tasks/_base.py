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

``memory_needs(regularizer, reg_params)`` estimates, from the hyperparameters alone, the largest
parts of memory a run would hold, each tied to the hyperparameter that drives it;
``check_memory`` refuses a run whose estimate exceeds a fraction of the available memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

import torch
from torch import nn

from ..errors import RegbenchError
from ..metrics.declared import direction
from ..params import Configurable
from ..progress import first_estimate, progress_bar
from ..regularizers._base import CODES, POSTERIOR, Regularizer

FLOAT32 = 4  # bytes
TRAINED = 4  # float32 copies of a trained tensor: itself, its gradient and Adam's two moments
DENSE_COPIES = 6  # rows × rows float32 matrices a pairwise weight penalty holds at once (4 to 6 measured)
MEMORY_FRACTION = 0.9  # of the available memory, above which a run is refused ($REGBENCH_MEMORY_FRACTION)


class MemoryNeed(NamedTuple):
    """A part of the memory a run holds: what it is, its bytes, the hyperparameter that drives it
    (``None``: none does) and what to do when it does not fit (default: lower that hyperparameter)."""
    what: str
    bytes: int
    param: str | None = None
    advice: str | None = None


def weight_penalty_bytes(regularizer: type[Regularizer], reg_params: dict, rows: int, cols: int,
                         hidden: bool = True) -> int:
    """Bytes of the matrices a weight regularizer builds from a layer of ``rows`` filters of ``cols``
    entries, by its ``layer_memory``: nothing for per-row terms, the smaller Gram matrix, or rows ×
    rows for pairwise ones (of [W; −W] on a hidden layer under ``half_space``; the default)."""
    kind = getattr(regularizer, "layer_memory", "pairwise")
    if kind == "rows":
        return 0
    if hidden and reg_params.get("half_space"):
        rows *= 2
    size = min(rows, cols) if kind == "gram" else rows
    return DENSE_COPIES * FLOAT32 * size ** 2


_FORWARD: dict = {}


def forward_bytes(key, build: Callable[[], nn.Module], shape) -> tuple[int, int, int]:
    """(parameters of ``build()``, bytes autograd saves for backward per item, bytes of the largest
    module output per item) for items of ``shape`` (or ``shape(network)``), from forward passes on
    the meta device (shapes only: nothing is allocated), memoised under ``key``. Per item: the
    difference of batches of 4 and 2, so that saved weights do not count."""
    if key not in _FORWARD:
        with torch.device("meta"):
            network = build()
        shape = shape(network) if callable(shape) else shape
        sizes = []
        for batch in (2, 4):
            saved, largest = 0, 0

            def pack(t):
                nonlocal saved
                saved += t.numel() * t.element_size()
                return t

            def output(module, inputs, out):
                nonlocal largest
                if isinstance(out, torch.Tensor):
                    largest = max(largest, out.numel() * out.element_size())

            hooks = [m.register_forward_hook(output) for m in network.modules()]
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                network(torch.zeros(batch, *shape, device="meta"))
            for hook in hooks:
                hook.remove()
            sizes.append((saved, largest))
        (saved2, largest2), (saved4, _) = sizes
        _FORWARD[key] = sum(p.numel() for p in network.parameters()), (saved4 - saved2) // 2, largest2 // 2
    return _FORWARD[key]


def gigabytes(size: float) -> str:
    return f"{size / 1e9:.3g} GB"


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

    def estimate(self, done: int, total: int, unit: str, seconds: float) -> None:
        """Say, where no progress bar shows, how long the whole run would take (after its start)."""
        first_estimate(done, total, unit, seconds, self.quiet)


class Task(Configurable):
    kind = "task"
    supports: tuple[str, ...] = (CODES,)
    metrics: tuple[str, ...] = ()
    # name → function(records of one configuration, all seeds) → float, computed by the leaderboard
    cross_run_metrics: dict[str, Callable[[list[dict]], float]] = {}
    term_defaults: dict[str, Any] = {}  # e.g. {"lam": 1e-3}: the regularizer's λ here unless set
    ranked = True  # False: a sanity task (a regularizer alone, a known answer), never ranked
    seconds: float | None = None  # one run at the defaults on one CPU thread: a suite's estimate

    @classmethod
    def directions(cls) -> dict[str, str]:
        """``{metric: direction}`` of the task's headline metrics, in order."""
        return {name: direction(name) for name in cls.metrics}

    @classmethod
    def target_for(cls, regularizer: type[Regularizer], requested: str = "auto") -> str | None:
        """The target the regularizer acts on in this task (``None`` for ``none``); a clear error
        when there is none."""
        name = regularizer.registered_name
        if not regularizer.targets:  # none acts on nothing
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

    def memory_needs(self, regularizer: type[Regularizer], reg_params: dict) -> list[MemoryNeed]:
        """The largest parts of memory a run would hold, estimated from the hyperparameters alone
        (nothing allocated, no data loaded); none by default."""
        return []

    def check_memory(self, regularizer: type[Regularizer], reg_params: dict) -> None:
        """Raise ``RegbenchError`` when :meth:`memory_needs` adds up to more than
        ``$REGBENCH_MEMORY_FRACTION`` (default 0.9) of the available memory, naming the
        hyperparameter of the largest part."""
        import psutil
        needs = self.memory_needs(regularizer, reg_params)
        total = sum(need.bytes for need in needs)
        fraction = float(os.environ.get("REGBENCH_MEMORY_FRACTION", MEMORY_FRACTION))
        available = psutil.virtual_memory().available
        if total <= fraction * available:
            return
        largest = max(needs, key=lambda need: need.bytes)
        setting = f" with {largest.param}={self.hparams[largest.param]}" if largest.param else ""
        advice = largest.advice or (f"lower {largest.param}" if largest.param else
                                    "it needs a machine with more memory")
        raise RegbenchError(f"task '{self.registered_name}'{setting} needs about {gigabytes(total)} "
                            f"({largest.what}), more than {fraction:.0%} of the "
                            f"{gigabytes(available)} available: {advice}")

    def term_scale(self, target: str) -> float:
        """A factor the task puts on the regularizer's term beside λ (e.g. VGAE's 1/N)."""
        return 1.0

    def run(self, regularizer: Regularizer, ctx: RunContext) -> dict[str, Any]:
        """Train under the regularizer through the one loop; the run's metrics."""
        from ..training import Term, fit, fractions_schedule, product
        target = self.target_for(type(regularizer), regularizer.hparams.get("target", "auto"))
        training = self.setup(regularizer, target, ctx)
        if regularizer.schedule:
            training.term_schedule = product(training.term_schedule, fractions_schedule(
                regularizer.schedule, training.steps))
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
