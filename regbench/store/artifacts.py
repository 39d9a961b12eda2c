"""A run's files beside the store: the values a run reports that are not numbers or strings (codes,
spectra, per-layer diagnostics, setups) in its artifact file, and the figures the task drew in
its figures folder (:mod:`regbench.record` names both). The record lists each file by its path
relative to the store directory, with its sha256, and holds only numbers and strings itself."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..datasets.files import file_digest
from ..errors import RegbenchError
from ..record import artifact_file, figures_dir, split_metrics


def sha256(path: Path) -> str:
    return "sha256:" + file_digest(path, "sha256")


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save(directory: Path, record: dict) -> list[Path]:
    """Move ``record``'s metrics that are not numbers into its artifact file (strings into its
    ``info``) and list that file and its figures in ``record["artifacts"]`` (keeping what it lists
    already); returns the files written (to remove on failure)."""
    numbers, info, rest = split_metrics(record["metrics"])
    rest.pop("figures", None)  # the names of the figure files, listed below with their digests
    record["metrics"] = numbers
    if info:
        record["info"] = {**(record.get("info") or {}), **info}
    listed, written = dict(record.get("artifacts") or {}), []
    if rest:
        path = directory / artifact_file(record["id"])
        write_file(path, json.dumps(rest, sort_keys=True).encode())
        written.append(path)
        listed[path.relative_to(directory).as_posix()] = sha256(path)
    figures = directory / figures_dir(record["id"])
    if figures.is_dir():
        for path in sorted(figures.iterdir()):
            listed[path.relative_to(directory).as_posix()] = sha256(path)
    record["artifacts"] = listed
    return written


def load(directory: Path, record: dict) -> dict:
    """The record's non-scalar metrics, checked against their digest."""
    out = {}
    for name, digest in (record.get("artifacts") or {}).items():
        if not name.endswith(".json"):
            continue
        path = directory / name
        if not path.is_file():
            raise RegbenchError(f"artifact {path} of record {record['id']} is missing")
        if sha256(path) != digest:
            raise RegbenchError(f"artifact {path} of record {record['id']} does not match its "
                                f"sha256 in the record (changed or damaged)")
        out.update(json.loads(path.read_text()))
    return out
