"""Errors that the CLI reports as one clear line (bad names, bad hyperparameters, bad data)."""


class RegbenchError(Exception):
    """Bad input detected before any compute; the message is meant for the user as is."""


class Diverged(Exception):
    """Training produced a non-finite loss; the run is recorded with status ``diverged``."""

    def __init__(self, step: int, value: float, where: str = "step"):
        super().__init__(f"non-finite loss {value} at {where} {step}")
        self.step = step
        self.where = where


class NotRecorded(RegbenchError):
    """A run's record could not be written (disk full, read-only directory); nothing was kept."""
