"""One line of ``records.jsonl`` → a record, or a one-line account of what is wrong with it."""
from __future__ import annotations

import json

from ..record import RECORD_VERSION, REQUIRED, old_version


class Damaged(ValueError):
    """A line that is not a readable record; the message says why."""


class Newer(Damaged):
    """A record of a newer layout than this regbench reads."""


def parse(raw: bytes) -> dict:
    """The record on ``raw`` (one line), or ``Damaged``."""
    if raw.strip(b"\x00\r\n\t ") == b"":
        raise Damaged("a run of NUL bytes (left by a crash)" if b"\x00" in raw else "blank")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Damaged(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from None
    try:
        record = json.loads(text.rstrip("\r\n"))  # a torn string is unterminated, not "\n" in it
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(" at")  # "Unterminated string starting at"
        raise Damaged(f"not valid JSON ({reason} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise Damaged(f"valid JSON but not a record (a JSON {type(record).__name__})")
    version = old_version(record)
    if version is not None:
        raise Damaged(f"a record of the v{version} layout: convert the store with `regbench store migrate`")
    version = record.get("record_version")
    if isinstance(version, int) and version > RECORD_VERSION:
        raise Newer(f"written by a newer regbench (record version {version}; this one reads "
                    f"{RECORD_VERSION}): upgrade regbench to read it")
    missing = [k for k in REQUIRED if k not in record]
    if version != RECORD_VERSION or missing:
        raise Damaged(f"an object that is not a run record (missing {', '.join(missing) or 'record_version'})")
    if not isinstance(record["metrics"], dict):
        raise Damaged("a record whose metrics are not an object")
    return record


def encode(record: dict) -> bytes:
    """The record as one line (NaN and infinities allowed, as Python's json writes them)."""
    return (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
