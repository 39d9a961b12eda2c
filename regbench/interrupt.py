"""Ctrl-C (SIGINT) and SIGTERM on a command.

The first signal stops the work in order: it raises ``KeyboardInterrupt`` in the main thread, so
every ``finally`` runs (Ray is shut down, its trials end) and only whole records are in the store.
A second signal ends the process at once with status 130; the processes of a grid's Ray instance
are then ended by :mod:`regbench.watchdog`.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_handler = None  # the handler of the innermost ``interruptible`` block


@contextmanager
def interruptible():
    global _handler
    received = 0

    def handler(signum, frame):
        nonlocal received
        received += 1
        if received > 1:
            os._exit(130)
        raise KeyboardInterrupt

    outer, _handler = _handler, handler
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        _handler = outer
        for s, h in previous.items():
            signal.signal(s, h)


def reclaim() -> None:
    """Install the handler again after a library replaced it (``ray.init`` sets a SIGTERM handler
    that aborts the process)."""
    if _handler is not None:
        for s in SIGNALS:
            signal.signal(s, _handler)
