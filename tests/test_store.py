"""The results store: concurrent appends, one count per run, damaged lines, failed writes,
artifacts, and the derived index."""
import errno
import hashlib
import json
import math
import multiprocessing
import os
import random
import re
import sqlite3
import types
import warnings

import pytest

import regbench.store
import regbench.store._index
from conftest import make_record
from regbench.cli import main
from regbench.errors import NotRecorded, RegbenchError
from regbench.leaderboard import summary
from regbench.store import RECORD_VERSION, ResultsStore, StoreWarning, artifacts

FORK = multiprocessing.get_context("fork")
SPHERE = dict(n=20, steps=2)
CLI_RUN = ["run", "--reg", "none", "--task", "sphere", "--set", "n=20", "steps=2", "--quiet"]


def sphere(seed, **metrics):
    return make_record("sphere", "none", seed, {"norm_std": 0.1 * seed, **metrics}, **SPHERE)


def reading(store):
    """Everything a reader asks of ``store``, and the StoreWarnings that reading raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = list(store.records())
        found = {r["run_key"]: store.find_ok(r["run_key"]) for r in records}
        outcomes = store.outcomes()
    messages = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
    others = [w for w in caught if not issubclass(w.category, StoreWarning)]
    assert not others, others
    return records, found, outcomes, messages


def quiet_records(store):
    """The records of ``store``, which must read without any warning."""
    records, _, _, messages = reading(store)
    assert messages == []
    return records


def digest(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def line_of(store, record_id):
    (line,), = store.index.query("SELECT line FROM runs WHERE id = ?", (record_id,))
    return line


# ---------------------------------------------------------------- concurrent writers

def _append_all(directory, records, start):
    start.wait()
    store = ResultsStore(directory)
    for record in records:
        store.append(record)
        assert store.find_ok(record["run_key"])["run_key"] == record["run_key"]  # reads meanwhile


def append_at_once(directory, batches) -> None:
    """Each batch of records appended by its own process, all starting together."""
    start = FORK.Event()
    processes = [FORK.Process(target=_append_all, args=(directory, b, start)) for b in batches]
    for p in processes:
        p.start()
    start.set()
    for p in processes:
        p.join(60)
    assert [p.exitcode for p in processes] == [0] * len(batches)


def test_concurrent_writers_lose_and_interleave_nothing(tmp_path):
    workers, per_worker = 8, 40
    batches = []
    for w in range(workers):
        batch = []
        for i in range(per_worker):
            record = sphere(w * per_worker + i, worker=w, index=i)
            record["payload"] = f"{w:x}" * 6000  # well above PIPE_BUF: one write must not split
            if i % 10 == 0:
                record["metrics"]["spectrum"] = [float(w), float(i)] * 50
            batch.append(record)
        batches.append(batch)
    append_at_once(tmp_path, batches)

    lines = (tmp_path / "records.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == workers * per_worker + 1
    on_disk = [json.loads(line) for line in lines[:-1]]
    assert all(set(r["payload"]) == {f"{r['metrics']['worker']:x}"} for r in on_disk)
    store = ResultsStore(tmp_path)
    records = quiet_records(store)
    expected = {r["id"] for batch in batches for r in batch}
    assert len(records) == len(expected) and {r["id"] for r in records} == expected
    for w in range(workers):  # each writer's records in the order it wrote them
        assert [r["metrics"]["index"] for r in records if r["metrics"]["worker"] == w] == \
            list(range(per_worker))
    assert len(store.outcomes()) == workers * per_worker
    with_arrays = [r for r in records if r["metrics"]["index"] % 10 == 0]
    loaded = store.load([line_of(store, r["id"]) for r in with_arrays])
    assert [r["metrics"]["spectrum"] for r in loaded] == \
        [[float(r["metrics"]["worker"]), float(r["metrics"]["index"])] * 50 for r in with_arrays]
    assert not list((tmp_path / "artifacts").glob(".*"))  # no temporary file left


# ---------------------------------------------------------------- one count per run

def test_a_rerun_counts_once_and_n_counts_distinct_seeds(tmp_path):
    store = ResultsStore(tmp_path)
    first = make_record("digits_ae", "none", 0, {"test_mse": 0.5})
    rerun = make_record("digits_ae", "none", 0, {"test_mse": 0.3})  # --force: same run, new id
    assert rerun["run_key"] == first["run_key"] and rerun["id"] != first["id"]
    for record in (first, rerun, make_record("digits_ae", "none", 1, {"test_mse": 0.2})):
        store.append(record)
    assert len(store.outcomes()) == 2
    assert store.find_ok(first["run_key"])["id"] == rerun["id"]  # the latest ok record
    row = summary(store)[0].query("reg == 'none' and metric == 'test_mse'")
    assert len(row) == 1 and row.n.iloc[0] == 2
    assert row["mean"].iloc[0] == pytest.approx((0.3 + 0.2) / 2)  # the re-run's value counts


def test_a_failed_rerun_keeps_the_ok_run(tmp_path):
    store = ResultsStore(tmp_path)
    ok = make_record("digits_ae", "none", 0, {"test_mse": 0.5})
    failed = {**make_record("digits_ae", "none", 0, {}, status="failed"), "error": "boom"}
    only_failed = {**make_record("digits_ae", "none", 1, {}, status="failed"), "error": "bang"}
    for record in (ok, failed, only_failed):
        store.append(record)
    assert store.outcomes() == {ok["run_key"]: ("ok", None),
                                only_failed["run_key"]: ("failed", "bang")}
    assert store.find_ok(ok["run_key"])["id"] == ok["id"]
    assert store.find_ok(only_failed["run_key"]) is None
    assert store.counts() == {"ok": 1, "failed": 2}
    row = summary(store)[0].query("reg == 'none' and metric == 'test_mse'")
    assert row.n.tolist() == [1]


def test_one_trial_started_twice_at_once_counts_once(tmp_path):
    twins = [make_record("digits_ae", "eccentric", 3, {"test_mse": 0.25}, mu=1.5) for _ in range(2)]
    append_at_once(tmp_path, [[r] for r in twins])
    store = ResultsStore(tmp_path)
    assert {r["id"] for r in quiet_records(store)} == {r["id"] for r in twins}
    assert list(store.outcomes()) == [twins[0]["run_key"]]
    row = summary(store)[0].query("reg == 'eccentric' and metric == 'test_mse'")
    assert row.n.tolist() == [1] and row.config.tolist() == ["mu=1.5"]


# ---------------------------------------------------------------- damaged lines

def _record_line(**changes):
    record = {**sphere(99), **changes}
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode()


def _v1_line():
    record = sphere(98)
    for key in ("run_key", "config_key", "none_key", "params", "task_version", "reg_version",
                "directions", "cross_run"):
        record.pop(key)
    record.update(record_version=1, config_hash="0123456789abcdef", artifacts=None,
                  metrics={"norm_std": 0.5, "spectrum": [1.0, 2.0]})
    return json.dumps(record, sort_keys=True).encode()


# kind: (the damage, what the warning says once a newline ends it; before that it is TORN)
TORN = "an incomplete last line"
DAMAGE = {
    "json_list": (b"[1, 2, 3]\n", "valid JSON but not a record (a JSON list)"),
    "object_not_a_record": (b'{"record_version": 2, "id": "x", "metrics": {}}\n',
                            "not a run record (missing run_key, config_key, task, reg, seed, "
                            "status)"),
    "nul_run": (b"\x00" * 300 + b"\n", "a run of NUL bytes"),
    "nul_run_unterminated": (b"\x00" * 300, "a run of NUL bytes"),
    "latin1_byte": (_record_line(host="caf\xe9").replace("caf\xe9".encode(), b"caf\xe9") + b"\n",
                    "not UTF-8 (byte 0xe9 at column"),
    "torn_last_line": (_record_line()[:_record_line().index(b'"task": "sphere') + 12],
                       "not valid JSON (Unterminated string starting at column"),
    "control_character": (b'{"id": "x", "host": "v\tm\n',
                          "not valid JSON (Invalid control character at column 23)"),
    "newer_record_version": (_record_line(record_version=RECORD_VERSION + 1) + b"\n",
                             f"written by a newer regbench (record version {RECORD_VERSION + 1}"),
    "v1_layout": (_v1_line() + b"\n", "a record of the v1 layout: convert the store with "
                                      "`regbench store migrate`"),
}


def _one_warning(messages, path, line, text):
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{path}:{line}: skipped: "), messages[0]
    assert text in messages[0] and " at at " not in messages[0], messages[0]


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_line_is_named_once_and_skipped(tmp_path, capsys, kind):
    damage, message = DAMAGE[kind]
    terminated = damage.endswith(b"\n")
    store = ResultsStore(tmp_path)
    good = [sphere(1), sphere(2)]
    for record in good:
        store.append(record)
    with open(store.path, "ab") as f:
        f.write(damage)
    damaged = store.path.read_bytes()
    if terminated:
        good.append(sphere(3))
        store.append(good[-1])

    records, found, outcomes, messages = reading(ResultsStore(tmp_path))
    _one_warning(messages, store.path, 3, message if terminated else TORN)
    assert [r["id"] for r in records] == [r["id"] for r in good]
    assert {k: r["id"] for k, r in found.items()} == {r["run_key"]: r["id"] for r in good}
    assert outcomes == {r["run_key"]: ("ok", None) for r in good}
    assert store.path.read_bytes().startswith(damaged)  # reading rewrites nothing

    assert main(["--results", str(tmp_path), *CLI_RUN]) == 0  # the next run goes on
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"regbench: warning: {messages[0]}"]
    assert "record " in out and str(store.path) in out
    assert store.path.read_bytes().startswith(damaged)

    records, _, outcomes, messages = reading(ResultsStore(tmp_path))
    _one_warning(messages, store.path, 3, message)
    assert [r["id"] for r in records[:-1]] == [r["id"] for r in good]
    assert records[-1]["task"] == "sphere" and records[-1]["params"]["task"] == SPHERE
    assert len(outcomes) == len(good) + 1
    assert line_of(store, records[-1]["id"]) == (5 if terminated else 4)


def test_damage_is_reported_once_per_store_and_a_torn_line_again_once_sealed(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(sphere(1))
    with open(store.path, "ab") as f:
        f.write(b'{"id": "half')
    with pytest.warns(StoreWarning, match=re.escape(f"{store.path}:2: skipped: {TORN}")):
        assert len(list(store.records())) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(store.records())) == 1 and len(store.outcomes()) == 1
    store.append(sphere(2))
    with pytest.warns(StoreWarning, match=re.escape(f"{store.path}:2: skipped: not valid JSON")):
        assert len(list(store.records())) == 2


def test_a_record_appended_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    store = ResultsStore(tmp_path)
    record = sphere(1)
    store.append(record)
    whole = store.path.read_bytes()
    store.path.write_bytes(whole + whole[:40])  # a second copy cut short by a crash
    second = sphere(2)
    store.append(second)
    assert store.path.read_bytes().split(b"\n")[1] == whole[:40]  # sealed, not joined
    with pytest.warns(StoreWarning, match=":2: skipped: not valid JSON"):
        assert [r["id"] for r in ResultsStore(tmp_path).records()] == [record["id"], second["id"]]


# ---------------------------------------------------------------- failed writes

class OsWith(types.SimpleNamespace):
    """The ``os`` module with some functions replaced (as one module sees it)."""

    def __getattr__(self, name):
        return getattr(os, name)


def _short_write(fd, data):
    return os.write(fd, data[: len(data) // 2])


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _read_only(path, *args, **kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def _artifact_rename_fails(monkeypatch):
    monkeypatch.setattr(artifacts, "os", OsWith(replace=_no_space))


FAILURES = {
    "short_write": (lambda mp: mp.setattr(regbench.store, "os", OsWith(write=_short_write)),
                    os.strerror(errno.ENOSPC)),
    "write_enospc": (lambda mp: mp.setattr(regbench.store, "os", OsWith(write=_no_space)),
                     os.strerror(errno.ENOSPC)),
    "fsync_enospc": (lambda mp: mp.setattr(regbench.store, "os", OsWith(fsync=_no_space)),
                     os.strerror(errno.ENOSPC)),
    "artifact_write_fails": (lambda mp: mp.setattr(artifacts, "write_file", _no_space),
                             os.strerror(errno.ENOSPC)),
    "artifact_rename_fails": (_artifact_rename_fails, os.strerror(errno.ENOSPC)),
    "read_only_directory": (lambda mp: mp.setattr(regbench.store, "os", OsWith(open=_read_only)),
                            os.strerror(errno.EACCES)),
}


@pytest.mark.parametrize("torn_before", [False, True], ids=["", "after_a_torn_line"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_write_is_not_recorded_and_leaves_nothing(tmp_path, monkeypatch, failure,
                                                           torn_before):
    store = ResultsStore(tmp_path)
    kept = sphere(1, spectrum=[1.0, 2.0])
    store.append(kept)
    if torn_before:
        with open(store.path, "ab") as f:
            f.write(b'{"torn')
    before = store.path.read_bytes()
    kept_artifacts = sorted(p.name for p in (tmp_path / "artifacts").iterdir())
    record = sphere(2, codes=[[0.5] * 8] * 30, layers={"enc": {"norm": 1.0}})

    patch, reason = FAILURES[failure]
    with monkeypatch.context() as mp:
        patch(mp)
        with pytest.raises(NotRecorded) as raised:
            store.append(record)
    message = str(raised.value)
    assert f"run {record['id']} was NOT recorded in {store.path}" in message and reason in message
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == kept_artifacts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        assert store.find_ok(record["run_key"]) is None

    store.append(record)  # the same record, once the disk has room again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        assert store.find_ok(record["run_key"])["id"] == record["id"]
        loaded, = store.load([line_of(store, record["id"])])
    assert loaded["metrics"]["codes"] == [[0.5] * 8] * 30
    assert loaded["metrics"]["layers"] == {"enc": {"norm": 1.0}}
    assert store.path.read_bytes().startswith(before)


def test_a_record_that_cannot_be_encoded_leaves_no_artifact(tmp_path):
    store = ResultsStore(tmp_path)
    record = {**sphere(1, spectrum=[1.0]), "data": {"file": object()}}
    with pytest.raises(TypeError):
        store.append(record)
    assert list(tmp_path.rglob("*")) == []  # no records file, no artifact, no staging folder


def test_cli_run_whose_record_cannot_be_written_says_so(tmp_path, monkeypatch, capsys):
    store = ResultsStore(tmp_path)
    store.append(sphere(5))
    before = store.path.read_bytes()
    monkeypatch.setattr(regbench.store, "os", OsWith(write=_no_space))
    monkeypatch.setattr(regbench.store, "_probe", lambda directory: None)  # the disk fills later
    status = main(["--results", str(tmp_path), *CLI_RUN])
    out, err = capsys.readouterr()
    assert status != 0
    assert len(err.splitlines()) == 1, err
    assert err.startswith("regbench: error: ") and "NOT recorded" in err
    assert str(store.path) in err and os.strerror(errno.ENOSPC) in err
    assert "record " not in out and " in " + str(store.path) not in out
    assert "sphere × none" in out  # the run's outcome is still shown
    assert store.path.read_bytes() == before


# ---------------------------------------------------------------- arrays in artifact files

def test_arrays_move_to_an_artifact_file_and_load_back(tmp_path):
    rng = random.Random(0)
    codes = [[round(rng.gauss(0, 1), 6) for _ in range(64)] for _ in range(500)]
    spectrum = [rng.random() for _ in range(64)]
    layers = {"encoder.0": {"norm_mean": 1.5, "eccentricity": 2.0}, "decoder.0": {"norm_mean": 0.5}}
    scalars = {"test_mse": 0.0123456789012345, "knn_error": 0.25, "eccentricity": float("nan"),
               "cov_trace_per_d": float("inf"), "target": "codes", "converged": True, "steps": 7,
               "fcd": None}
    record = make_record("digits_ae", "eccentric", 0, {**scalars, "codes": codes,
                                                       "spectrum": spectrum, "layers": layers,
                                                       "figures": ["spectrum.png", "codes.pdf"]})
    figures = tmp_path / "figures" / record["id"]
    figures.mkdir(parents=True)
    (figures / "spectrum.png").write_bytes(b"\x89PNG fake image")
    (figures / "codes.pdf").write_bytes(b"%PDF fake")
    store = ResultsStore(tmp_path)
    store.append(record)

    line = store.path.read_bytes()
    assert len(line) < 8 * 1024
    on_disk = json.loads(line)
    numbers = {k for k, v in scalars.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert on_disk["metrics"].keys() == numbers  # the strings, flags and None are the run's info
    assert on_disk["info"] == {"target": "codes", "converged": True, "fcd": None}
    name = f"artifacts/{record['id']}.json"
    assert on_disk["artifacts"] == {
        name: digest(tmp_path / name),
        f"figures/{record['id']}/codes.pdf": digest(figures / "codes.pdf"),
        f"figures/{record['id']}/spectrum.png": digest(figures / "spectrum.png")}
    assert json.loads((tmp_path / name).read_text()) == {"codes": codes, "spectrum": spectrum,
                                                         "layers": layers}

    loaded, = store.load([1])
    metrics = loaded["metrics"]
    assert (metrics["codes"], metrics["spectrum"], metrics["layers"]) == (codes, spectrum, layers)
    assert metrics["test_mse"] == scalars["test_mse"] and math.isnan(metrics["eccentricity"])
    assert metrics["cov_trace_per_d"] == math.inf and loaded["info"]["converged"] is True
    assert "figures" not in metrics

    data = bytearray((tmp_path / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(RegbenchError, match=re.escape(f"{tmp_path / name}") + ".*does not match"):
        store.load([1])
    (tmp_path / name).unlink()
    with pytest.raises(RegbenchError, match=re.escape(f"{tmp_path / name}") + ".*missing"):
        store.load([1])


def test_a_record_of_scalars_has_no_artifact_file(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(sphere(1))
    assert json.loads(store.path.read_bytes())["artifacts"] == {}
    assert not (tmp_path / "artifacts").exists()
    assert store.load([1])[0]["metrics"] == {"norm_std": 0.1}


# ---------------------------------------------------------------- the index

def _append_in_child(directory, record):
    ResultsStore(directory).append(record)


def test_the_index_sees_appends_by_other_stores_and_processes(tmp_path):
    reader, writer = ResultsStore(tmp_path), ResultsStore(tmp_path)
    first, second, third = sphere(1), sphere(2), sphere(3)
    assert reader.find_ok(first["run_key"]) is None and reader.outcomes() == {}
    writer.append(first)
    assert reader.find_ok(first["run_key"])["id"] == first["id"]
    process = FORK.Process(target=_append_in_child, args=(tmp_path, second))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert reader.find_ok(second["run_key"])["id"] == second["id"]
    reader.append(third)
    assert writer.find_ok(third["run_key"])["id"] == third["id"]
    assert [r["id"] for r in writer.records()] == [first["id"], second["id"], third["id"]]
    assert (tmp_path / "records.index.sqlite").is_file()


def _answers(store):
    records = quiet_records(store)
    return ([r["id"] for r in records], store.outcomes(), store.counts(),
            {r["run_key"]: (store.find_ok(r["run_key"]) or {}).get("id") for r in records},
            sorted(store.index.metric_rows(range(1, len(records) + 2))))


def test_deleting_the_index_is_harmless(tmp_path):
    store = ResultsStore(tmp_path)
    for seed in range(5):
        store.append(sphere(seed, norm_mean=float(seed)))
    store.append({**sphere(9), "status": "failed", "error": "boom"})
    answers = _answers(store)
    for path in tmp_path.glob("records.index.sqlite*"):
        path.unlink()
    fresh = ResultsStore(tmp_path)
    assert _answers(fresh) == answers
    assert (tmp_path / "records.index.sqlite").is_file()
    assert _answers(store) == answers  # a store that had the deleted file open still answers
    late = sphere(7)
    fresh.append(late)
    assert store.find_ok(late["run_key"])["id"] == late["id"]


def _lines(records):
    return b"".join(json.dumps(r, sort_keys=True).encode() + b"\n" for r in records)


def _check_out(path, content):
    """Replace the file as ``git checkout`` does: a new file renamed over the old one."""
    temporary = path.with_name("records.jsonl.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


@pytest.mark.parametrize("change", ["fewer", "longer", "rewritten_middle", "same_length_middle"])
def test_a_replaced_records_file_is_indexed_again(tmp_path, change):
    store = ResultsStore(tmp_path)
    for seed in range(6):
        store.append(sphere(seed, norm_mean=0.25))
    assert len(quiet_records(store)) == 6
    old = [json.loads(line) for line in store.path.read_bytes().splitlines()]
    if change == "fewer":
        new = old[:3]
    elif change == "longer":
        new = [*old[:3], *(sphere(seed, norm_mean=0.5) for seed in range(10, 15))]
    elif change == "rewritten_middle":
        new = [*old[:2], sphere(20, norm_mean=0.5), *old[3:]]
    else:  # a value corrected by hand: same length, same first and last lines, same line count
        new = [*old[:2], {**old[2], "metrics": {**old[2]["metrics"], "norm_mean": 0.75}}, *old[3:]]
        assert len(_lines(new)) == store.path.stat().st_size
    new = json.loads(json.dumps(new))
    _check_out(store.path, _lines(new))
    for reader in (store, ResultsStore(tmp_path)):
        records = quiet_records(reader)
        assert [{k: v for k, v in r.items() if k != "artifacts"} for r in records] == \
            [{k: v for k, v in r.items() if k != "artifacts"} for r in new]
        assert set(reader.outcomes()) == {r["run_key"] for r in new}
        values = reader.index.metric_rows(range(1, len(new) + 1), ["norm_mean"])
        assert [v for _, _, v in sorted(values)] == [r["metrics"]["norm_mean"] for r in new]
        for record in old:
            if record["run_key"] not in {r["run_key"] for r in new}:
                assert reader.find_ok(record["run_key"]) is None


def test_a_store_whose_index_cannot_be_created_still_reads_and_writes(tmp_path):
    store = ResultsStore(tmp_path)
    records = [sphere(seed) for seed in range(3)]
    store.append(records[0])  # appending does not create the index; reading does
    assert not list(tmp_path.glob("records.index.sqlite*"))
    (tmp_path / "records.index.sqlite").mkdir()  # cannot be opened as a database, even by root
    blocked = ResultsStore(tmp_path)
    assert [r["id"] for r in quiet_records(blocked)] == [records[0]["id"]]
    blocked.append(records[1])
    other = ResultsStore(tmp_path)
    other.append(records[2])
    for reader in (blocked, other):
        assert [r["id"] for r in quiet_records(reader)] == [r["id"] for r in records]
        assert reader.find_ok(records[2]["run_key"])["id"] == records[2]["id"]


class ReadOnlySqlite(types.SimpleNamespace):
    """``sqlite3`` opening files read-only, as for an index owned by another user."""

    def __getattr__(self, name):
        return getattr(sqlite3, name)

    def connect(self, path, **kwargs):
        if path == ":memory:":
            return sqlite3.connect(path, **kwargs)
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, **kwargs)


def test_a_store_whose_index_file_is_read_only_still_reads(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    records = [sphere(seed) for seed in range(3)]
    store.append(records[0])
    assert quiet_records(store)  # the index file exists, with the first record
    store.append(records[1])
    monkeypatch.setattr(regbench.store._index, "sqlite3", ReadOnlySqlite())
    reader = ResultsStore(tmp_path)
    assert [r["id"] for r in quiet_records(reader)] == [r["id"] for r in records[:2]]
    reader.append(records[2])
    assert reader.find_ok(records[2]["run_key"])["id"] == records[2]["id"]
    assert len(reader.outcomes()) == 3


def indexed_store(directory) -> list[dict]:
    """Two records in a store at ``directory``, read once (so its index file exists)."""
    store = ResultsStore(directory)
    records = [sphere(seed) for seed in range(2)]
    for record in records:
        store.append(record)
    quiet_records(store)
    return records


def test_a_corrupt_index_file_is_built_anew(tmp_path):
    records = indexed_store(tmp_path)
    for path in tmp_path.glob("records.index.sqlite*"):
        path.unlink()
    (tmp_path / "records.index.sqlite").write_bytes(b"this is not a database" * 100)
    reader = ResultsStore(tmp_path)
    assert [r["id"] for r in quiet_records(reader)] == [r["id"] for r in records]
    assert reader.find_ok(records[1]["run_key"])["id"] == records[1]["id"]
    assert not reader.index.in_memory  # the damaged cache was replaced by a new index file
    assert b"this is not a database" not in (tmp_path / "records.index.sqlite").read_bytes()


def test_an_index_of_an_older_schema_is_built_anew_on_disk(tmp_path):
    import sqlite3
    records = indexed_store(tmp_path)
    with sqlite3.connect(tmp_path / "records.index.sqlite") as db:  # fewer columns, older schema
        db.executescript("DROP TABLE runs; CREATE TABLE runs(line INTEGER PRIMARY KEY, id TEXT);"
                         "UPDATE meta SET value = '1' WHERE key = 'schema';")
    reader = ResultsStore(tmp_path)
    assert [r["id"] for r in quiet_records(reader)] == [r["id"] for r in records]
    assert not reader.index.in_memory


@pytest.mark.parametrize("command", [
    CLI_RUN, CLI_RUN + ["--force"], ["grid", "--task", "sphere", "--reg", "none", "--set", "n=20"],
    ["leaderboard"], ["report"]], ids=["run", "run_force", "grid", "leaderboard", "report"])
def test_a_records_file_that_is_a_directory_is_one_line_and_creates_nothing(tmp_path, command,
                                                                           no_compute, capsys):
    (tmp_path / "records.jsonl").mkdir()
    assert main(["--results", str(tmp_path), *command]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"regbench: error: {tmp_path / 'records.jsonl'} is a directory, not the store's file of "
        f"records: move it out of the way"]
    assert [p.name for p in tmp_path.iterdir()] == ["records.jsonl"]
    assert not any((tmp_path / "records.jsonl").iterdir())


def test_a_line_that_only_python_reads_is_indexed_like_the_others(tmp_path):
    """SQLite's JSON reader indexes a line; one it cannot read (NaN is Python's JSON, not
    standard) is indexed by Python, with the same answers."""
    store = ResultsStore(tmp_path)
    store.append(sphere(0, norm_mean=0.5, energy_s1=float("nan")))
    store.append(sphere(1, norm_mean=0.5, energy_s1=2.0))
    assert sorted(store.index.metric_rows([1, 2], ["norm_mean", "energy_s1"])) == [
        (1, "norm_mean", 0.5), (2, "energy_s1", 2.0), (2, "norm_mean", 0.5)]
    (_, layout, first), (_, same_layout, second) = sorted(store.index.declared([1, 2]))
    names = [name for name, _ in json.loads(layout)]
    assert layout == same_layout and json.loads(first)[names.index("norm_std")] == 0.0
    assert json.loads(first)[names.index("energy_s1")] is None
    assert json.loads(second)[names.index("energy_s1")] == 2.0


def test_a_declared_metric_that_is_no_number_is_null_in_the_index(tmp_path):
    """The declared metrics are read all at once; a string, true or an object among them is null,
    as a missing one is, and the numbers stay as written."""
    store = ResultsStore(tmp_path)
    store.append(sphere(0, norm_mean_over_sqrt_d="n/a", energy_s1=True, loss_per_d={"a": 1},
                        min_angle_deg=1e-7))
    store.append(sphere(1, norm_std=0.1234567890123456789))
    (_, layout, first), (_, _, second) = sorted(store.index.declared([1, 2]))
    first, second = (dict(zip((name for name, _ in json.loads(layout)), json.loads(values)))
                     for values in (first, second))
    assert {name for name, value in first.items() if value is not None} == {"norm_std", "min_angle_deg"}
    assert first["min_angle_deg"] == 1e-7 and second["norm_std"] == 0.1234567890123456789
    assert second["energy_s1"] is None
