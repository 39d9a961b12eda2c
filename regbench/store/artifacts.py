"""A run's files beside the store: the values a run reports that are not numbers or strings (codes,
spectra, per-layer diagnostics, setups) in its artifact file, and the figures the task drew in
its figures folder (:mod:`regbench.record` names both). A run writes them to its staging folder;
the store moves them into place while it holds the lock of the records file, just before it
writes the record, so that every file in place belongs to a record but for a crash between the
two (``regbench store check`` finds and removes such orphans). The record lists each file by its
path relative to the store directory, with its sha256, and holds only numbers and strings
itself."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..datasets.files import file_digest
from ..errors import RegbenchError
from ..record import artifact_file, figures_dir, split_metrics, staging_dir


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


def stage(directory: Path, record: dict) -> list[tuple[Path, Path]]:
    """Move ``record``'s metrics that are not numbers into its artifact file (strings into its
    ``info``), written to the run's staging folder, and list that file and the run's figures in
    ``record["artifacts"]`` by the names :func:`place` gives them (keeping what it lists already;
    figures already in their place, as an import puts them, are listed where they are). Returns
    the moves (staged path, its place) to make."""
    numbers, info, rest = split_metrics(record["metrics"])
    rest.pop("figures", None)  # the names of the figure files, listed below with their digests
    record["metrics"] = numbers
    if info:
        record["info"] = {**(record.get("info") or {}), **info}
    staging = directory / staging_dir(record["run_key"], record["id"])
    moves = []
    if rest:
        write_file(staging / "artifact.json", json.dumps(rest, sort_keys=True).encode())
        moves.append((staging / "artifact.json", directory / artifact_file(record["id"])))
    figures = directory / figures_dir(record["id"])
    if (staging / "figures").is_dir():
        moves.append((staging / "figures", figures))
    listed = dict(record.get("artifacts") or {})
    in_place = [] if (staging / "figures").is_dir() else [(figures, figures)]
    for source, final in [*moves, *in_place]:
        if source.is_file():
            listed[final.relative_to(directory).as_posix()] = sha256(source)
        for path in sorted(source.iterdir()) if source.is_dir() else []:
            listed[(final / path.name).relative_to(directory).as_posix()] = sha256(path)
    record["artifacts"] = listed
    return moves


def place(moves: list[tuple[Path, Path]]) -> None:
    """Make the moves (renames), all of them or, on failure, none."""
    done = []
    try:
        for staged, final in moves:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, final)
            done.append((staged, final))
    except BaseException:
        unplace(done)
        raise


def unplace(moves: list[tuple[Path, Path]]) -> None:
    """Undo :func:`place`: each file back to its staging folder."""
    for staged, final in reversed(moves):
        os.rename(final, staged)


def unstage(directory: Path, record: dict) -> None:
    """Remove the artifact file :func:`stage` wrote (it is written again from the metrics) and
    the run's staging folders left empty; the figures staged stay."""
    staging = directory / staging_dir(record["run_key"], record["id"])
    (staging / "artifact.json").unlink(missing_ok=True)
    for folder in (staging, staging.parent, staging.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): what is left belongs to a run


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
