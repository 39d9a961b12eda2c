"""The store's index: a SQLite file (WAL mode) derived from ``records.jsonl`` and brought up to
date by reading only what was appended since. It answers "is this run done?" with one indexed
look-up and gives the leaderboard the scalar metrics without parsing any record. Deleting it is
safe: it is rebuilt from the records; a records file that was replaced (rewritten, checked out
anew) is noticed by its fingerprint and indexed again from the start."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from ._lines import Damaged, parse

SCHEMA = "5"
TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(line INTEGER PRIMARY KEY, offset INTEGER, length INTEGER, id TEXT,
  run_key TEXT, config_key TEXT, task TEXT, task_version INTEGER, reg TEXT, reg_version INTEGER,
  seed INTEGER, status TEXT, error TEXT, params TEXT, started_at TEXT, git_commit TEXT, torch TEXT,
  device TEXT, host TEXT, data TEXT, artifacts TEXT, none_key TEXT, directions TEXT, cross_run TEXT,
  declared BLOB, train_time REAL, wall_time REAL);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs(run_key, status);
CREATE TABLE IF NOT EXISTS metric_names(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS metrics(metric INTEGER, line INTEGER, value REAL,
  PRIMARY KEY(metric, line)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS damage(line INTEGER PRIMARY KEY, message TEXT);
"""
TABLE_NAMES = ("meta", "runs", "metrics", "metric_names", "damage")
BATCH = 2000
FINGERPRINT = 256  # bytes hashed at the start and just before the indexed end of the file


def run_row(line: int, offset: int, length: int, r: dict) -> tuple:
    versions = r.get("versions") or {}
    return (line, offset, length, r["id"], r["run_key"], r["config_key"], r["task"],
            r.get("task_version", 1), r["reg"], r.get("reg_version", 1), r["seed"], r["status"],
            (r.get("error") or "")[:500] or None, json.dumps(r.get("params") or {}, sort_keys=True),
            r.get("started_at"), versions.get("git_commit"), versions.get("torch"),
            r.get("device"), r.get("host"), json.dumps(r.get("data") or {}, sort_keys=True),
            json.dumps(r.get("artifacts") or {}, sort_keys=True), r.get("none_key"),
            json.dumps(r.get("directions") or []), json.dumps(r.get("cross_run") or []), declared(r),
            _number(r.get("train_time_s", r["metrics"].get("train_time_s"))), _number(r.get("wall_time_s")))


def declared(record: dict) -> bytes:
    """The metrics its task declares, in their declared order, as float64 bytes (NaN where the
    record has no number): what a leaderboard reads of each run, in one value."""
    metrics = record["metrics"]
    return np.array([_number(metrics.get(name)) for name, _ in record.get("directions") or []],
                    dtype=np.float64).tobytes()


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan


