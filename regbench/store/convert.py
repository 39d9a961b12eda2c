"""Moving records in and out of a store, and the migration of older layouts.

- :func:`migrate`: a ``records.jsonl`` with records of an older layout becomes the current layout
  (:func:`regbench.record.upgrade` says what changes from each layout; v1's arrays move to
  artifact files); the values are unchanged. The original file is kept, renamed
  ``records.v<oldest version>.jsonl``; lines that cannot be read stay there and are named.
- :func:`export`: a store's records to a JSONL file (every record, in a stable order) or a
  Parquet or CSV table (:mod:`.table`: the counted runs, or every record), with the artifact files
  beside it; :func:`import_records` adds the records of such a file, or of another store, that the
  store does not hold: stores of several machines merge, each run counting its latest ``ok``
  record as in any store.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import NamedTuple

from ..errors import RegbenchError
from ..record import figures_dir, old_version, upgrade
from . import ResultsStore, StoreWarning, artifacts, table
from ._lines import Damaged, Newer, encode, parse

BACKUP = "records.v{}.jsonl"
EXPORTS = (".jsonl", *table.FORMATS)


class Merged(NamedTuple):
    """What an import did: records added, records the store held already, and runs of the
    records added that now have several records (the latest ``ok`` one counts)."""
    added: int
    present: int
    several: int


def read_lines(path: Path):
    """(``path:number``, record) of each readable line, in the current layout (older layouts upgraded);
    damaged lines are warned about with their number."""
    return readable(lines(path))


def lines(path: Path):
    """(``path:number``, line) of each complete line of a JSONL file."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                warnings.warn(f"{path}:{number}: skipped: an incomplete last line", StoreWarning)
                break
            yield f"{path}:{number}", raw


def readable(entries):
    """(where, record) of each of ``entries`` (where, JSON line) that is a record, in the current
    layout; the others are warned about and skipped, but a record of a newer layout is refused."""
    for where, raw in entries:
        try:
            yield where, parse(raw)
        except Newer as exc:
            raise RegbenchError(f"{where}: {exc}; nothing was done") from None
        except Damaged as exc:
            record = _old(raw)
            if record is None:
                warnings.warn(f"{where}: skipped: {exc}", StoreWarning)
            else:
                yield where, upgrade(record)


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


def export(store: ResultsStore, out: Path, every: bool = False) -> int:
    """Write ``out`` by its suffix, with the artifact files of its records copied beside it;
    returns the count of records written. JSONL: every readable record, sorted by task,
    regularizer, configuration, seed and start time. Parquet or CSV (:mod:`.table`): one row per
    counted run, or with ``every`` per record, in the order written."""
    if out.suffix not in EXPORTS:
        raise RegbenchError(f"cannot export to {out}: unknown format {suffix(out)} (known: "
                            f"{', '.join(EXPORTS)})")
    if out.resolve() == store.path.resolve():
        raise RegbenchError(f"cannot export to {out}: it is the store's own file of records")
    if out.suffix == ".jsonl":
        records = sorted(store.records(), key=lambda r: (r["task"], r["reg"], r["config_key"], r["seed"],
                                                         r.get("started_at") or "", r["id"]))
        data = b"".join(encode(r) for r in records)
    else:
        counted = {row[0] for row in store.index.counted()}
        numbered = [(line, r) for line, r in store.numbered() if every or line in counted]
        records = [r for _, r in numbered]
        data = table.write(out, [table.row(r, line in counted) for line, r in numbered])
    try:
        copy_artifacts(store, records, out.parent)
        artifacts.write_file(out, data)
    except OSError as exc:
        raise RegbenchError(f"cannot write {out}: {exc.strerror or exc} ({exc.filename})") from None
    return len(records)


def suffix(path: Path) -> str:
    return repr(path.suffix) if path.suffix else "(no suffix)"


def copy_artifacts(store: ResultsStore, records: list[dict], directory: Path) -> None:
    """The files the records list, from the store to ``directory``."""
    if directory.resolve() == store.directory.resolve():
        return
    for record in records:
        for name in record.get("artifacts") or {}:
            target, origin = directory / name, store.directory / name
            if not origin.is_file():
                raise RegbenchError(f"cannot export record {record['id']}: its artifact "
                                    f"{origin} is missing")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)


def import_records(store: ResultsStore, source: Path, keep=None) -> Merged:
    """Add the records of ``source`` (those for which ``keep(record)`` holds, if given) that
    ``store`` does not hold (by id), with their artifact files from beside it. ``source`` is a
    store's directory, a folder written by ``regbench publish``, a JSONL file (either layout) or a
    Parquet or CSV export, only read; it is refused whole, before anything is added, when a record
    is of a newer layout or a file it lists is missing or changed."""
    held = {row[0] for row in store.index.query("SELECT id FROM runs")}
    new, present, seen = {}, 0, set()
    for path, files in sources(source):
        entries = lines(path) if path.suffix == ".jsonl" else table.read_records(path)
        for where, record in readable(entries):
            if (keep is not None and not keep(record)) or record["id"] in seen:
                continue  # a published run of two configurations counts once
            seen.add(record["id"])
            if record["id"] in held:
                present += 1
            else:
                new[record["id"]] = where, record, files
    for where, record, files in new.values():
        for name, digest in (record.get("artifacts") or {}).items():
            origin = files / name
            if not origin.is_file() or artifacts.sha256(origin) != digest:
                raise RegbenchError(f"{where}: artifact {origin} is missing or does not match its "
                                    f"sha256; nothing was imported")
    for where, record, files in new.values():
        copy_files(record, files, store.directory)
        store.append(record)
    keys = {record["run_key"] for _, record, _ in new.values()}
    several = {key for key, in store.index.query("SELECT run_key FROM runs GROUP BY run_key "
                                                  "HAVING count(*) > 1")}
    return Merged(len(new), present, len(keys & several))


def sources(source: Path) -> list[tuple[Path, Path]]:
    """(file of records, folder of their files) of what ``source`` names: a store's directory, a
    dataset folder of ``regbench publish`` (each ``data/<configuration>/*.parquet``, the files at
    its top) or a file; refused in one line when it is none of them."""
    published = sorted(source.glob("data/*/*.parquet")) if source.is_dir() else []
    if published and not (source / "records.jsonl").exists():
        return [(path, source) for path in published]
    if source.is_dir():
        source = source / "records.jsonl"
    if source.suffix not in EXPORTS:
        raise RegbenchError(f"cannot import {source}: unknown format {suffix(source)} (known: a "
                            f"store's directory, a published dataset's, {', '.join(EXPORTS)})")
    if not source.is_file():
        raise RegbenchError(f"cannot import {source}: no such file")
    return [(source, source.parent)]


def copy_files(record: dict, origin: Path, directory: Path) -> None:
    """The files of ``record`` from the folder ``origin`` to the store ``directory``."""
    for name in record.get("artifacts") or {}:
        if (origin / name).resolve() != (directory / name).resolve():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin / name, directory / name)
    figures = Path(figures_dir(record["id"]))
    if "artifacts" not in record and (origin / figures).is_dir() and \
            (origin / figures).resolve() != (directory / figures).resolve():
        # a v1 record lists no files: its figures are in figures/<id>/ beside it
        shutil.copytree(origin / figures, directory / figures, dirs_exist_ok=True)
