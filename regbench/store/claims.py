"""Claims: which live process computes a run, so that no run is computed twice at once.

A claim is the file ``claims/<run_key>`` in the store directory, held with an exclusive ``flock``
by the process that computes the run (a grid's driver, for the trials it schedules) until its
record is appended; the file says who holds it (pid, host, since when). The operating system drops
the lock when the process ends, however it ends (``kill -9`` included), so no claim outlives its
process: a file left by a dead one is free to take. On a shared file system claims hold across
machines where it supports ``flock`` (NFSv4 does; a mount with ``local_lock=flock`` does not).

The order makes the hand-over safe: a holder appends the record before it lets go, and a claimant
looks at the records again once it holds the claim.
"""
from __future__ import annotations

import fcntl
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path


class Claims:
    """The claims this process holds in one store; let go (their files removed) by
    :meth:`release` or on leaving a ``with`` block."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory) / "claims"
        self.held: dict[str, int] = {}

    def take(self, run_key: str) -> str | None:
        """Claim ``run_key``: None once this process holds it, else who does ("pid N on host H
        since T")."""
        if run_key in self.held:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / run_key
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _who(fd)
                os.close(fd)
                return holder
            except BaseException:
                os.close(fd)
                raise
            if os.path.exists(path) and os.path.samestat(os.fstat(fd), os.stat(path)):
                break
            os.close(fd)  # its holder removed it as we opened it: take the path's file anew
        since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()} since {since}\n".encode(), 0)
        self.held[run_key] = fd
        return None

    def holder(self, run_key: str) -> str | None:
        """Who holds ``run_key``'s claim, None if no live process does; changes nothing."""
        try:
            fd = os.open(self.directory / run_key, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            return _who(fd)
        finally:
            os.close(fd)

    def release(self, run_key: str | None = None) -> None:
        """Let go of ``run_key``'s claim, or of every claim held."""
        for key in [run_key] if run_key else list(self.held):
            fd = self.held.pop(key, None)
            if fd is not None:
                (self.directory / key).unlink(missing_ok=True)  # removed while still locked
                os.close(fd)

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _who(fd: int) -> str:
    """The holder a claim's file names. Its holder writes it just after taking the lock: a file
    still empty is read again for up to a second."""
    for _ in range(100):
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "another process"


def holders(who) -> str:
    """The distinct holders named, ``; ``-separated."""
    return "; ".join(sorted(set(who)))


def claim_pending(claims: Claims, store, configs: list, pending) -> tuple[list, dict[str, str]]:
    """Claim ``configs``' runs: those claimed here that are still ``pending(outcome)`` once claimed
    (another process may have recorded one meanwhile; ``outcome`` is ``(status, error)`` of its
    record, or None), and ``{run_key: holder}`` of those another live process holds."""
    elsewhere = {c.run_key: holder for c in configs if (holder := claims.take(c.run_key))}
    outcomes = store.outcomes()
    return [c for c in configs if c.run_key not in elsewhere
            and pending(outcomes.get(c.run_key))], elsewhere