class Index:
    def __init__(self, records: Path, path: Path):
        self.records = records
        self.torn_line: int | None = None
        self.in_memory = False
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc) or not self._remove(path):
                self.db, self.in_memory = self._open(":memory:"), True  # e.g. a directory we may
            else:                                                        # not write: this process
                self.db = self._open(path)  # a damaged index is only a cache: built anew
        self.names: dict[str, int] = {}

    @staticmethod
    def _remove(path: Path) -> bool:
        """Delete a damaged index file (and its WAL files); False where that is not possible."""
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return True
        except OSError:
            return False

    @staticmethod
    def _open(path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=120, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            schema = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:  # a new file
            schema = None
        if schema and schema[0] != SCHEMA:  # an index written by another version of regbench
            db.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in TABLE_NAMES))
        db.executescript(TABLES)
        return db

    def sync(self) -> None:
        """Index what was appended to the records file since the last call (anyone's)."""
        try:
            self._transaction()
        except sqlite3.Error:  # an index file we may not write (another user's), a full disk
            if self.in_memory:
                raise
            self.db.close()
            self.db, self.in_memory = self._open(":memory:"), True
            self._transaction()

    def _transaction(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._sync()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _sync(self) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        self.names = dict(self.db.execute("SELECT name, id FROM metric_names"))
        if not self.records.exists():
            if meta.get("offset", "0") != "0":
                self._reset()
            return
        with open(self.records, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)  # appends hold LOCK_EX: we read whole lines only
            offset, line = int(meta.get("offset", 0)), int(meta.get("lines", 0))
            if meta.get("schema") != SCHEMA or meta.get("fingerprint") != _fingerprint(f, offset):
                self._reset()
                offset = line = 0
            f.seek(offset)
            runs, values, damage = [], [], []
            self.torn_line = None
            for raw in f:
                if not raw.endswith(b"\n"):
                    self.torn_line = line + 1
                    break
                line += 1
                try:
                    record = parse(raw)
                except Damaged as exc:
                    damage.append((line, str(exc)))
                else:
                    runs.append(run_row(line, offset, len(raw), record))
                    values += [(self._name_id(k), line, float(v)) for k, v in record["metrics"].items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)]
                offset += len(raw)
                if len(runs) >= BATCH:
                    self._insert(runs, values, damage)
                    runs, values, damage = [], [], []
            self._insert(runs, values, damage)
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("schema", SCHEMA), ("offset", str(offset)), ("lines", str(line)),
                ("fingerprint", _fingerprint(f, offset))])

    def _reset(self) -> None:
        """Empty the index, its tables made anew (an index of another schema has other columns)."""
        for table in TABLE_NAMES:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in filter(str.strip, TABLES.split(";")):  # executescript would commit
            self.db.execute(statement)
        self.names = {}

    def _name_id(self, name: str) -> int:
        if name not in self.names:
            self.names[name] = self.db.execute("INSERT INTO metric_names(name) VALUES (?)",
                                               (name,)).lastrowid
        return self.names[name]

    def _insert(self, runs, values, damage) -> None:
        self.db.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 27)})", runs)
        self.db.executemany("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?)", values)
        self.db.executemany("INSERT INTO damage VALUES (?, ?)", damage)

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    # ---- what the leaderboard and the report read, as values --------------------------------

    def counted(self) -> list[tuple]:
        """(line, run_key, config_key, none_key, task, seed, has arrays, training seconds) of each
        run's latest ok record, in line order."""
        return self.query("SELECT line, run_key, config_key, none_key, task, seed, "
                          "instr(artifacts, '\"artifacts/') > 0, train_time FROM runs WHERE line IN "
                          "(SELECT max(line) FROM runs WHERE status = 'ok' GROUP BY run_key) "
                          "ORDER BY line")

    def _lines(self, lines, select: str) -> list[tuple]:
        """``select`` (a query that joins the temporary table ``chosen(position, line)``) over
        ``lines``, the table filled for this query only."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS chosen(position INTEGER PRIMARY KEY, line INTEGER)")
        self.db.execute("DELETE FROM chosen")
        self.db.executemany("INSERT INTO chosen VALUES (?, ?)", enumerate(map(int, lines)))
        try:
            return self.query(select)
        finally:
            self.db.execute("DELETE FROM chosen")

    def configurations(self, lines) -> list[tuple]:
        """(config_key, task, task_version, reg, reg_version, params) of the records on ``lines``,
        in their order."""
        return self._lines(lines, "SELECT config_key, task, task_version, reg, reg_version, params "
                                  "FROM chosen JOIN runs USING (line) ORDER BY position")

    def task_layouts(self, lines) -> list[tuple]:
        """(task, directions, cross_run) as the latest of ``lines`` of each task declares them."""
        return self._lines(lines, "SELECT task, directions, cross_run FROM runs WHERE line IN "
                                  "(SELECT max(line) FROM runs JOIN chosen USING (line) GROUP BY task)")

    def declared(self, lines) -> list[tuple]:
        """(line, directions, declared values as float64 bytes) of ``lines``."""
        return self._lines(lines, "SELECT line, directions, declared FROM runs JOIN chosen USING (line)")

    def metric_rows(self, lines, names=None) -> list[tuple]:
        """(line, metric name, value) of every numeric metric (or of ``names``) on ``lines``."""
        rows = self._lines(lines, "SELECT line, name, value FROM metrics JOIN metric_names ON metric = "
                                  "metric_names.id JOIN chosen USING (line) WHERE value IS NOT NULL")
        return rows if names is None else [row for row in rows if row[1] in set(names)]

    def failures(self, config_keys) -> list[tuple]:
        """(config_key, status, seeds) of the runs of these configurations whose latest record is
        not ok (a diverged or failed seed with no ok record after it)."""
        rows = self.query("SELECT config_key, run_key, status, seed FROM runs ORDER BY line")
        wanted, latest = set(config_keys), {}
        for config_key, run_key, status, seed in rows:
            if config_key in wanted and latest.get(run_key, ("", "", 0))[1] != "ok":
                latest[run_key] = (config_key, status, seed)
        found: dict[tuple, list] = {}
        for config_key, status, seed in latest.values():
            if status != "ok":
                found.setdefault((config_key, status), []).append(seed)
        return [(key, status, sorted(seeds)) for (key, status), seeds in found.items()]

    def run_times(self) -> list[tuple]:
        """(task, reg, wall seconds) of every ok record that has them."""
        return self.query("SELECT task, reg, wall_time FROM runs WHERE status = 'ok' AND wall_time IS NOT NULL")

    def machines(self, lines) -> list[tuple]:
        """(git commit, torch, device, host, count) of the records on ``lines``."""
        return self._lines(lines, "SELECT git_commit, torch, device, host, count(*) FROM runs "
                                  "JOIN chosen USING (line) GROUP BY 1, 2, 3, 4")

    def datasets(self, lines) -> list[str]:
        """The distinct ``data`` fields (JSON) of the records on ``lines``."""
        return [data for data, in self._lines(lines, "SELECT DISTINCT data FROM runs JOIN chosen USING (line)")]

    def with_figures(self, lines) -> list[tuple]:
        """(line, task, reg, seed, config_key, artifacts) of the records on ``lines`` that list
        figures, in line order."""
        return self._lines(lines, "SELECT line, task, reg, seed, config_key, artifacts FROM runs JOIN "
                                  "chosen USING (line) WHERE instr(artifacts, '\"figures/') > 0 ORDER BY line")


def _fingerprint(f, end: int) -> str:
    """A digest of the file's inode (a file replaced by a new one, as ``git checkout`` does, is
    another file), of its first bytes and of the bytes just before ``end``."""
    digest = hashlib.sha256(f"{end} {os.fstat(f.fileno()).st_ino}".encode())
    for start in (0, max(0, end - FINGERPRINT)):
        f.seek(start)
        digest.update(f.read(min(FINGERPRINT, end - start)))
    return digest.hexdigest()


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file is not a (healthy) database, rather than e.g. read-only."""
    return "not a database" in str(exc) or "malformed" in str(exc)
