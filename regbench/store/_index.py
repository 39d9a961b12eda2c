"""The store's index: a SQLite file (WAL mode) derived from ``records.jsonl`` and brought up to
date by reading only what was appended since. It answers "is this run done?" with one indexed
look-up and gives the leaderboard the scalar metrics without parsing any record. Deleting it is
safe: it is rebuilt from the records; a records file that was replaced (rewritten, checked out
anew) is noticed by its fingerprint and indexed again from the start.

SQLite's JSON functions read the lines (several times faster than Python's ``json``); a line they
cannot read as a record (NaN or infinities, which Python writes; damage) goes to Python's reader,
which indexes it or names the damage. Each run's numeric metrics are kept as its JSON object, and its
declared metrics as a JSON array in declared order."""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sqlite3
from pathlib import Path

from ..record import RECORD_VERSION, REQUIRED
from ._lines import Damaged, parse

SCHEMA = "7"
TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(line INTEGER PRIMARY KEY, offset INTEGER, length INTEGER, id TEXT,
  run_key TEXT, config_key TEXT, task TEXT, task_version INTEGER, reg TEXT, reg_version INTEGER,
  seed INTEGER, status TEXT, error TEXT, params TEXT, git_commit TEXT, torch TEXT,
  device TEXT, hardware TEXT, host TEXT, data TEXT, artifacts TEXT, none_key TEXT, directions TEXT,
  cross_run TEXT, train_time REAL, wall_time REAL, metrics TEXT, declared TEXT);
