"""Training progress: on a terminal a tqdm bar with the estimated duration of the whole run from its
first steps; elsewhere one line with that estimate after the first epoch; with ``--quiet`` only
that line, and only for a run expected to last over an hour."""
import sys

from tqdm.auto import tqdm

NOTE_AFTER_S = 1.0  # a run counted in steps gives its estimate after this long (or its first period)
NOTE_MIN_S = 60.0  # without a bar, the estimate of a run expected to end sooner is not worth a line
QUIET_NOTE_MIN_S = 3600.0  # with --quiet, the same for a run expected to end within the hour
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} of about {estimate}, {rate_fmt}]"
UNITS = (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(seconds: float) -> str:
    """Seconds in words at any scale: ``0.8 s``, ``12 min``, ``3.4 h``, ``25 years``, ``3.2e+04 years``."""
    unit, size = next(((unit, size) for unit, size in UNITS if seconds >= size), UNITS[-1])
    value = seconds / size
    number = (f"{value:.2g}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"
              if value < 1e4 else f"{value:.1e}")
    return f"{number} {unit}"


class Bar(tqdm):
    """A tqdm bar whose format may show ``{estimate}``: the duration of all its steps at the mean
    rate so far."""

    @property
    def format_dict(self):
        values = super().format_dict
        n, total = values["n"], values["total"]
        values["estimate"] = duration(values["elapsed"] * total / n) if n and total else "?"
        return values


def on_terminal() -> bool:
    return sys.stderr.isatty()


def progress_bar(iterable, total=None, desc="", quiet=False):
    return Bar(iterable, total=total, desc=desc, leave=False, disable=quiet or not on_terminal(),
               dynamic_ncols=True, bar_format=BAR_FORMAT)


def first_estimate(done: int, total: int, unit: str, seconds: float, quiet: bool = False) -> None:
    """When no bar shows (not on a terminal, or quiet) and the run would last over a minute (over
    an hour if quiet): one line on stderr saying how long the first ``done`` of ``total`` epochs
    or steps took, and how long the whole run would take."""
    whole = seconds * total / done
    if (on_terminal() and not quiet) or whole < (QUIET_NOTE_MIN_S if quiet else NOTE_MIN_S):
        return
    what = f"{unit} 1/{total}" if done == 1 else f"{unit}s 1–{done} of {total}"
    print(f"{what} took {duration(seconds)}; the run would take about {duration(whole)}",
          file=sys.stderr, flush=True)
