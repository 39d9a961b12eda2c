"""Records as a table, in Parquet or CSV: one row per record, its fields flattened into typed
columns that pandas, pyarrow and DuckDB read, and the whole record in the ``record`` column (its
JSON line, as the store writes it), from which :func:`read_records` gives it back unchanged.

The columns (:data:`MEANINGS` says what each holds): the identity and outcome (:data:`FIELDS`);
``task.*`` and ``reg.*``, the resolved hyperparameters; ``metric.*``, the metrics (numbers; arrays
stay in the artifact files); ``info.*``, the strings a run reports; ``versions.*`` and
``hardware.*``, what it ran with; ``counted``, whether the leaderboard counts the record (its run's
latest ``ok`` one); ``record``. ``started_at`` is a UTC timestamp. A column holds booleans,
integers, numbers (integers and floats mixed become floats) or strings by its values; one whose
values mix other types (a number in one run, a string or a list in another), or that has no value,
holds text: strings as they are, anything else as its JSON.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import RegbenchError
from ._lines import encode

FORMATS = (".parquet", ".csv")
FIELDS = ("id", "run_key", "config_key", "none_key", "task", "task_version", "reg", "reg_version",
          "record_version", "seed", "status", "error", "started_at", "wall_time_s", "train_time_s",
          "device", "host")
GROUPS = {"task_params": "task.", "reg_params": "reg.", "metrics": "metric.", "info": "info.",
          "versions": "versions.", "hardware": "hardware."}
MEANINGS = {  # of each column, and of each group of columns (by its prefix)
    "id": "the record's unique id",
    "run_key": "the run's identity: task, regularizer, each one's version, the hyperparameters that "
               "differ from their defaults, and the seed",
    "config_key": "the run's identity without the seed: one leaderboard row",
    "none_key": "the config_key of the `none` run this configuration is compared with",
    "task": "the task", "task_version": "the task's version",
    "reg": "the regularizer", "reg_version": "the regularizer's version",
    "record_version": "the record's layout version", "seed": "the seed",
    "status": "`ok`, `diverged` (a non-finite loss) or `failed` (an exception)",
    "error": "why the run diverged or failed",
    "started_at": "when the run started (UTC)", "wall_time_s": "the run's wall time (seconds)",
    "train_time_s": "the training loop's time (seconds; empty for a task of its own loop)",
    "device": "where it ran: the device, with the GPU's name or the CPU's architecture and threads",
    "host": "the machine's name",
    "task.": "the task's hyperparameters, defaults filled in",
    "reg.": "the regularizer's hyperparameters, defaults filled in",
    "metric.": "the metrics (numbers; arrays stay in the artifact files)",
    "info.": "the strings a run reports (its target, a split's digest, a note)",
    "versions.": "what the run ran with: python, torch, cuda (the CUDA torch was built with), "
                 "platform (the operating system), regbench, git_commit (of the regbench checkout)",
    "hardware.": "the CPU: its model, the instruction set torch's kernels use, BLAS and its "
                 "version, threads",
    "counted": "whether the leaderboard counts the record (its run's latest `ok` one)",
    "record": "the whole record's JSON line, from which `regbench store import` rebuilds it",
}


def row(record: dict, counted: bool) -> dict:
    """The record's columns."""
    out = {name: record.get(name) for name in FIELDS}
    for field, prefix in GROUPS.items():
        for name, value in sorted((record.get(field) or {}).items()):
            out[prefix + name] = value
    return {**out, "counted": counted, "record": encode(record).decode().rstrip("\n")}


def to_table(rows: list[dict]) -> pa.Table:
    names = list(FIELDS)
    for prefix in GROUPS.values():
        names += sorted({name for r in rows for name in r if name.startswith(prefix)})
    names += ["counted", "record"]
    return pa.table({name: column(name, [r.get(name) for r in rows]) for name in names})


def column(name: str, values: list) -> pa.Array:
    """``values`` typed by what they are (see the module's docstring)."""
    kinds = {type(v) for v in values if v is not None}
    if name == "started_at" and kinds == {str}:
        try:
            dates = [None if v is None else datetime.fromisoformat(v).astimezone(timezone.utc)
                     for v in values]
            return pa.array(dates, pa.timestamp("s", tz="UTC"))
        except ValueError:
            pass  # not all ISO dates: text
    if kinds and kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if any(type(v) is int and not -2**63 <= v < 2**63 for v in values):
        kinds.add(object)  # an integer past int64: text, exactly
    if kinds and kinds <= {int}:
        return pa.array(values, pa.int64())
    if kinds and kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([v if v is None or isinstance(v, str) else json.dumps(v, sort_keys=True)
                     for v in values], pa.string())


def write(path: Path, rows: list[dict]) -> bytes:
    """The file's contents: ``rows`` as Parquet or CSV (by ``path``'s suffix)."""
    buffer = pa.BufferOutputStream()
    table = to_table(rows)
    if path.suffix == ".parquet":
        pq.write_table(table, buffer)
    else:
        pa_csv.write_csv(table, buffer)
    return buffer.getvalue().to_pybytes()


def read_records(path: Path) -> list[tuple[str, bytes]]:
    """(where, the record's JSON line) of each row of a table :func:`write` wrote."""
    parquet, lines = path.suffix == ".parquet", pa_csv.ParseOptions(newlines_in_values=True)
    try:
        header = pq.read_schema(path) if parquet else pa_csv.open_csv(path, parse_options=lines).schema
        if "record" not in header.names:
            raise RegbenchError(f"cannot import {path}: it has no 'record' column (not a regbench "
                                f"export)")
        if parquet:
            values = pq.read_table(path, columns=["record"]).column("record")
        else:
            values = pa_csv.read_csv(path, parse_options=lines,
                                     convert_options=pa_csv.ConvertOptions(
                                         include_columns=["record"], column_types={"record": pa.string()},
                                         strings_can_be_null=True)).column("record")
    except (pa.ArrowException, OSError) as exc:
        raise RegbenchError(f"cannot import {path}: {str(exc).splitlines()[0]}") from None
    return [(f"{path} row {number}", (text or "").encode() + b"\n")
            for number, text in enumerate(values.to_pylist(), 1)]
