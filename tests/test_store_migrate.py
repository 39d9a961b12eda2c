"""``regbench store migrate|export|import``: the v1 layout converted, records moved between
stores."""
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import random
import time
import warnings
from uuid import uuid4

import pytest

from conftest import make_record
from regbench.cli import main
from regbench.errors import RegbenchError
from regbench.leaderboard import summary
from regbench.registry import REGULARIZERS, TASKS
from regbench.runner import execute, prepare
from regbench.store import RECORD_VERSION, ResultsStore, StoreWarning
from regbench.store.convert import BACKUP, export, import_records, migrate

V1_BACKUP = BACKUP.format(1)

FORK = multiprocessing.get_context("fork")


def digest(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def same(a, b):
    """Equal as JSON values, NaN equal to NaN and floats compared bit for bit."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def v1_record(directory, task, reg, seed, metrics, task_settings=None, reg_settings=None,
              figures=(), status="ok"):
    """A record as regbench wrote it before record version 2 (full hyperparameters, a hash of
    them, arrays inside ``metrics``, figure names in ``metrics["figures"]``; λ and target among
    the task's hyperparameters)."""
    task_settings = {"target": "auto", **({"lam": 1e-3} if task == "digits_ae" else {}),
                     **(task_settings or {})}
    moved = {k: v for k, v in task_settings.items() if k in ("lam", "target")}
    task_params = {**TASKS.get(task).resolve({k: v for k, v in task_settings.items() if k not in moved}),
                   **moved}
    reg_params = {k: v for k, v in REGULARIZERS.get(reg).resolve(reg_settings or {}).items()
                  if k not in ("lam", "target")}
    key = {"task": task, "reg": reg, "task_params": task_params, "reg_params": reg_params, "seed": seed}
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    record_id = uuid4().hex[:12]
    for name in figures:
        path = directory / "figures" / record_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"figure {name} of {record_id}".encode())
    return {"record_version": 1, "id": record_id,
            "config_hash": hashlib.sha256(canonical.encode()).hexdigest()[:16], **key,
            "metrics": {**metrics, **({"figures": list(figures)} if figures else {})},
            "data": {"digits": "md5:0"}, "artifacts": f"figures/{record_id}" if figures else None,
            "status": status, "error": None if status == "ok" else "non-finite loss nan at step 3",
            "traceback": None, "started_at": f"2024-05-0{seed + 1}T10:00:00+00:00",
            "wall_time_s": 12.5, "versions": {"python": "3.11.7", "torch": "2.3.0",
                                               "regbench": "0.1.0", "git_commit": "abc"},
            "device": "cpu (x86_64, 8 threads)", "host": "vm"}


def digits_metrics(rng):
    codes = lambda: [[round(rng.gauss(0, 1), 4) for _ in range(8)] for _ in range(30)]
    return {"test_mse": rng.random() / 3, "val_mse": 0.1 + 0.2, "cov_trace_per_d": rng.random(),
            "eccentricity": 1 / 3, "knn_error": rng.random(), "target": "codes",
            "alignment_codes": {"train": codes(), "test": codes()},
            "spectrum": [rng.random() for _ in range(8)],
            "layers": {"encoder.0": {"norm_mean": rng.random(), "cov_trace": 2.5}}}


def write_v1_store(directory, damaged=b""):
    """A v1 store: digits_ae × (none at two λ, eccentric) × seeds 0, 1, with figures; one
    diverged sphere run. Returns the records in file order; ``damaged`` goes after the third
    line."""
    rng = random.Random(1)
    records = []
    for seed in (0, 1):
        records.append(v1_record(directory, "digits_ae", "none", seed, digits_metrics(rng),
                                 figures=["spectrum.png", "codes.pdf"]))
        records.append(v1_record(directory, "digits_ae", "none", seed, digits_metrics(rng),
                                 task_settings={"lam": 0.01}))
        records.append(v1_record(directory, "digits_ae", "eccentric", seed, digits_metrics(rng),
                                 task_settings={"lam": 0.01}, reg_settings={"mu": 1.5},
                                 figures=["spectrum.png"]))
    records.append(v1_record(directory, "sphere", "none", 0, {"norm_std": math.nan,
                                                               "loss_per_d": 0.5},
                             task_settings={"n": 20}, status="diverged"))
    lines = [json.dumps(r, sort_keys=True).encode() + b"\n" for r in records]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "records.jsonl").write_bytes(b"".join(lines[:3]) + damaged + b"".join(lines[3:]))
    return records


