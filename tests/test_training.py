"""The one training loop (``regbench.training``): selection, divergence, reports, the term."""
import itertools
import math
import pathlib
import re

import pytest
import torch
from torch import nn

from regbench import RunContext, create_regularizer
from regbench.errors import Diverged
from regbench.metrics.declared import declare, direction, metric
from regbench.training import Term, Training, fit, step_schedule

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "regbench"


def linear_fit(steps=6, period=2, select=None, validate=None, term=None, unit="epoch", nan_from=None,
               patience=None, term_schedule=None):
    """Least squares of a 1-parameter model on a fixed batch (NaN inputs from step ``nan_from``);
    returns (model, summary, reports)."""
    torch.manual_seed(0)
    model = nn.Linear(1, 1, bias=False)
    x = torch.ones(4, 1)
    batches = itertools.chain([x] * (nan_from if nan_from is not None else steps),
                              itertools.repeat(x * math.nan))
    reports = []
    ctx = RunContext(seed=0, quiet=True, report=lambda step, metrics: reports.append((step, metrics)))

    def loss(model, batch):
        out = model(batch)
        return (out - 2).pow(2).mean(), {"codes": out.repeat(1, 2)}

    training = Training(model, torch.optim.SGD(model.parameters(), lr=0.1), batches, steps,
                        period=period, select=select, unit=unit, patience=patience,
                        term_schedule=term_schedule)
    return model, fit(training, loss, term, validate, ctx), reports


def test_reports_once_per_period_with_the_mean_loss_of_the_period():
    _, summary, reports = linear_fit(steps=5, period=2)
    assert [step for step, _ in reports] == [0, 1, 2]  # epochs 0, 1 and the short last one
    assert all(set(m) == {"train_loss"} for _, m in reports)
    assert summary.train_loss == reports[-1][1]["train_loss"] and summary.penalty == 0


@pytest.mark.parametrize("kind, values", [("max", [1, 2, 5, 3, 4]), ("min", [5, 4, 1, 3, 2])])
def test_the_model_of_the_best_validation_value_is_kept_in_the_metric_direction(kind, values):
    name = declare(f"test_{kind}_score", kind)
    scores, weights = iter(values), []

    def validate(model):
        weights.append(float(model.weight.detach()))
        return {name: next(scores)}
    model, _, reports = linear_fit(steps=5, period=1, select=name, validate=validate)
    assert float(model.weight.detach()) == weights[2] != weights[-1]
    assert [m[name] for _, m in reports] == values


def test_a_non_finite_loss_stops_with_its_epoch_or_step():
    with pytest.raises(Diverged, match="nan at epoch 1$"):
        linear_fit(steps=12, period=3, nan_from=4)
    with pytest.raises(Diverged, match="nan at step 4$"):
        linear_fit(steps=12, period=3, unit="step", nan_from=4)


def test_the_term_is_lambda_times_the_regularizer_times_the_task_scale():
    regularizer = create_regularizer("eccentric", lam=0.5)
    z = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    base = regularizer(z)
    assert Term(regularizer, "codes")(None, {"codes": z}) == pytest.approx(0.5 * float(base))
    assert Term(regularizer, "codes", scale=0.1)(None, {"codes": z}) == pytest.approx(0.05 * float(base))
    assert Term(create_regularizer("none"), None)(None, {"codes": z}) is None
    _, with_term, _ = linear_fit(term=Term(regularizer, "codes"))
    assert with_term.penalty != 0 and math.isfinite(with_term.penalty)


def test_the_term_weight_follows_its_schedule_step_by_step():
    """The term is the weight w itself (gradient 1), the only loss, under SGD with lr 1: each step
    lowers w by exactly that step's multiplier. A zero multiplier does not compute the term."""
    model = nn.Linear(1, 1, bias=False).double()
    nn.init.zeros_(model.weight)
    calls, weights = [], []

    def term(model, outputs):
        calls.append(len(weights))
        return model.weight.sum()
    schedule = step_schedule([2, 3, 5], [0.5, 0.25, 0.0])
    assert [schedule(step) for step in range(7)] == [1, 1, 0.5, 0.25, 0.25, 0, 0]
    training = Training(model, torch.optim.SGD(model.parameters(), lr=1.0), itertools.repeat(None), 7,
                        term_schedule=schedule)
    summary = fit(training, lambda model, batch: (None, {}), term,
                  lambda model: weights.append(float(model.weight.detach())) or {})
    assert [-w for w in weights] == list(itertools.accumulate([1, 1, 0.5, 0.25, 0.25, 0, 0]))
    assert calls == [0, 1, 2, 3, 4] and summary.penalty == 0
    term = Term(create_regularizer("eccentric"), "codes")
    _, constant, _ = linear_fit(steps=1, period=1, term=term)
    _, scaled, _ = linear_fit(steps=1, period=1, term=term, term_schedule=lambda step: 0.25)
    assert scaled.penalty == constant.penalty / 4 != 0  # the summary's term is the scheduled one


def test_a_metrics_facts_are_declared_once():
    assert direction("test_mse") == "min" and direction("test_auc") == "max"
    assert metric("cov_trace_per_d").better(1.1, 0.8) and not metric("test_acc").better(0.5, 0.6)
    assert metric("test_acc").best([0.5, float("nan"), 0.7, 0.6]) == 2
    assert metric("cov_trace_per_d").best([0.5, 1.2, 3.0]) == 1  # closest to 1
    assert metric("test_acc").rate and metric("knn_error_600").rate and not metric("test_ll").rate
    assert metric("a_plugin_metric", "max").better(2, 1)  # undeclared: the record's direction
    with pytest.raises(Exception, match="no direction"):
        metric("eccentricity").better(0.1, 0.2)
    with pytest.raises(Exception, match="declared 'min' and again 'max'"):
        declare("test_mse", "max")


def test_the_package_has_no_backward_call_outside_the_loop():
    calls = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
             if re.search(r"\.backward\(", path.read_text())]
    assert calls == ["training.py"]


def test_patience_stops_after_epochs_without_a_better_validation_value():
    name = declare("test_patience_score", "max")
    scores = iter([1, 3, 2, 2, 2, 9, 9])
    _, summary, _ = linear_fit(steps=7, period=1, select=name, validate=lambda model: {name: next(scores)})
    assert summary.steps == 7
    scores = iter([1, 3, 2, 2, 2, 9, 9])
    _, summary, reports = linear_fit(steps=7, period=1, select=name, patience=3,
                                     validate=lambda model: {name: next(scores)})
    assert summary.steps == 5 and [m[name] for _, m in reports] == [1, 3, 2, 2, 2]