CREATE TABLE IF NOT EXISTS damage(line INTEGER PRIMARY KEY, message TEXT);
"""
BY_KEY = "CREATE INDEX IF NOT EXISTS runs_by_key ON runs(run_key, status)"  # built after a bulk insert
# Each batch is read into this table in memory, completed there and copied to ``runs`` at once.
STAGED = "CREATE TEMP TABLE IF NOT EXISTS staged AS SELECT * FROM runs WHERE 0"
# The lines a query is about (:meth:`Index._lines`).
CHOSEN = "CREATE TEMP TABLE IF NOT EXISTS chosen(position INTEGER PRIMARY KEY, line INTEGER)"
TABLE_NAMES = ("meta", "runs", "damage", "metrics", "metric_names")  # the last two: schema 5's
BATCH = 5000
FINGERPRINT = 256  # bytes hashed at the start and just before the indexed end of the file


def _text(path: str) -> str:
    return f"j ->> '{path}'"


def _json(path: str, empty: str) -> str:
    return f"ifnull(j -> '{path}', '{empty}')"


def _number(path: str) -> str:
    return f"iif(json_type(j, '{path}') IN ('integer', 'real'), j ->> '{path}', NULL)"


# The columns of ``runs`` but ``declared`` as SQLite extracts them from a line ``j`` (the fast
# path: SQLite parses JSON far faster than Python); :func:`run_row` is the same in Python, for a
# line that :data:`READABLE` does not pass (NaN, infinities).
EXTRACTED = ", ".join([
    "line", "offset", "length", *map(_text, ("$.id", "$.run_key", "$.config_key", "$.task")),
    "ifnull(j ->> '$.task_version', 1)", _text("$.reg"), "ifnull(j ->> '$.reg_version', 1)",
    _text("$.seed"), _text("$.status"), "nullif(substr(ifnull(j ->> '$.error', ''), 1, 500), '')",
    _json("$.params", "{}"), _text("$.versions.git_commit"),
    _text("$.versions.torch"), _text("$.device"),
    "iif(json_type(j, '$.hardware') = 'object', j -> '$.hardware', NULL)", _text("$.host"),
    _json("$.data", "{}"), _json("$.artifacts", "{}"), _text("$.none_key"),
    _json("$.directions", "[]"), _json("$.cross_run", "[]"),
    f"iif(json_type(j, '$.train_time_s') IS NULL, {_number('$.metrics.train_time_s')}, "
    f"{_number('$.train_time_s')})", _number("$.wall_time_s"), "j -> '$.metrics'"])
# What :func:`._lines.parse` accepts, or less: the lines SQLite can read as a current record
# (nothing looks into a line before json_valid passes it: a JSON function raises on malformed JSON).
READABLE = "CASE WHEN json_valid(j) THEN " + " AND ".join([
    "json_type(j) = 'object'", "json_type(j, '$.record_version') = 'integer'",
    f"j ->> '$.record_version' = {RECORD_VERSION}", "json_type(j, '$.metrics') = 'object'",
    *(f"json_type(j, '$.{key}') IS NOT NULL" for key in REQUIRED)]) + " END"
INSERT = (f"INSERT INTO staged SELECT {EXTRACTED}, NULL FROM (SELECT ? AS line, ? AS offset, "
          f"? AS length, ? AS j) WHERE {READABLE}")


def run_row(line: int, offset: int, length: int, r: dict) -> tuple:
    """The row of a record that only Python reads (NaN and infinities become null)."""
    versions = r.get("versions") or {}
    numbers = {k: v for k, v in r["metrics"].items() if _finite(v)}
    return (line, offset, length, r["id"], r["run_key"], r["config_key"], r["task"],
            r.get("task_version", 1), r["reg"], r.get("reg_version", 1), r["seed"], r["status"],
            (r.get("error") or "")[:500] or None, _dumps(r.get("params") or {}),
            versions.get("git_commit"), versions.get("torch"), r.get("device"),
            _dumps(r["hardware"]) if isinstance(r.get("hardware"), dict) else None, r.get("host"),
            _dumps(r.get("data") or {}), _dumps(r.get("artifacts") or {}), r.get("none_key"),
            _dumps(r.get("directions") or []), _dumps(r.get("cross_run") or []),
            _finite_or_none(r.get("train_time_s", r["metrics"].get("train_time_s"))),
            _finite_or_none(r.get("wall_time_s")), _dumps(numbers),
            _dumps([numbers.get(name) for name, _ in r.get("directions") or []]))


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _finite_or_none(value) -> float | None:
    return float(value) if _finite(value) else None


class Index:
    def __init__(self, records: Path, path: Path):
        self.records = records
        self.torn_line: int | None = None
        self.chosen: list[int] | None = None  # the lines in the table ``chosen``
        self.in_memory = False
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc) or not self._remove(path):
                self.db, self.in_memory = self._open(":memory:"), True  # e.g. a directory we may
            else:                                                        # not write: this process
                self.db = self._open(path)  # a damaged index is only a cache: built anew

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
        db.execute("PRAGMA page_size=16384")  # a new file's: a row (~2.5 KB) fills a 4 KB page alone
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            schema = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:  # a new file
            schema = None
        if schema and schema[0] != SCHEMA:  # an index written by another version of regbench
            db.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in TABLE_NAMES))
        db.executescript(TABLES)
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute(STAGED)
        db.execute(CHOSEN)
        return db

    def sync(self) -> None:
        """Index what was appended to the records file since the last call (anyone's)."""
        try:
            self._transaction()
        except sqlite3.Error:  # an index file we may not write (another user's), a full disk
            if self.in_memory:
                raise
            self.db.close()
            self.db, self.in_memory, self.chosen = self._open(":memory:"), True, None
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
            if offset == 0:  # a build from the start: one sort at the end beats 100,000 inserts
                self.db.execute("DROP INDEX IF EXISTS runs_by_key")
            f.seek(offset)
            batch = []
            self.torn_line = None
            for raw in f:
                if not raw.endswith(b"\n"):
                    self.torn_line = line + 1
                    break
                line += 1
                batch.append((line, offset, raw))
                offset += len(raw)
                if len(batch) >= BATCH:
                    self._insert(batch)
                    batch = []
            self._insert(batch)
            self.db.execute(BY_KEY)
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("schema", SCHEMA), ("offset", str(offset)), ("lines", str(line)),
                ("fingerprint", _fingerprint(f, offset))])

    def _reset(self) -> None:
        """Empty the index, its tables made anew (an index of another schema has other columns)."""
        for table in TABLE_NAMES:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in filter(str.strip, TABLES.split(";")):  # executescript would commit
            self.db.execute(statement)
        self.db.execute("DROP TABLE temp.staged")  # the columns of the new ``runs``
        self.db.execute(STAGED)

    def _insert(self, batch: list[tuple[int, int, bytes]]) -> None:
        """Index these (line number, offset, bytes): SQLite reads the lines it can; Python the
        rest, or says why it cannot (the damage)."""
        if not batch:
            return
        texts = []
        for line, offset, raw in batch:
            try:
                texts.append((line, offset, len(raw), raw.decode("utf-8")))
            except UnicodeDecodeError:
                pass  # Python says why below
        self.db.executemany(INSERT, texts)
        self._fill_declared()
        self.db.execute("INSERT INTO runs SELECT * FROM staged")
        read = {line for line, in self.db.execute("SELECT line FROM staged")}
        self.db.execute("DELETE FROM staged")
        runs, damage = [], []
        for line, offset, raw in batch:
            if line not in read:
                try:
                    runs.append(run_row(line, offset, len(raw), parse(raw)))
                except Damaged as exc:
                    damage.append((line, str(exc)))
        self.db.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 28)})", runs)
        self.db.executemany("INSERT INTO damage VALUES (?, ?)", damage)

    def _fill_declared(self) -> None:
        """The declared metrics of the staged lines, as a JSON array in declared order (null
        where the record has no number): per layout of declared metrics, one ``json_extract`` of
        them all, then value by value where that one is not an array of numbers and nulls (a
        string, true or false, an object or array in it; a single path's value is no array)."""
        layouts = self.db.execute("SELECT DISTINCT directions FROM staged").fetchall()
        for layout, in layouts:
            paths = [f'$."{name}"' for name, _ in json.loads(layout)]
            n = len(paths)
            marks = ", ".join(f"?{i}" for i in range(1, n + 1))
            if n > 1:
                self.db.execute(f"UPDATE staged SET declared = json_extract(metrics, {marks}) "
                                f"WHERE directions = ?{n + 1}", (*paths, layout))
            values = " || ',' || ".join(
                f"iif(json_type(metrics, ?{i}) IN ('integer', 'real'), metrics -> ?{i}, 'null')"
                for i in range(1, n + 1)) or "''"
            self.db.execute(f"UPDATE staged SET declared = '[' || {values} || ']' WHERE "
                            f"directions = ?{n + 1} AND (declared IS NULL OR declared GLOB "
                            f"'*[\"tf{{]*' OR instr(substr(declared, 2), '['))", (*paths, layout))

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

    def _lines(self, lines, select: str, params=()) -> list[tuple]:
        """``select`` (a query that joins the temporary table ``chosen(position, line)``) over
        ``lines``; the table is filled anew only for other lines than the last query's (in one
        transaction: row by row, each insert would be one)."""
        lines = [int(line) for line in lines]
        if lines != self.chosen:
            self.chosen = None
            self.db.execute("SAVEPOINT chosen")
            try:
                self.db.execute("DELETE FROM chosen")
                self.db.executemany("INSERT INTO chosen VALUES (?, ?)", enumerate(lines))
            except BaseException:
                self.db.execute("ROLLBACK TO chosen")
                raise
            finally:
                self.db.execute("RELEASE chosen")
            self.chosen = lines
        return self.query(select, params)

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
        """(line, directions, declared values as a JSON array, null where missing) of ``lines``."""
        return self._lines(lines, "SELECT line, directions, declared FROM runs JOIN chosen USING (line)")

    def metric_rows(self, lines, names=None) -> list[tuple]:
        """(line, metric name, value) of every numeric metric (or of ``names``) on ``lines``."""
        if names is None:
            return self._lines(lines, "SELECT line, m.key, CAST(m.value AS REAL) FROM chosen JOIN "
                                      "runs USING (line), json_each(runs.metrics) m WHERE m.type IN "
                                      "('integer', 'real')")
        return self._lines(lines, "SELECT line, name, CAST(metrics ->> path AS REAL) FROM chosen "
                                  "JOIN runs USING (line) CROSS JOIN (SELECT value AS name, '$.\"' "
                                  "|| value || '\"' AS path FROM json_each(?)) WHERE "  # each run's
                                  "json_type(metrics, path) IN ('integer', 'real')",  # JSON once
                           (json.dumps(list(names)),))

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
        """(git commit, torch, device, host, hardware (JSON), count) of the records on ``lines``."""
        return self._lines(lines, "SELECT git_commit, torch, device, host, hardware, count(*) FROM "
                                  "runs JOIN chosen USING (line) GROUP BY 1, 2, 3, 4, 5")

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
