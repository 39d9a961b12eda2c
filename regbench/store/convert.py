"""Moving records in and out of a store, and the migration of older layouts.

- :func:`migrate`: a ``records.jsonl`` with records of an older layout becomes the current layout
  (:func:`regbench.record.upgrade` says what changes from each layout; v1's arrays move to
  artifact files); the values are unchanged. The original file is kept, renamed
  ``records.v<oldest version>.jsonl``; lines that cannot be read stay there and are named.
- :func:`export`: every readable record to a JSONL file in a stable order, with the artifact
  files beside it; :func:`import_records` adds such a file's records (either layout) to a store,
  skipping those it already holds.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import warnings
from pathlib import Path

from ..errors import RegbenchError
from ..record import figures_dir, old_version, upgrade
from . import ResultsStore, StoreWarning, artifacts
from ._lines import Damaged, encode, parse

BACKUP = "records.v{}.jsonl"


def read_lines(path: Path):
    """(line number, record) of each readable line, in the current layout (v1 lines upgraded);
    damaged lines are warned about with their number."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                warnings.warn(f"{path}:{number}: skipped: an incomplete last line", StoreWarning)
                break
            try:
                yield number, parse(raw)
            except Damaged as exc:
                record = _old(raw)
                if record is None:
                    warnings.warn(f"{path}:{number}: skipped: {exc}", StoreWarning)
                else:
                    yield number, upgrade(record)


def _old(raw: bytes) -> dict | None:
    """The record on ``raw`` if it is of an older layout."""
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and old_version(record) else None


def migrate(store: ResultsStore) -> tuple[int, Path | None]:
    """Convert ``store`` to the current layout; returns the number of records written (0, and
    nothing rewritten, when no record is of an older layout), and where the original is kept."""
    if not store.path.exists():
        raise RegbenchError(f"no records to migrate: {store.path} does not exist")
    with open(store.path, "rb") as f:
        versions = {old_version(record) for raw in f if (record := _old(raw))}
    if not versions:
        return 0, None
    backup = backup_path(store, versions)
    if backup.exists():
        raise RegbenchError(f"{backup} exists already: this store was migrated before (move that "
                            f"file away to migrate again)")
    new = store.path.with_suffix(".jsonl.migrating")
    written = 0
    with open(store.path, "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # no append while the file is replaced
        try:
            with open(new, "wb") as out:
                for _, record in read_lines(store.path):
                    artifacts.place(artifacts.stage(store.directory, record))
                    artifacts.unstage(store.directory, record)
                    out.write(encode(record))
                    written += 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(store.path, backup)
            os.replace(new, store.path)
        except BaseException:
            new.unlink(missing_ok=True)
            raise
    return written, backup


def backup_path(store: ResultsStore, versions: set[int]) -> Path:
    """Where :func:`migrate` keeps the original records: named after their oldest layout."""
    return store.directory / BACKUP.format(min(versions))


def export(store: ResultsStore, out: Path) -> int:
    """Every readable record of ``store`` to ``out`` (sorted by task, regularizer, configuration,
    seed, start time), with its artifact files copied beside it; returns the count."""
    records = sorted(store.records(), key=lambda r: (r["task"], r["reg"], r["config_key"], r["seed"],
                                                     r.get("started_at") or "", r["id"]))
    try:
        if out.resolve().parent != store.directory.resolve():
            for record in records:
                for name in record.get("artifacts") or {}:
                    target, origin = out.parent / name, store.directory / name
                    if not origin.is_file():
                        raise RegbenchError(f"cannot export record {record['id']}: its artifact "
                                            f"{origin} is missing")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(origin, target)
        artifacts.write_file(out, b"".join(encode(r) for r in records))
    except OSError as exc:
        raise RegbenchError(f"cannot write {out}: {exc.strerror or exc} ({exc.filename})") from None
    return len(records)


def import_records(store: ResultsStore, source: Path) -> tuple[int, int]:
    """Add the records of ``source`` (a JSONL file, either layout) that ``store`` does not hold,
    with their artifact files from beside it (checked); returns (added, already there)."""
    if not source.is_file():
        raise RegbenchError(f"cannot import {source}: no such file")
    held = {row[0] for row in store.index.query("SELECT id FROM runs")}
    added = present = 0
    for number, record in read_lines(source):
        if record["id"] in held:
            present += 1
            continue
        for name, digest in (record.get("artifacts") or {}).items():
            origin = source.parent / name
            if not origin.is_file() or artifacts.sha256(origin) != digest:
                raise RegbenchError(f"{source}:{number}: artifact {origin} is missing or does not "
                                    f"match its sha256; nothing from line {number} on was imported")
            if origin.resolve() != (store.directory / name).resolve():
                (store.directory / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(origin, store.directory / name)
        figures = Path(figures_dir(record["id"]))
        if "artifacts" not in record and (source.parent / figures).is_dir() and \
                (source.parent / figures).resolve() != (store.directory / figures).resolve():
            # a v1 record lists no files: its figures are in figures/<id>/ beside it
            shutil.copytree(source.parent / figures, store.directory / figures, dirs_exist_ok=True)
        store.append(record)
        held.add(record["id"])
        added += 1
    return added, present
