"""Grids through Ray Tune: a local instance, a loopback cluster, a killed driver, failing trials
and tuning mode. Everything stays on 127.0.0.1 with usage stats off."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from regbench.cli import main
from regbench.cluster import prepare_environment
from regbench.store import ResultsStore

pytestmark = pytest.mark.ray  # every test here starts Ray (a local instance or a loopback cluster)

SPHERE = ["--task", "sphere", "--reg", "none,eccentric", "--set", "n=20", "steps=5", "--seeds", "2"]
BAD_REGULARIZERS = """\
from regbench import CODES, Regularizer, register_regularizer


@register_regularizer("test_nan")
class Nan(Regularizer):
    targets = (CODES,)

    def forward(self, z):
        return z.sum() * float("nan")


@register_regularizer("test_raise")
class Raise(Regularizer):
    targets = (CODES,)

    def forward(self, z):
        raise RuntimeError("boom")
"""


@pytest.fixture(scope="module")
def cluster():
    """A real two-node Ray cluster on 127.0.0.1 (a head and one worker node, 1 CPU each).

    Ray's ``ray start`` rewrites a worker node's loopback address to the machine's external one,
    so the nodes are started with Ray's own multi-node test harness, which keeps them on loopback."""
    prepare_environment("127.0.0.1")
    from ray.cluster_utils import Cluster
    node = dict(num_cpus=1, node_ip_address="127.0.0.1", object_store_memory=100 * 2**20)
    cluster = Cluster(initialize_head=True, head_node_args=dict(include_dashboard=False, **node))
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


def records(store_dir) -> list[dict]:
    return list(ResultsStore(store_dir).records())


def test_tiny_grid_on_a_local_ray_instance_then_skips_what_is_recorded(store_dir, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv("RAY_DEFAULT_OBJECT_STORE_MEMORY_PROPORTION", "0.005")  # ~120 MB
    args = ["grid", "--task", "sphere,digits_ae", "--reg", "none,eccentric", "--set", "n=20",
            "steps=5", "epochs=1", "--quiet"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Grid inline: 4 ok" in result.stdout and "== Status ==" not in result.stdout
    assert len(records(store_dir)) == 4 and {r["status"] for r in records(store_dir)} == {"ok"}
    assert main(args) == 0  # nothing left to run: Ray is not even started
    assert "4 trials, 4 already recorded, 0 to run" in capsys.readouterr().out
    assert len(records(store_dir)) == 4


def test_same_grid_through_a_loopback_cluster(cluster, store_dir):
    result = run_cli("grid", *SPHERE, "--address", cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "== Status ==" in result.stdout and "4 TERMINATED" in result.stdout  # Tune's progress
    assert {r["status"] for r in records(store_dir)} == {"ok"} and len(records(store_dir)) == 4
    probe = ("import ray; ray.init(address='%s', _node_ip_address='127.0.0.1', logging_level='error');"
             "print(sorted(n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']))" % cluster)
    nodes = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert nodes.stdout.strip().splitlines()[-1] == "['127.0.0.1', '127.0.0.1']", nodes.stderr


def test_killed_driver_resumes_with_exactly_one_record_per_trial(cluster, store_dir, capsys):
    args = ["grid", "--task", "sphere", "--reg", "none,eccentric", "--set", "n=200", "steps=400",
            "--seeds", "3", "--address", cluster, "--quiet"]
    driver = subprocess.Popen([sys.executable, "-m", "regbench", *args], env=os.environ.copy(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not records(store_dir):
        assert driver.poll() is None and time.time() < deadline, "the grid ended before the kill"
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    done = len(records(store_dir))
    assert 1 <= done < 6
    assert main([*args, "--resume"]) == 0
    assert f"6 trials, {done} already recorded, {6 - done} to run" in capsys.readouterr().out
    hashes = [r["run_key"] for r in records(store_dir)]
    assert len(hashes) == len(set(hashes)) == 6
    assert {r["status"] for r in records(store_dir)} == {"ok"}


def test_raising_and_nan_trials_are_recorded_while_the_others_complete(cluster, store_dir, tmp_path,
                                                                       monkeypatch, capsys):
    (tmp_path / "bad_regularizers.py").write_text(BAD_REGULARIZERS)
    monkeypatch.chdir(tmp_path)
    args = ["grid", "--plugin", "bad_regularizers", "--task", "sphere", "--reg",
            "none,test_nan,test_raise", "--set", "n=20", "steps=5", "--address", cluster, "--quiet"]
    assert main(args) == 1
    by_reg = {r["reg"]: r for r in records(store_dir)}
    assert by_reg["none"]["status"] == "ok"
    assert by_reg["test_nan"]["status"] == "diverged" and "non-finite" in by_reg["test_nan"]["error"]
    assert by_reg["test_raise"]["status"] == "failed" and "boom" in by_reg["test_raise"]["error"]
    out = capsys.readouterr().out
    assert "1 diverged, 1 failed, 1 ok" in out and "--retry-failed" in out
    assert main([*args, "--retry-failed", "--dry-run"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].endswith("3 trials, 3 already recorded, 2 to run.")
    assert sorted(line.split()[3] for line in listing if "to run" in line[:9]) == [
        "test_nan", "test_raise"]


def test_tuning_mode_selects_on_validation_then_runs_the_selection_on_every_seed(cluster, store_dir):
    assert main(["grid", "--task", "digits_ae", "--reg", "none,eccentric", "--set", "epochs=2",
                 "lam=1e-4,1e-1", "--seeds", "2", "--tune", "random", "--samples", "2",
                 "--address", cluster, "--quiet"]) == 0
    search = json.loads(next(store_dir.glob("tuning/inline/*/search.json")).read_text())
    assert search["algorithm"] == "random" and search["samples"] == 2
    searched = list(store_dir.glob("tuning/inline/*/records.jsonl"))[0].read_text().splitlines()
    assert sorted(json.loads(line)["reg"] for line in searched) == [
        "eccentric", "eccentric", "none", "none"]  # the same budget for every regularizer
    assert search["space"]["digits_ae × eccentric"]["lam"] == ["1e-4", "1e-1"]
    selected = {s["reg"]: s for s in search["selected"]}
    assert set(selected) == {"none", "eccentric"} and selected["none"]["select"] == "val_mse"
    runs = records(store_dir)
    assert sorted((r["reg"], r["seed"]) for r in runs) == [
        ("eccentric", 0), ("eccentric", 1), ("none", 0), ("none", 1)]
    assert {r["reg_params"]["lam"] for r in runs if r["reg"] == "eccentric"} == {
        selected["eccentric"]["reg_params"]["lam"]}
