"""Progress: the estimated duration of the whole run, on the bar and in one line without a terminal."""
import io
import itertools
import re

import pytest
import torch
from torch import nn

from regbench import RunContext, create_regularizer
from regbench.progress import BAR_FORMAT, Bar, duration
from regbench.registry import TASKS
from regbench.training import Training, fit


@pytest.mark.parametrize("seconds, words", [(0.031, "0.031 s"), (0.83, "0.83 s"), (75, "1.2 min"),
                                            (3.4 * 3600, "3.4 h"),
                                            (5.2 * 86400, "5.2 days"), (25 * 365.25 * 86400, "25 years"),
                                            (3.2e4 * 365.25 * 86400, "3.2e+04 years"), (0, "0 s")])
def test_durations_read_at_any_scale(seconds, words):
    assert duration(seconds) == words


def test_the_bar_shows_the_estimated_duration_from_its_first_steps():
    out = io.StringIO()
    bar = Bar(range(10 ** 9), file=out, bar_format=BAR_FORMAT, mininterval=0)
    for _ in itertools.islice(bar, 3):
        pass
    bar.close()
    assert re.search(r"1/1000000000 \[00:00 of about [\d.e+]+ (s|min|h|days|years), ", out.getvalue())


def sphere_run(quiet, steps=50):
    task = TASKS.get("sphere")(n=8, d=3, steps=steps)
    task.run(create_regularizer("eccentric"), RunContext(seed=0, quiet=quiet))


def test_without_a_terminal_one_line_gives_the_estimate(capsys, monkeypatch):
    monkeypatch.setattr("regbench.training.NOTE_AFTER_S", 0.0)
    monkeypatch.setattr("regbench.progress.NOTE_MIN_S", 0.0)
    sphere_run(quiet=False)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"step 1/50 took \S+ \S+; the run would take about \S+ \S+", lines[0])
    sphere_run(quiet=True)
    assert capsys.readouterr().err == ""


def test_a_run_that_ends_within_its_first_period_says_nothing(capsys):
    sphere_run(quiet=False, steps=3)
    assert capsys.readouterr().err == ""


def test_a_run_expected_to_end_within_a_minute_says_nothing(capsys, monkeypatch):
    monkeypatch.setattr("regbench.training.NOTE_AFTER_S", 0.0)
    sphere_run(quiet=False)
    assert capsys.readouterr().err == ""


def test_the_estimate_of_a_run_in_epochs_follows_its_first_epoch(capsys, monkeypatch):
    monkeypatch.setattr("regbench.progress.NOTE_MIN_S", 0.0)
    model = nn.Linear(1, 1)
    training = Training(model, torch.optim.SGD(model.parameters(), lr=0.1),
                        itertools.repeat(torch.ones(2, 1)), steps=10 ** 9 * 2, period=2)
    training.steps = 6  # stop early: the estimate is of the declared epochs
    fit(training, lambda m, x: (m(x).pow(2).mean(), {}), ctx=RunContext(seed=0))
    assert re.fullmatch(r"epoch 1/3 took \S+ \S+; the run would take about \S+ \S+\n",
                        capsys.readouterr().err)


@pytest.mark.parametrize("terminal", [False, True])
def test_quiet_still_gives_the_estimate_of_a_run_over_an_hour(capsys, monkeypatch, terminal):
    monkeypatch.setattr("regbench.progress.on_terminal", lambda: terminal)
    quiet = RunContext(seed=0, quiet=True)
    quiet.estimate(1, 10 ** 9, "epoch", 0.5)  # epochs=1e9
    assert capsys.readouterr().err == ("epoch 1/1000000000 took 0.5 s; the run would take about "
                                       "16 years\n")
    quiet.estimate(1, 7000, "epoch", 0.5)  # under an hour: silent
    assert capsys.readouterr().err == ""
