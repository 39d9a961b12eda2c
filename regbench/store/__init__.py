"""The results store: ``<dir>/records.jsonl``, one JSON run record per line, and the run's files
beside it (:mod:`.artifacts`); which process computes a run is in :mod:`.claims`, and what is
damaged or left over in :mod:`.health`.

The records file is append-only and human-readable: it is what ``results/`` keeps in git. An
append holds an exclusive ``flock``, moves the run's files into place, writes the whole line in one
checked ``write`` and ``fsync``s it, so concurrent writers never interleave; a write that fails
(disk full, read-only directory) is undone, files included, and raised as
:class:`~regbench.errors.NotRecorded`, never left half-written. Readers go
through a derived SQLite index (:mod:`._index`). A line that is not a readable record (torn by a
crash, NUL bytes, not UTF-8, not a record, written by a newer regbench) is reported once per
process with its line number as a :class:`StoreWarning` and skipped; nothing is rewritten.

A run counts once: several records of one ``run_key`` (a ``--force`` re-run, the same trial
started twice at once) stand for their latest ``ok`` record.

The directory is ``--results DIR``, else ``$REGBENCH_RESULTS``, else ``$XDG_DATA_HOME/regbench``
(``~/.local/share/regbench``).
"""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

from ..errors import NotRecorded, RegbenchError
from . import artifacts
from ._index import Index
from ..record import RECORD_VERSION
from ._lines import encode, parse

__all__ = ["RECORD_VERSION", "ResultsStore", "StoreWarning", "default_results_dir"]


class StoreWarning(UserWarning):
    """A line of the records file that cannot be read; the rest of the store still is."""


def line_numbers(lines: list[int], shown: int = 5) -> str:
    """``3, 7`` or ``3, 7, 9, 12, 15 and 4 more lines``."""
    more = f" and {len(lines) - shown} more lines" if len(lines) > shown else ""
    return ", ".join(map(str, lines[:shown])) + more


