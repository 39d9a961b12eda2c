"""Locating and checking dataset files.

A file is looked up in the data directory (read-only to regbench), then in the cache directory
(where downloads go). A missing or corrupt file is a :class:`RegbenchError` naming the file and the
place to put it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import RegbenchError
from ..settings import cache_dir, data_dir


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path: Path, expected: str) -> None:
    found = file_digest(path)
    if found != expected:
        raise RegbenchError(f"{path} is corrupt (md5 {found}, expected {expected}); "
                            f"replace it with a fresh copy")


def find(relative: str) -> Path | None:
    """``relative`` under the data directory, else under the cache directory, else ``None``."""
    for root in (data_dir(), cache_dir()):
        if (root / relative).exists():
            return root / relative
    return None


def missing(relative: str, what: str, reason: str) -> RegbenchError:
    """The error for a dataset file that is absent and could not be downloaded."""
    return RegbenchError(f"{what}: {relative} not found in the data directory {data_dir()} "
                         f"({' '.join(reason.split())}); put it at {data_dir() / relative}, or point "
                         f"--data-dir / $REGBENCH_DATA at a directory that has it")
