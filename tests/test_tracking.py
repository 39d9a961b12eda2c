"""``--track mlflow|wandb`` on ``run`` and ``grid``: the real libraries, their own stores (MLflow's
SQLite file, a W&B offline run directory) read back and compared with the records."""
import json
import struct
import sys
import time

import pytest

from conftest import run_cli
from regbench.cli import main
from regbench.store import ResultsStore, artifacts

mlflow = pytest.importorskip("mlflow")
wandb = pytest.importorskip("wandb")

RUN = ["run", "--task", "digits_ae", "--reg", "eccentric", "--set", "epochs=2", "gen_samples=200",
       "--quiet"]
NAN_PLUGIN = """\
from regbench import CODES, Regularizer, register_regularizer


@register_regularizer("test_nan")
class Nan(Regularizer):
    targets = (CODES,)

    def forward(self, z):
        return z.sum() * float("nan")
"""


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No W&B credentials and no W&B settings of the user's."""
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def mlflow_runs(store_dir):
    client = mlflow.tracking.MlflowClient(f"sqlite:///{store_dir.resolve() / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return client, {run.data.tags["run_key"]: run for run in runs}


def numbers(record) -> dict:
    return {k: v for k, v in record["metrics"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}


def recorded(store_dir) -> list[dict]:
    """The store's records with their curves (from their artifact files)."""
    found = list(ResultsStore(store_dir).records())
    for record in found:
        record["metrics"].update(artifacts.load(store_dir, record))
    return found


def figure_names(store_dir, record) -> list[str]:
    return sorted(p.name for p in (store_dir / "figures" / record["id"]).iterdir())


def check_mlflow_run(client, run, record, store_dir):
    """Params, final metrics, curve, tags and figures of one MLflow run equal its record."""
    expected = {"task": record["task"], "reg": record["reg"], "seed": str(record["seed"]),
                **{f"task.{k}": str(v) for k, v in record["task_params"].items()},
                **{f"reg.{k}": str(v) for k, v in record["reg_params"].items()}}
    assert run.data.params == expected
    assert {k: run.data.metrics[k] for k in numbers(record)} == pytest.approx(numbers(record))
    assert {k: run.data.tags[k] for k in ("config_key", "task", "reg", "seed", "status", "record_id")} \
        == {"config_key": record["config_key"], "task": record["task"], "reg": record["reg"],
            "seed": str(record["seed"]), "status": record["status"], "record_id": record["id"]}
    curve = record["metrics"]["curve"]
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert {m.step: m.value for m in history} == dict(zip(curve["step"], curve["train_loss"]))
    figures = sorted(f.path for f in client.list_artifacts(run.info.run_id, "figures"))
    assert figures and figures == [f"figures/{name}" for name in figure_names(store_dir, record)]
    assert run.info.status == ("FINISHED" if record["status"] == "ok" else "FAILED")


def wandb_offline_run(folder) -> dict:
    """The config, history rows and exit code in a W&B offline run's ``run-*.wandb`` file (a
    LevelDB-style log of 32 KiB blocks of protobuf records)."""
    from wandb.proto import wandb_internal_pb2
    raw = next(folder.glob("run-*.wandb")).read_bytes()
    found = {"config": {}, "history": [], "exit": None}
    pos, block, data = 7, 32768, b""
    while pos + 7 <= len(raw):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        data, pos = data + raw[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a full record, or the last part of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            data, what = b"", record.WhichOneof("record_type")
            if what == "run":
                found["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
            elif what == "config":
                found["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
            elif what == "history":
                found["history"].append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                         for i in record.history.item})
            elif what == "exit":
                found["exit"] = record.exit.exit_code
        elif kind == 0 and length == 0:
            break
    return found


def check_wandb_run(found, record, store_dir):
    config = {k: (v["value"] if isinstance(v, dict) and "value" in v else v)
              for k, v in found["config"].items()}
    assert {k: config[k] for k in ("run_key", "config_key", "task", "reg", "status")} == \
        {k: record[k] for k in ("run_key", "config_key", "task", "reg", "status")}
    epochs = [row for row in found["history"] if "epoch" in row]
    assert [row["train_loss"] for row in epochs] == pytest.approx(record["metrics"]["curve"]["train_loss"])
    last = found["history"][-1]
    assert {k: last[k] for k in numbers(record)} == pytest.approx(numbers(record))
    assert sum(k.endswith("/_type") for k in last) == len(figure_names(store_dir, record))


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


def test_a_run_in_mlflow_sqlite_beside_the_store_and_in_a_wandb_offline_run(store, capsys):
    assert main([*RUN, "--results", str(store), "--track", "mlflow", "--track", "wandb"]) == 0
    [record] = recorded(store)
    client, runs = mlflow_runs(store)
    assert list(runs) == [record["run_key"]]
    check_mlflow_run(client, runs[record["run_key"]], record, store)
    [folder] = (store / "wandb").glob("offline-run-*")
    found = wandb_offline_run(folder)
    check_wandb_run(found, record, store)
    assert found["exit"] == 0
    assert "--track" not in capsys.readouterr().err  # nothing went wrong


def test_a_diverged_run_is_tracked_with_its_status(store, tmp_path, monkeypatch):
    (tmp_path / "nan_plugin.py").write_text(NAN_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["--plugin", "nan_plugin", *RUN[:4], "test_nan", *RUN[5:], "--results", str(store)]
    assert main([*args, "--track", "mlflow", "--track", "wandb"]) == 1
    [record] = ResultsStore(store).records()
    assert record["status"] == "diverged"
    _, runs = mlflow_runs(store)
    run = runs[record["run_key"]]
    assert run.info.status == "FAILED" and run.data.tags["status"] == "diverged"
    assert "non-finite" in run.data.tags["error"] or "NaN" in run.data.tags["error"]
    [folder] = (store / "wandb").glob("offline-run-*")
    assert wandb_offline_run(folder)["exit"] == 1


def test_a_missing_or_failing_tracker_is_one_line_and_loses_no_run(store, monkeypatch, capsys):
    for name in [m for m in sys.modules if m.split(".")[0] == "mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "regbench.tracking._mlflow", raising=False)
    assert main([*RUN, "--results", str(store), "--track", "mlflow"]) == 0
    err = capsys.readouterr().err
    assert "--track mlflow: mlflow is not installed" in err and "regbench[track]" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.undo()
    assert main([*RUN, "--seed", "1", "--results", str(store), "--track", "mlflow=bogus://x"]) == 0
    assert "--track mlflow: could not start" in capsys.readouterr().err
    assert len(list(ResultsStore(store).records())) == 2


def test_a_tracker_failing_while_logging_loses_no_run(store, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise OSError("database is locked")
    monkeypatch.setattr("regbench.tracking._mlflow.Tracker.start", broken)
    assert main([*RUN, "--results", str(store), "--track", "mlflow"]) == 0
    err = capsys.readouterr().err
    assert "--track mlflow: failed while logging: OSError: database is locked" in err
    assert [r["status"] for r in ResultsStore(store).records()] == ["ok"]


def test_an_unknown_tracker_lists_the_available_ones(store, capsys):
    with pytest.raises(SystemExit):
        main([*RUN, "--results", str(store), "--track", "tensorboard"])
    err = capsys.readouterr().err
    assert "unknown tracker 'tensorboard'; available: mlflow[=MLflow tracking URI], wandb" in err
    assert not store.exists()


@pytest.mark.ray
def test_a_grid_through_tunes_mlflow_and_wandb_callbacks(store):
    result = run_cli("grid", "--task", "digits_ae", "--reg", "none,eccentric", "--set", "epochs=2",
                     "gen_samples=200", "--seeds", "2", "--results", str(store), "--quiet",
                     "--track", "mlflow", "--track", "wandb")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--track" not in result.stderr
    records = recorded(store)
    assert len(records) == 4
    client, runs = mlflow_runs(store)
    assert set(runs) == {r["run_key"] for r in records}
    folders = sorted((store / "wandb").glob("offline-run-*"))
    assert len(folders) == 4
    offline = {run["config"]["run_key"]: run
               for run in map(wandb_offline_run, folders)}
    for record in records:
        check_mlflow_run(client, runs[record["run_key"]], record, store)
        check_wandb_run(offline[record["run_key"]], record, store)


BREAK_TRACKERS = """\
import regbench.tracking._mlflow as mlflow_tracker
import regbench.tracking._wandb as wandb_tracker


def broken(*args, **kwargs):
    raise OSError("database is locked")


mlflow_tracker.Tracker.log = broken
wandb_tracker.Callback.queue = broken
"""


@pytest.mark.ray
def test_trackers_failing_inside_a_grid_stop_neither_the_grid_nor_its_end(store, tmp_path):
    (tmp_path / "break_trackers.py").write_text(BREAK_TRACKERS)
    started = time.monotonic()
    result = run_cli("--plugin", "break_trackers", "grid", "--task", "sphere", "--reg", "none,eccentric",
                     "--set", "n=20", "steps=5", "--seeds", "2", "--results", str(store), "--quiet",
                     "--track", "mlflow", "--track", "wandb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - started < 240  # every W&B logging actor was told to end
    for kind in ("mlflow", "wandb"):
        line = f"--track {kind}: failed while logging: OSError: database is locked"
        assert result.stderr.count(line) == 1, result.stderr[-3000:]
    assert [r["status"] for r in ResultsStore(store).records()] == ["ok"] * 4