def default_results_dir() -> Path:
    if os.environ.get("REGBENCH_RESULTS"):
        return Path(os.environ["REGBENCH_RESULTS"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "regbench"


class ResultsStore:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else default_results_dir()
        self.path = self.directory / "records.jsonl"
        self._index: Index | None = None
        self._placeholder = False
        self._warned: set = set()

    def check(self, write: bool = False) -> None:
        """Refuse in one line, creating nothing, a store that cannot hold records: its directory a
        file (or under one), its records file not a file; with ``write``, a place where nothing can
        be written (read-only, full)."""
        place = self.directory
        while not place.exists() and place != place.parent:
            place = place.parent  # the store's directory, else its nearest existing ancestor
        if place != self.directory and not place.is_dir():
            raise RegbenchError(f"the results store {self.directory} cannot be created: {place} is a "
                                f"file, not a directory")
        if not place.is_dir():
            raise RegbenchError(f"the results store {self.directory} is a file, not a directory (give "
                                f"--results the directory that holds records.jsonl)")
        if self.path.exists() and not self.path.is_file():
            kind = "a directory" if self.path.is_dir() else "not a regular file"
            raise RegbenchError(f"{self.path} is {kind}, not the store's file of records: move it "
                                f"out of the way")
        if write:
            try:
                _probe(place)
                if self.path.exists():
                    os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND))
            except OSError as exc:
                raise RegbenchError(f"cannot write the results store {self.directory} "
                                    f"({exc.strerror or exc}): nothing would be recorded") from None

    # writing
    def append(self, record: dict) -> None:
        """Record a run: its files moved into place and its line written, both under the lock, or
        (``NotRecorded``) neither. ``record`` itself is left as it was (it can be appended again)."""
        record = dict(record)  # artifacts.stage replaces its metrics and artifacts
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            moves = artifacts.stage(self.directory, record)
            self._append_line(encode(record), moves)
        except BaseException as exc:
            artifacts.unstage(self.directory, record)
            if not isinstance(exc, OSError):
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            raise NotRecorded(f"run {record.get('id')} was NOT recorded in {self.path}: "
                              f"{exc.strerror or exc}{where}") from None
        artifacts.unstage(self.directory, record)  # its staging folders, now empty

    def _append_line(self, line: bytes, moves: list) -> None:
        fd = self._open_locked()
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # seal a line torn by a crashed writer; it stays damaged
            artifacts.place(moves)
            try:
                if os.write(fd, line) != len(line):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, size)  # leave no torn entry behind, and no file without its line
                artifacts.unplace(moves)
                raise
        finally:
            os.close(fd)  # closing releases the lock

    def _open_locked(self) -> int:
        """The records file, open for appending under an exclusive lock; opened again if it was
        replaced (``regbench store migrate``) while this waited for the lock."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_index": None}  # a SQLite connection stays in its process

    # reading
    @property
    def index(self) -> Index:
        """The index, brought up to date (damage reported once per store object)."""
        if self._index is None or (self._placeholder and self.directory.exists()):
            self._placeholder = not self.directory.exists()  # no store yet: create no directory
            self._index = Index(self.path, ":memory:" if self._placeholder
                                else self.directory / "records.index.sqlite")
        self._index.sync()
        new: dict[str, list[int]] = {}
        for line, message in self._skipped():
            if (line, message) not in self._warned:
                self._warned.add((line, message))
                new.setdefault(message, []).append(line)
        for message, lines in new.items():  # one warning per kind of damage
            warnings.warn(f"{self.path}:{line_numbers(lines)}: skipped: {message}", StoreWarning,
                          stacklevel=3)
        return self._index

    def _skipped(self) -> list[tuple[int, str]]:
        problems = self._index.query("SELECT line, message FROM damage ORDER BY line")
        if self._index.torn_line:
            problems.append((self._index.torn_line, "an incomplete last line (an interrupted "
                                                    "write); the next record seals it"))
        return problems

    def skipped(self) -> dict[str, list[int]]:
        """Why → the numbers of the lines of the records file skipped for that reason."""
        self.index  # brought up to date
        found: dict[str, list[int]] = {}
        for line, message in self._skipped():
            found.setdefault(message, []).append(line)
        return found

    def records(self) -> Iterator[dict]:
        """Every readable record, in the order written."""
        yield from self._read(self.index.query("SELECT offset, length FROM runs ORDER BY line"))

    def numbered(self) -> Iterator[tuple[int, dict]]:
        """(line number, record) of every readable record, in the order written."""
        rows = self.index.query("SELECT line, offset, length FROM runs ORDER BY line")
        yield from zip((line for line, *_ in rows), self._read(place for _, *place in rows))

    def load(self, lines) -> list[dict]:
        """The records on these line numbers, with their non-scalar metrics put back."""
        lines = [int(line) for line in lines]
        rows = self.index.query(f"SELECT line, offset, length FROM runs WHERE line IN "
                                f"({', '.join('?' * len(lines))})", lines)
        where = {line: (offset, length) for line, offset, length in rows}
        found = list(self._read(where[line] for line in lines))
        for record in found:
            record["metrics"].update(artifacts.load(self.directory, record))
        return found

    def _read(self, places) -> Iterator[dict]:
        places = list(places)
        if not places:
            return
        with open(self.path, "rb") as f:
            for offset, length in places:
                f.seek(offset)
                yield parse(f.read(length))

    def find_ok(self, run_key: str) -> dict | None:
        """The latest ``ok`` record of this run, if any."""
        rows = self.index.query("SELECT offset, length FROM runs WHERE run_key = ? AND status = 'ok' "
                                "ORDER BY line DESC LIMIT 1", (run_key,))
        return next(self._read(rows)) if rows else None

    def outcomes(self) -> dict[str, tuple[str, str | None]]:
        """run_key → (status, error) of its latest ``ok`` record, else of its latest record."""
        rows = self.index.query("SELECT run_key, status, error FROM runs ORDER BY line")
        latest: dict[str, tuple[str, str | None]] = {}
        for run_key, status, error in rows:
            if latest.get(run_key, ("",))[0] != "ok":
                latest[run_key] = (status, error)
        return latest

    def counts(self) -> dict[str, int]:
        """Records by status, every record counted."""
        return dict(self.index.query("SELECT status, count(*) FROM runs GROUP BY status"))


def _probe(directory: Path) -> None:
    """Write and sync one byte in a file of ``directory``, then remove it; ``OSError`` if it cannot
    be written (read-only, no permission, full)."""
    fd, name = tempfile.mkstemp(prefix=".regbench-probe-", dir=directory)
    try:
        if os.write(fd, b"\n") != 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)
