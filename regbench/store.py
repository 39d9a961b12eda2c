"""The results store: one JSON record per line in ``<dir>/records.jsonl``.

Appends hold an exclusive ``flock`` and write each record as one ``write`` of a complete line
followed by ``fsync``, so concurrent writers never interleave and a crash can at worst leave a
partial last line, which readers skip with a warning; earlier records are never rewritten.
The directory is ``--results DIR``, else ``$REGBENCH_RESULTS``, else ``$XDG_DATA_HOME/regbench``
(``~/.local/share/regbench``).
"""
from __future__ import annotations

import fcntl
import json
import os
import warnings
from pathlib import Path
from typing import Iterator


def default_results_dir() -> Path:
    if os.environ.get("REGBENCH_RESULTS"):
        return Path(os.environ["REGBENCH_RESULTS"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "regbench"


class ResultsStore:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else default_results_dir()
        self.path = self.directory / "records.jsonl"

    def append(self, record: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True, allow_nan=True) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size and not _ends_with_newline(fd):
                os.write(fd, b"\n")  # seal a partial line left by a crashed writer
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def records(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError:
                    warnings.warn(f"{self.path}:{number}: skipping an incomplete record "
                                  f"(left by an interrupted write)")

    def find_ok(self, config_hash: str) -> dict | None:
        """The latest record with this config hash and status ``ok``, if any."""
        found = None
        for record in self.records():
            if record.get("config_hash") == config_hash and record.get("status") == "ok":
                found = record
        return found


def _ends_with_newline(fd: int) -> bool:
    return os.pread(fd, 1, os.fstat(fd).st_size - 1) == b"\n"
