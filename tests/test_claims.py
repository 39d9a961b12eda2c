"""A run computed once however many processes start it: claims held by live processes, skipped
runs said in one line, no claim left by a killed process. Processes a test starts are ended by
it, by their ids."""
import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
import types

import pytest

from conftest import make_record
from regbench.cli import main
from regbench.runner import prepare
from regbench.store import ResultsStore
from regbench.store.claims import Claims

GATE = textwrap.dedent('''\
    import os
    import pathlib
    import time

    from regbench import CODES, Regularizer, register_regularizer


    @register_regularizer("test_gate")
    class Gate(Regularizer):
        """Says it computes (a file named by its pid), then waits for the file "go"."""
        targets = (CODES,)

        def forward(self, z):
            gate = pathlib.Path(os.environ["GATE_DIR"])
            (gate / f"computing.{os.getpid()}").touch()
            deadline = time.time() + 300
            while not (gate / "go").exists() and time.time() < deadline:
                time.sleep(0.05)
            return z.sum() * 0
    ''')
RUN = ["run", "--task", "sphere", "--reg", "test_gate", "--set", "n=20", "steps=2", "--quiet",
       "--plugin", "gate"]


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """The gated regularizer's module in the working directory of the processes started."""
    (tmp_path / "gate.py").write_text(GATE)
    monkeypatch.setenv("GATE_DIR", str(tmp_path))
    return tmp_path


def start(args, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "regbench", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={"OMP_NUM_THREADS": "1", **os.environ})


def computing(gate) -> list[int]:
    return [int(path.suffix[1:]) for path in gate.glob("computing.*")]


def wait_until(condition, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def finish(processes: list[subprocess.Popen]) -> list[str]:
    """Each process's output once it ends (killed, by id, if it has not within 4 minutes)."""
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=240)[0])
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


@pytest.mark.parametrize("paths", ["one path", "a second path to the same directory"])
def test_runs_of_one_configuration_started_together_compute_once(gate, store_dir, paths):
    store_dir.mkdir()
    (gate / "link").symlink_to(store_dir)
    where = [store_dir, gate / "link" if paths != "one path" else store_dir]
    processes = [start([*RUN, "--results", str(where[i % 2])], cwd=gate) for i in range(4)]
    try:
        # each either computes (and waits at the gate) or has ended
        wait_until(lambda: len(computing(gate)) + sum(p.poll() is not None for p in processes) >= 4)
        (gate / "go").touch()
    finally:
        outputs = finish(processes)
    assert [p.returncode for p in processes] == [0] * 4, outputs
    (computer,) = computing(gate)
    assert len(list(ResultsStore(store_dir).records())) == 1
    skipped = [out for out in outputs if "not run here" in out]
    assert len(skipped) == 3
    holder = f"pid {computer} on host {socket.gethostname()} since "
    for out in skipped:
        line = out.strip().splitlines()[-1]
        assert line.startswith("Run ") and " is computed by another process (" + holder in line
        assert line.endswith("); not run here.")
    assert not list((store_dir / "claims").iterdir())  # let go once recorded


def test_a_killed_process_leaves_no_claim(gate, store_dir):
    first = start(RUN, cwd=gate)
    try:
        wait_until(lambda: computing(gate) or first.poll() is not None)
        assert computing(gate) == [first.pid]
        second = start(RUN, cwd=gate)
        (out,) = finish([second])
        assert f"computed by another process (pid {first.pid} on host" in out and second.returncode == 0
        first.kill()
        first.wait()
    finally:
        finish([first])
    assert list(ResultsStore(store_dir).records()) == []  # killed before recording
    (gate / "go").touch()
    third = start(RUN, cwd=gate)
    (out,) = finish([third])
    assert third.returncode == 0 and "not run here" not in out, out
    (record,) = ResultsStore(store_dir).records()
    assert record["status"] == "ok"


GRID = ["grid", "--task", "sphere", "--reg", "none", "--set", "n=20", "steps=2", "--seeds", "2"]


def grid_keys() -> list[str]:
    return [prepare("sphere", "none", {"n": 20, "steps": 2}, seed).run_key for seed in (0, 1)]


def test_a_grid_runs_nothing_that_another_process_computes(store_dir, no_compute, capsys):
    with Claims(store_dir) as claims:  # another open file, so another holder, as another process
        assert [claims.take(key) for key in grid_keys()] == [None, None]
        assert main(GRID) == 0
    out = capsys.readouterr().out
    holder = f"pid {os.getpid()} on host {socket.gethostname()} since "
    assert f"  2 trials computed by another process ({holder}" in out
    assert "); not run here (if it stops before recording them, --resume runs them)" in out
    assert "Grid inline: 2 computed by another process; records in" in out
    assert not (store_dir / "records.jsonl").exists()


def test_a_grid_runs_the_trials_no_other_process_computes(store_dir, monkeypatch, capsys):
    scheduled = []
    monkeypatch.setattr("regbench.cluster.ray_session", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setitem(sys.modules, "regbench.scheduler", types.SimpleNamespace(
        run_grid=lambda configs, **options: scheduled.extend(c.run_key for c in configs)))
    first, second = grid_keys()
    with Claims(store_dir) as claims:
        claims.take(first)
        assert main(GRID) == 1  # the trial it ran is not recorded (the scheduler is a stand-in)
    assert scheduled == [second]
    assert "Grid inline: 1 computed by another process, 1 not run" in capsys.readouterr().out


def test_a_run_recorded_while_its_claim_was_taken_is_not_run_again(store_dir, no_compute,
                                                                    monkeypatch, capsys):
    """The other process records the run and lets go just before this one claims it."""
    take = Claims.take

    def recorded_first(self, run_key):
        record = make_record("sphere", "none", 0, {"norm_std": 0.1}, n=20, steps=2)
        if record["run_key"] == run_key:
            ResultsStore(store_dir).append(record)
        return take(self, run_key)
    monkeypatch.setattr(Claims, "take", recorded_first)
    assert main([*GRID[:-1], "1"]) == 0  # seed 0 only: recorded, so neither Ray nor a run starts
    assert "Grid inline: 1 ok; records in" in capsys.readouterr().out