def check_upgraded(store, originals):
    """Every original v1 record reads in the current layout, with identical values."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = {r["id"]: r for r in store.records()}
        lines = dict(store.index.query("SELECT id, line FROM runs"))
    assert set(records) >= {r["id"] for r in originals}
    for old in originals:
        new = records[old["id"]]
        assert new["record_version"] == RECORD_VERSION and "config_hash" not in new
        moved = {k: v for k, v in old["task_params"].items() if k in ("lam", "target")}
        settings = {f"task.{k}": v for k, v in old["task_params"].items() if k not in moved}
        settings.update({f"reg.{k}": v for k, v in old["reg_params"].items()})
        declared = REGULARIZERS.get(old["reg"]).params()  # λ and target are the regularizer's now
        settings.update({f"reg.{k}": v for k, v in moved.items() if k in declared})
        config = prepare(old["task"], old["reg"], settings, old["seed"], check_data=False)
        assert (new["run_key"], new["config_key"]) == (config.run_key, config.config_key)
        assert (new["task_params"], new["reg_params"]) == (config.task_params, config.reg_params)
        for key in ("task", "reg", "seed", "status", "error", "data",
                    "started_at", "wall_time_s", "versions", "device", "host"):
            assert same(new[key], old[key]), key
        scalars = {k: v for k, v in old["metrics"].items() if isinstance(v, (int, float))}
        strings = {k: v for k, v in old["metrics"].items() if isinstance(v, str)}
        assert same(new["metrics"], scalars) and same(new["info"], strings)  # strings: the run's info
        for name, value in scalars.items():  # float64 equality, NaN included
            found = new["metrics"][name]
            assert found == value or (math.isnan(value) and math.isnan(found))
        loaded, = store.load([lines[old["id"]]])
        arrays = {k: v for k, v in old["metrics"].items()
                  if isinstance(v, (list, dict)) and k != "figures"}
        assert same(loaded["metrics"], {**scalars, **arrays})
        figures = {f"figures/{old['id']}/{name}" for name in old["metrics"].get("figures", [])}
        listed = set(new["artifacts"])
        assert listed == figures | ({f"artifacts/{old['id']}.json"} if arrays else set())
        for name in listed:
            assert new["artifacts"][name] == digest(store.directory / name)
    return records


def test_migrate_converts_a_v1_store(tmp_path, capsys):
    originals = write_v1_store(tmp_path)
    later = make_record("sphere", "none", 4, {"norm_std": 0.25}, n=20)  # appended before migrating
    ResultsStore(tmp_path).append(later)
    original_bytes = (tmp_path / "records.jsonl").read_bytes()
    with warnings.catch_warnings(record=True) as caught:  # before migrating: one warning in all
        warnings.simplefilter("always")
        assert ResultsStore(tmp_path).outcomes() == {later["run_key"]: ("ok", None)}
    assert len(originals) == 7 and [str(w.message) for w in caught] == [
        f"{tmp_path / 'records.jsonl'}:1, 2, 3, 4, 5 and 2 more lines: skipped: a record of the v1 "
        f"layout: convert the store with `regbench store migrate`"]

    assert main(["--results", str(tmp_path), "store", "migrate"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "Migrated 8 records" in out and V1_BACKUP in out
    assert (tmp_path / V1_BACKUP).read_bytes() == original_bytes
    store = ResultsStore(tmp_path)
    records = check_upgraded(store, originals)
    assert same(records[later["id"]], json.loads(original_bytes.splitlines()[-1]))

    none = [r for r in originals if r["reg"] == "none" and r["task"] == "digits_ae"]
    for seed in (0, 1):  # none ignores λ: its two λ of one seed are one run
        assert len({records[r["id"]]["run_key"] for r in none if r["seed"] == seed}) == 1
    outcomes = store.outcomes()
    assert len(outcomes) == 2 + 2 + 1 + 1
    assert outcomes[records[originals[-1]["id"]]["run_key"]] == ("diverged", originals[-1]["error"])
    table = summary(store)[0]
    rows = table[(table.task == "digits_ae") & (table.metric == "test_mse")]
    assert sorted(zip(rows.reg, rows.config, rows.n)) == [("eccentric", "lam=0.01, mu=1.5", 2),
                                                          ("none", "defaults", 2)]
    aligned = table[(table.metric == "angle_aligned_deg") & (table.reg == "eccentric")]
    assert aligned.n.tolist() == [2]  # the cross-run metric read the codes back from artifacts

    assert main(["--results", str(tmp_path), "store", "migrate"]) == 0  # only once
    assert "Nothing to migrate" in capsys.readouterr().out
    assert (tmp_path / V1_BACKUP).read_bytes() == original_bytes
    check_upgraded(ResultsStore(tmp_path), originals)


def test_migrate_names_a_damaged_line_and_keeps_it_in_the_backup(tmp_path):
    damage = b'{"config_hash": "0123", "metrics": {"test_m\n'
    originals = write_v1_store(tmp_path, damaged=damage)
    original_bytes = (tmp_path / "records.jsonl").read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert migrate(ResultsStore(tmp_path))[0] == len(originals)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert messages[0].startswith(f"{tmp_path / 'records.jsonl'}:4: skipped: ")
    assert "not valid JSON" in messages[0]
    backup = (tmp_path / V1_BACKUP).read_bytes()
    assert backup == original_bytes and damage in backup.splitlines(keepends=True)
    check_upgraded(ResultsStore(tmp_path), originals)


def test_migrate_of_an_unknown_task_changes_nothing(tmp_path):
    write_v1_store(tmp_path)
    stray = {**json.loads((tmp_path / "records.jsonl").read_bytes().splitlines()[0]),
             "task": "not_installed", "id": "feedfeedfeed"}
    with open(tmp_path / "records.jsonl", "ab") as f:
        f.write(json.dumps(stray).encode() + b"\n")
    before = (tmp_path / "records.jsonl").read_bytes()
    with pytest.raises(RegbenchError, match="cannot migrate record feedfeedfeed"):
        migrate(ResultsStore(tmp_path))
    assert (tmp_path / "records.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "figures", "records.jsonl"]


def waiting_for_a_lock(pid, timeout=20):
    """Whether process ``pid`` comes to wait for a file lock (Linux: ``/proc/locks``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/locks") as f:
            if any(line.split()[1] == "->" and str(pid) in line.split() for line in f):
                return True
        time.sleep(0.01)
    return False


def _append_after(directory, record, go):
    go.wait()
    ResultsStore(directory).append(record)


def test_an_append_waiting_while_the_file_is_migrated_goes_to_the_new_file(tmp_path):
    originals = write_v1_store(tmp_path)
    record = make_record("sphere", "none", 7, {"norm_std": 0.5}, n=20)
    go = FORK.Event()
    writer = FORK.Process(target=_append_after, args=(tmp_path, record, go))
    writer.start()  # before the lock is taken: a forked child would share it
    with open(tmp_path / "records.jsonl", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as migrate does while it converts
        go.set()
        assert waiting_for_a_lock(writer.pid)  # on the file about to be replaced
        os.rename(tmp_path / "records.jsonl", tmp_path / V1_BACKUP)
        (tmp_path / "records.jsonl").write_bytes(b"")
    writer.join(30)
    if writer.exitcode is None:
        writer.kill()
    assert writer.exitcode == 0
    assert len((tmp_path / V1_BACKUP).read_bytes().splitlines()) == len(originals)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["id"] for r in ResultsStore(tmp_path).records()] == [record["id"]]


# ---------------------------------------------------------------- export / import

def current_store(directory):
    """A store of the current layout: arrays, figures, a failed run, a damaged line."""
    store = ResultsStore(directory)
    rng = random.Random(2)
    records = []
    for seed in (1, 0):
        record = make_record("digits_ae", "eccentric", seed, digits_metrics(rng), mu=1.5)
        (directory / "figures" / record["id"]).mkdir(parents=True)
        (directory / "figures" / record["id"] / "spectrum.png").write_bytes(os.urandom(64))
        records.append(record)
    records.append(make_record("digits_ae", "none", 0, {"test_mse": 0.5, "knn_error": math.inf}))
    records.append(make_record("sphere", "none", 0, {}, status="failed", n=20))
    for record in records:
        store.append(record)
    with open(store.path, "ab") as f:
        f.write(b"\x00" * 20 + b"\n")
    return store, records


def test_export_and_import_move_records_with_their_files(tmp_path, capsys):
    store, records = current_store(tmp_path / "store")
    out = tmp_path / "shared" / "all.jsonl"
    out.parent.mkdir()
    assert main(["--results", str(store.directory), "store", "export", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"Exported {len(records)} records" in captured.out
    assert captured.err.splitlines() == [f"regbench: warning: {store.path}:5: skipped: a run of "
                                         "NUL bytes (left by a crash)"]
    exported = [json.loads(line) for line in out.read_bytes().splitlines()]
    order = lambda r: (r["task"], r["reg"], r["config_key"], r["seed"], r["started_at"], r["id"])
    assert exported == sorted(exported, key=order) and len(exported) == len(records)
    files = {name for r in exported for name in r["artifacts"]}
    assert len(files) == 4  # eccentric's two artifact files and two figures (none has no arrays)
    for name in files:
        assert (out.parent / name).read_bytes() == (store.directory / name).read_bytes()

    target = ResultsStore(tmp_path / "new")
    assert import_records(target, out) == (len(records), 0, 0)
    with pytest.warns(StoreWarning, match=":5: skipped: a run of NUL bytes"):
        originals = {r["id"]: r for r in store.records()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imported = {r["id"]: r for r in target.records()}
    assert imported.keys() == originals.keys()
    for record_id, record in imported.items():
        assert same(record, originals[record_id])
        for name, sha in record["artifacts"].items():
            assert digest(target.directory / name) == sha == originals[record_id]["artifacts"][name]
    lines = [line for line, in target.index.query("SELECT line FROM runs ORDER BY line")]
    loaded = {r["id"]: r["metrics"] for r in target.load(lines)}
    for record in records:
        assert same(loaded[record["id"]], record["metrics"])

    assert main(["--results", str(target.directory), "store", "import", str(out)]) == 0
    captured = capsys.readouterr()
    assert f": 0 new records, {len(records)} already present, 0 runs now with more " in captured.out
    assert len(list(target.records())) == len(records)
    assert import_records(store, out) == (0, len(records), 0)


def test_import_refuses_an_artifact_that_does_not_match(tmp_path):
    store, records = current_store(tmp_path / "store")
    out = tmp_path / "shared" / "all.jsonl"
    out.parent.mkdir()
    with pytest.warns(StoreWarning):
        export(store, out)
    first = json.loads(out.read_bytes().splitlines()[0])
    name = next(n for n in first["artifacts"] if n.startswith("artifacts/"))
    (out.parent / name).write_bytes(b"{}")
    target = ResultsStore(tmp_path / "new")
    with pytest.raises(RegbenchError, match=f"all.jsonl:1: artifact .*{name} is missing or .*; "
                                            f"nothing was imported"):
        import_records(target, out)
    assert not target.path.exists()


def test_importing_a_v1_file_upgrades_its_records(tmp_path):
    originals = write_v1_store(tmp_path / "old")
    target = ResultsStore(tmp_path / "new")
    # none at two λ is one run per seed since layout 3 (none has no λ): two runs of two records
    assert import_records(target, tmp_path / "old" / "records.jsonl") == (len(originals), 0, 2)
    check_upgraded(target, originals)
    assert import_records(target, tmp_path / "old") == (0, len(originals), 0)


def test_migrate_leaves_a_current_store_alone(tmp_path, capsys):
    store = ResultsStore(tmp_path)
    store.append(make_record("sphere", "none", 0, {"norm_std": 0.1}, n=20))
    before = store.path.read_bytes()
    assert main(["--results", str(tmp_path), "store", "migrate"]) == 0
    assert "Nothing to migrate" in capsys.readouterr().out
    assert store.path.read_bytes() == before and not (tmp_path / V1_BACKUP).exists()


def test_export_to_a_place_it_cannot_write_is_one_line(tmp_path, capsys):
    ResultsStore(tmp_path).append(make_record("sphere", "none", 0, {"norm_std": 0.1}, n=20))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--results", str(tmp_path), "store", "export", str(blocker / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("regbench: error: cannot write") and err.count("\n") == 1


def as_v2(record: dict) -> dict:
    """A current record as the v2 layout wrote it: λ and target among the task's hyperparameters."""
    reg_params = dict(record["reg_params"])
    moved = {"lam": reg_params.pop("lam", 1e-3), "target": reg_params.pop("target", "auto")}
    return {**record, "record_version": 2, "task_params": {**record["task_params"], **moved},
            "reg_params": reg_params, "run_key": "old-" + record["run_key"],
            "config_key": "old-" + record["config_key"]}


def test_migrate_moves_lambda_and_target_of_v2_records_to_the_regularizer(tmp_path, capsys):
    runs = [execute(prepare("digits_ae", reg, settings, seed=0)) for reg, settings in (
        ("none", {"epochs": 1}), ("eccentric", {"epochs": 1, "lam": 0.01}),
        ("mhe", {"epochs": 1, "target": "codes"}))]
    store = ResultsStore(tmp_path)
    for record in runs:
        store.append(as_v2(record))
    with pytest.warns(StoreWarning, match="a record of the v2 layout"):
        assert list(ResultsStore(tmp_path).records()) == []
    assert main(["--results", str(tmp_path), "store", "migrate"]) == 0
    assert "Migrated 3 records" in capsys.readouterr().out and (tmp_path / "records.v2.jsonl").exists()
    migrated = {r["reg"]: r for r in ResultsStore(tmp_path).records()}
    for record in runs:
        new = migrated[record["reg"]]
        for key in ("run_key", "config_key", "none_key", "task_params", "reg_params", "params"):
            assert same(new[key], record[key]), (record["reg"], key)
        assert same(new["metrics"], {k: v for k, v in record["metrics"].items()
                                     if not isinstance(v, (list, dict))})
    assert migrated["eccentric"]["reg_params"]["lam"] == 0.01 and "lam" not in migrated["none"]["reg_params"]


def as_v3(record: dict) -> dict:
    """``record`` as layout 3 wrote it: strings among the metrics, and the task's switches
    (channels_last, figures, …) that differ from their default in its identity and keys."""
    from regbench.record import keys
    switches = {k: v for k, v in record["task_params"].items()
                if k in ("channels_last", "figures", "layer_geometry") and v != TASKS.get(record["task"]).params()[k].default}
    identity = {k: record[k] for k in ("task", "task_version", "reg", "reg_version")}
    identity["params"] = {"task": {**record["params"]["task"], **switches}, "reg": record["params"]["reg"]}
    run_key, config_key = keys(identity, record["seed"])
    none = {**identity, "reg": "none", "reg_version": 1, "params": {"task": identity["params"]["task"], "reg": {}}}
    v3 = {**record, "record_version": 3, "params": identity["params"], "run_key": run_key,
          "config_key": config_key, "none_key": keys(none, 0)[1],
          "metrics": {**record["metrics"], **record["info"]}}
    del v3["info"]
    return v3


def test_migrate_v3_takes_the_switches_out_of_identity_and_the_strings_out_of_metrics(tmp_path):
    plain = make_record("digits_ae", "eccentric", 0, {"test_mse": 0.5, "target": "codes"})
    switched = make_record("digits_ae", "eccentric", 1, {"test_mse": 0.4, "target": "codes"},
                           channels_last=True, figures=False)
    old = [as_v3(plain), as_v3(switched)]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert old[0]["run_key"] == plain["run_key"] and old[1]["run_key"] != switched["run_key"]
    assert main(["--results", str(tmp_path), "store", "migrate"]) == 0
    migrated = {r["seed"]: r for r in ResultsStore(tmp_path).records()}
    for seed, fresh in ((0, plain), (1, switched)):
        new = migrated[seed]
        for key in ("run_key", "config_key", "none_key", "params", "task_params"):
            assert same(new[key], fresh[key]), (seed, key)
        assert new["info"] == {"target": "codes"} and "target" not in new["metrics"]
    assert migrated[1]["config_key"] == migrated[0]["config_key"]  # one leaderboard row


def test_migrate_refuses_a_store_holding_a_record_of_a_newer_layout(tmp_path):
    newer = {**make_record("sphere", "none", 0, {"norm_std": 0.1}, n=20),
             "record_version": RECORD_VERSION + 1}
    write_v1_store(tmp_path, damaged=json.dumps(newer).encode() + b"\n")
    before = (tmp_path / "records.jsonl").read_bytes()
    with pytest.raises(RegbenchError, match=rf"records.jsonl:4: written by a newer regbench \(record "
                                            rf"version {RECORD_VERSION + 1}.*; nothing was done$"):
        migrate(ResultsStore(tmp_path))
    assert (tmp_path / "records.jsonl").read_bytes() == before
    assert not (tmp_path / V1_BACKUP).exists()
