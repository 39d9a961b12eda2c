"""``regbench store export FILE.parquet|.csv`` and ``regbench store import``: records as a typed
table and back, and stores of several machines merged."""
import json
import math
import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import make_record
from regbench.cli import main
from regbench.errors import RegbenchError
from regbench.leaderboard import summary, to_markdown
from regbench.record import RECORD_VERSION
from regbench.store import ResultsStore, StoreWarning
from regbench.store import table
from regbench.store.convert import export, import_records
from test_store_migrate import current_store, digest, same


def grid(directory):
    """digits_ae × (none, eccentric at two μ) × 3 seeds, a --force re-run, a failed run."""
    store = ResultsStore(directory)
    rng = random.Random(3)
    for reg, settings in (("none", {}), ("eccentric", {"mu": 1.5}), ("eccentric", {"mu": 3.0})):
        for seed in range(3):
            store.append(make_record("digits_ae", reg, seed, {"test_mse": rng.random(), "knn_error":
                                     rng.random(), "cov_trace_per_d": rng.random()}, **settings))
    store.append(make_record("digits_ae", "none", 1, {"test_mse": 0.01, "knn_error": 0.5,
                                                      "cov_trace_per_d": 2.0}))
    store.append(make_record("digits_ae", "eccentric", 2, {}, status="failed", mu=1.5))
    return store


def board(store) -> str:
    """The leaderboard markdown, less its first footer line (the time it was generated)."""
    return "\n".join(line for line in to_markdown(store).splitlines()
                     if not line.startswith("Generated "))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_every_record_round_trips_to_an_identical_leaderboard(tmp_path, suffix):
    store = grid(tmp_path / "store")
    out = tmp_path / f"all{suffix}"
    assert export(store, out, every=True) == 11
    target = ResultsStore(tmp_path / "new")
    assert import_records(target, out) == (11, 0, 2)  # the re-run's and the failure's runs
    assert board(target) == board(store)
    assert [same(a, b) for a, b in zip(target.records(), store.records())] == [True] * 11
    assert import_records(target, out) == (0, 11, 0)
    assert len(list(target.records())) == 11


def test_the_counted_runs_round_trip_to_the_same_tables(tmp_path):
    store = grid(tmp_path / "store")
    out = tmp_path / "runs.parquet"
    assert export(store, out) == 9  # one per run: the re-run stands for its run, the failure none
    target = ResultsStore(tmp_path / "new")
    assert import_records(target, out) == (9, 0, 0)
    pd.testing.assert_frame_equal(summary(target)[0], summary(store)[0])
    footer = lambda s: [line for line in board(s).splitlines() if line.startswith("Runs counted")]
    assert footer(target) != footer(store)  # only the tally of the records differs
    assert [line for line in board(target).splitlines() if not line.startswith("Runs counted")] == \
        [line for line in board(store).splitlines() if not line.startswith("Runs counted")]


def test_columns_keep_their_types_in_pyarrow_pandas_and_duckdb(tmp_path):
    store = grid(tmp_path / "store")
    out = tmp_path / "all.parquet"
    export(store, out, every=True)
    schema = pq.read_schema(out)
    assert schema.field("seed").type == pa.int64() and schema.field("task.epochs").type == pa.int64()
    assert schema.field("metric.test_mse").type == pa.float64()
    assert schema.field("reg.mu").type == pa.float64()  # none has no μ: null there
    assert schema.field("counted").type == pa.bool_()
    assert pa.types.is_timestamp(schema.field("started_at").type)
    assert {"run_key", "config_key", "task_version", "reg_version", "record_version", "status",
            "versions.torch", "versions.git_commit", "versions.python", "hardware.cpu",
            "hardware.threads", "device", "host", "record"} <= set(schema.names)
    frame = pd.read_parquet(out)
    assert frame["metric.test_mse"].dtype == "float64" and frame.seed.dtype == "int64"
    assert frame.counted.sum() == 9 and frame[frame.counted].run_key.is_unique
    records = list(store.records())
    assert frame.id.tolist() == [r["id"] for r in records]
    assert frame["metric.test_mse"].tolist()[:9] == [r["metrics"]["test_mse"] for r in records[:9]]
    assert frame.started_at.iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")

    duckdb = pytest.importorskip("duckdb")
    [(mean, kind)] = duckdb.connect().execute(f"""SELECT avg("metric.test_mse"), typeof(any_value(seed))
                                                  FROM '{out}' WHERE counted AND reg = 'none'""").fetchall()
    assert kind == "BIGINT"
    assert mean == pytest.approx(frame[frame.counted & (frame.reg == "none")]["metric.test_mse"].mean())
    means = dict(duckdb.connect().execute(f"""SELECT config_key, avg("metric.test_mse") FROM '{out}'
                                              WHERE counted GROUP BY config_key""").fetchall())
    board = summary(store)[0].query("metric == 'test_mse'")  # the leaderboard's rows
    assert len(board) == 3 and means == pytest.approx(dict(zip(board.config_key, board["mean"])), rel=1e-12)


def test_a_column_of_mixed_values_is_text_and_integers_with_floats_are_numbers():
    assert table.column("x", [1, 2.5, None]).type == pa.float64()
    mixed = table.column("x", [1, "auto", [1, 2], None, True])
    assert mixed.type == pa.string() and mixed.to_pylist() == ["1", "auto", "[1, 2]", None, "true"]
    assert table.column("x", [None, None]).type == pa.string()
    assert table.column("x", [2**70, 1]).to_pylist() == [str(2**70), "1"]  # past int64: exact text


