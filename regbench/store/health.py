"""``regbench store check``: what in a store is damaged or left over, and (``fix``) its repair.

- **Damaged lines** of the records file (torn by a crash, NUL bytes, not UTF-8, not a record):
  ``fix`` moves them to ``records.damaged.jsonl``, so nothing is deleted. Lines of an older layout
  (for ``regbench store migrate``) or of a newer regbench are records: they are named and left.
- **Orphans**: a run's files in place (``figures/<id>/``, ``artifacts/<id>.json``) that no line
  of the records file names, left by a crash between moving them into place and writing the
  record; and the staging folder of a run that no live process claims (its process died before
  recording it). ``fix`` removes them; a run in progress is named and left alone.

All of it is looked at while holding the records file's lock, so no append is half-way meanwhile.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..record import RECORD_VERSION, old_version
from .claims import Claims
from ._lines import Damaged, parse

DAMAGED_FILE = "records.damaged.jsonl"


@dataclass
class Health:
    """What :func:`examine` found."""
    records: int = 0
    damaged: list[tuple[int, str]] = field(default_factory=list)  # (line, why): fix moves them
    kept: list[tuple[int, str]] = field(default_factory=list)  # (line, why): records left as they are
    orphans: list[str] = field(default_factory=list)  # paths relative to the store
    running: list[tuple[str, str]] = field(default_factory=list)  # (staging folder, who)


def examine(store, fix: bool = False) -> Health:
    """What is damaged or left over in ``store``; with ``fix``, damaged lines moved aside and
    orphans removed (the account returned is of what was found)."""
    health = Health()
    with _locked(store, fix), Claims(store.directory) as claims:
        keep, damaged, named = _read(store, health)
        for folder in ("figures", "artifacts"):
            placed = [f"{folder}/{path.name}" for path in sorted((store.directory / folder).glob("*"))]
            health.orphans += [name for name in placed if name not in named]
        for path in sorted((store.directory / "staging").glob("*")):
            # fixing, the claim is taken (and held till the end): no run may start meanwhile
            holder = claims.take(path.name) if fix else claims.holder(path.name)
            if holder:
                health.running.append((f"staging/{path.name}", holder))
            else:
                health.orphans.append(f"staging/{path.name}")
        if fix:
            _set_aside(store, damaged, keep)
            for name in health.orphans:
                path = store.directory / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    return health


def _read(store, health: Health) -> tuple[list[bytes], list[bytes], set[str]]:
    """The lines to keep, the damaged lines (each ending in a newline) and the run files that the
    records name (``figures/<id>``, ``artifacts/<id>.json``); counts and names them in ``health``."""
    keep, damaged, named = [], [], set()
    with open(store.path, "rb") if store.path.exists() else contextlib.nullcontext([]) as lines:
        for number, raw in enumerate(lines, 1):
            try:
                if not raw.endswith(b"\n"):
                    raise Damaged("an incomplete last line (an interrupted write)")
                record = parse(raw)
                health.records += 1
            except Damaged as exc:
                record = _record_kept(raw)
                if record is None:
                    health.damaged.append((number, str(exc)))
                    damaged.append(raw if raw.endswith(b"\n") else raw + b"\n")
                    continue
                health.kept.append((number, str(exc)))
            keep.append(raw)
            listed = record.get("artifacts") if isinstance(record.get("artifacts"), dict) else {}
            named |= {f"figures/{record['id']}", f"artifacts/{record['id']}.json",
                      *("/".join(Path(name).parts[:2]) for name in listed)}
    return keep, damaged, named


def _record_kept(raw: bytes) -> dict | None:
    """The record on a line that ``parse`` refuses but that holds one: of an older layout, or of
    a newer regbench."""
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or "id" not in record:
        return None
    version = record.get("record_version")
    newer = isinstance(version, int) and version > RECORD_VERSION
    return record if newer or old_version(record) else None


@contextlib.contextmanager
def _locked(store, exclusive: bool):
    """The records file's lock: exclusive (no append meanwhile, the file may be replaced), else
    shared (appends wait)."""
    if exclusive:
        fd = store._open_locked()
    elif store.path.exists():
        fd = os.open(store.path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_SH)
    else:
        yield
        return
    try:
        yield
    finally:
        os.close(fd)


def _set_aside(store, damaged: list[bytes], keep: list[bytes]) -> None:
    """Append the damaged lines to ``records.damaged.jsonl``, then replace the records file by
    its other lines (under the exclusive lock)."""
    if not damaged:
        return
    with open(store.directory / DAMAGED_FILE, "ab") as out:
        out.write(b"".join(damaged))
        out.flush()
        os.fsync(out.fileno())
    new = store.path.with_suffix(".jsonl.fixing")
    try:
        with open(new, "wb") as out:
            out.write(b"".join(keep))
            out.flush()
            os.fsync(out.fileno())
        os.replace(new, store.path)
    except BaseException:
        new.unlink(missing_ok=True)
        raise
