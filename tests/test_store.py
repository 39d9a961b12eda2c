import json
import multiprocessing

import pytest

from regbench.store import ResultsStore


def _append_many(directory, worker, count):
    store = ResultsStore(directory)
    for i in range(count):
        store.append({"config_hash": f"{worker}-{i}", "status": "ok", "payload": "x" * 5000})


def test_concurrent_appends_never_interleave(tmp_path):
    workers = [multiprocessing.Process(target=_append_many, args=(tmp_path, w, 40)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    lines = (tmp_path / "records.jsonl").read_bytes().splitlines()
    assert len(lines) == 160
    hashes = {json.loads(line)["config_hash"] for line in lines}
    assert len(hashes) == 160


def test_partial_last_line_is_skipped_and_sealed(tmp_path):
    store = ResultsStore(tmp_path)
    store.append({"config_hash": "a", "status": "ok"})
    with open(store.path, "ab") as f:  # a writer killed half-way through a record
        f.write(b'{"config_hash": "b", "sta')
    with pytest.warns(UserWarning, match="incomplete record"):
        assert [r["config_hash"] for r in store.records()] == ["a"]
    store.append({"config_hash": "c", "status": "ok"})
    with pytest.warns(UserWarning):
        assert [r["config_hash"] for r in store.records()] == ["a", "c"]


def test_find_ok_ignores_failed_records(tmp_path):
    store = ResultsStore(tmp_path)
    store.append({"config_hash": "h", "status": "failed", "id": 1})
    assert store.find_ok("h") is None
    store.append({"config_hash": "h", "status": "ok", "id": 2})
    assert store.find_ok("h")["id"] == 2
