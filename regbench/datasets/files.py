"""Locating and checking dataset files.

A file is looked up in the data directory (read-only to regbench), then in the cache directory
(where downloads go). A missing or corrupt file is a :class:`RegbenchError` naming the file and the
place to put it. A file whose md5 was checked is not hashed again in the same process while its
size and modification time stay the same (a grid's trials load the same files many times).
"""
from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path
from typing import Callable

from ..errors import RegbenchError
from ..settings import cache_dir, data_dir


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_tensors(path: Path, what: str, map_location="cpu"):
    """``torch.load`` of a file of tensors only (``weights_only=True``): a file that would run code
    when unpickled is refused with a ``RegbenchError`` naming it, and nothing in it is executed."""
    import torch  # here, so that the command line starts without torch
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RegbenchError(f"{what} {path} holds more than tensors, so it is not loaded (only "
                            f"weights and tensors are read; a pickled object could run code): "
                            f"{str(exc).splitlines()[0]}") from None


def check_md5(path: Path, expected: str) -> None:
    found = file_digest(path)
    if found != expected:
        raise RegbenchError(f"{path} is corrupt (md5 {found}, expected {expected}); "
                            f"replace it with a fresh copy")


@functools.lru_cache(maxsize=32)
def _verified(path: str, size: int, mtime_ns: int, expected: str) -> None:
    check_md5(Path(path), expected)


def checked_files(folder: str, checksums: dict[str, str], what: str,
                  download: Callable[[], None]) -> dict[str, Path]:
    """``{name: path}`` of the files ``folder/<name>`` with their md5 ``checksums``; when any is
    missing, ``download()`` fetches the set into ``cache_dir()/folder``, and if that fails the
    error names the first missing file and where to put it."""
    paths = {name: find(f"{folder}/{name}") for name in checksums}
    absent = [name for name, path in paths.items() if path is None]
    if absent:
        try:
            download()
        except Exception as exc:  # offline, or torchvision unusable
            raise missing(f"{folder}/{absent[0]}", what,
                          f"download failed: {type(exc).__name__}: {exc}") from None
        paths = {name: cache_dir() / folder / name for name in checksums}
    for name, path in paths.items():
        stat = path.stat()
        _verified(str(path), stat.st_size, stat.st_mtime_ns, checksums[name])
    return paths


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