def test_a_table_carries_the_artifact_files_and_loses_nothing(tmp_path, capsys):
    store, records = current_store(tmp_path / "store")
    out = tmp_path / "shared" / "all.parquet"
    out.parent.mkdir()
    assert main(["--results", str(store.directory), "store", "export", str(out), "--all"]) == 0
    assert f"Exported {len(records)} records" in capsys.readouterr().out  # the damaged line skipped
    frame = pd.read_parquet(out)
    none = frame[(frame.task == "digits_ae") & (frame.reg == "none")]
    assert math.isinf(none["metric.knn_error"].item())
    assert (frame[frame.reg == "eccentric"]["info.target"] == "codes").all()
    assert not any(c.startswith("metric.spectrum") for c in frame)  # arrays stay in their files
    target = ResultsStore(tmp_path / "new")
    assert import_records(target, out) == (len(records), 0, 0)
    with pytest.warns(StoreWarning, match=":5: skipped: a run of NUL bytes"):
        originals = list(store.records())
    assert [same(a, b) for a, b in zip(target.records(), originals)] == [True] * len(records)
    files = {name for r in originals for name in r["artifacts"]}
    assert len(files) == 4 and all(digest(target.directory / name) == digest(store.directory / name)
                                   for name in files)
    lines = [line for line, in target.index.query("SELECT line FROM runs ORDER BY line")]
    made = {r["id"]: r["metrics"] for r in records}
    assert [same(loaded["metrics"], made[loaded["id"]]) for loaded in target.load(lines)] == \
        [True] * len(records)


def test_overlapping_stores_merge_one_counted_run_per_run_key(tmp_path, capsys):
    first = grid(tmp_path / "first")
    second = ResultsStore(tmp_path / "second")
    export(first, tmp_path / "first.jsonl")
    import_records(second, tmp_path / "first.jsonl")  # the second machine began with a copy
    rerun = make_record("digits_ae", "none", 0, {"test_mse": 0.02, "knn_error": 0.4,
                                                 "cov_trace_per_d": 2.0})
    extra = make_record("digits_ae", "none", 3, {"test_mse": 0.03, "knn_error": 0.4,
                                                 "cov_trace_per_d": 2.0})
    second.append(rerun)
    second.append(extra)
    assert main(["--results", str(first.directory), "store", "import", str(second.directory)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert ": 2 new records, 11 already present, 1 runs now with more than one record" in out
    counted = first.find_ok(rerun["run_key"])
    assert counted["id"] == rerun["id"]  # the latest ok record of its run, as in any store
    runs = summary(first)[1].runs
    assert len(runs) == 10 and len(first.outcomes()) == 10
    assert import_records(first, second.directory) == (0, 13, 0)


def newer(record):
    return {**record, "record_version": RECORD_VERSION + 1}


@pytest.mark.parametrize("suffix", ["records.jsonl", "all.parquet"])
def test_a_store_of_a_newer_layout_is_refused_in_one_line(tmp_path, capsys, suffix):
    records = [make_record("sphere", "none", seed, {"norm_std": 0.1}, n=20) for seed in (0, 1)]
    records[1] = newer(records[1])
    source = tmp_path / "other" / suffix
    source.parent.mkdir()
    if suffix.endswith(".jsonl"):
        source.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        source.write_bytes(table.write(source, [table.row(r, True) for r in records]))
    target = tmp_path / "store"
    assert main(["--results", str(target), "store", "import", str(source.parent if
                 suffix.endswith(".jsonl") else source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"record version {RECORD_VERSION + 1}" in err
    assert "nothing was done" in err and not target.exists()


def test_an_unknown_format_or_the_store_itself_is_one_line(tmp_path, capsys):
    ResultsStore(tmp_path / "store").append(make_record("sphere", "none", 0, {"norm_std": 0.1}, n=20))
    for action in ("export", "import"):
        assert main(["--results", str(tmp_path / "store"), "store", action,
                     str(tmp_path / "out.xlsx")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unknown format '.xlsx'" in err and ".parquet, .csv" in err
    assert not (tmp_path / "out.xlsx").exists()
    own = tmp_path / "store" / "records.jsonl"
    before = own.read_bytes()
    with pytest.raises(RegbenchError, match="it is the store's own file of records"):
        export(ResultsStore(tmp_path / "store"), own)
    assert own.read_bytes() == before
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1]}), foreign)
    with pytest.raises(RegbenchError, match="has no 'record' column"):
        import_records(ResultsStore(tmp_path / "new"), foreign)


def test_real_sphere_runs_round_trip_with_their_curves_and_environment(tmp_path):
    from regbench.record import versions
    from regbench.runner import execute, prepare
    store = ResultsStore(tmp_path / "store")
    runs = [execute(prepare("sphere", reg, {"n": 20, "steps": 20}, seed=seed))
            for reg in ("none", "eccentric") for seed in (0, 1)]
    for run in runs:
        store.append(run)
    out = tmp_path / "shared" / "runs.parquet"
    assert export(store, out) == 4
    frame = pd.read_parquet(out)
    assert frame["versions.platform"].tolist() == [versions()["platform"]] * 4
    cuda = versions()["cuda"]  # None with a CPU-only torch: a null column
    assert frame["versions.cuda"].notna().sum() == (4 if cuda else 0)
    assert set(frame["versions.cuda"].dropna()) == ({cuda} if cuda else set())
    assert frame["metric.min_angle_deg"].dtype == "float64" and frame["task.n"].tolist() == [20] * 4
    target = ResultsStore(tmp_path / "new")
    assert import_records(target, out) == (4, 0, 0)
    assert board(target) == board(store)
    lines = [line for line, in target.index.query("SELECT line FROM runs ORDER BY line")]
    assert [same(r["metrics"]["curve"], run["metrics"]["curve"])
            for r, run in zip(target.load(lines), runs)] == [True] * 4
