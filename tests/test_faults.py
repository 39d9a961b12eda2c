"""Faults a long grid meets: a killed driver, Ctrl-C and SIGTERM (to the driver or its process
group), a worker that dies, --quiet, keys given twice, code in weight files, modules in the working
directory, a store that cannot be written. Processes a test starts are ended by it, by their own
ids."""
import contextlib
import errno
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import psutil
import pytest

from conftest import FullDisk
import torch

import regbench.store
from regbench import watchdog
from regbench.cli import main
from regbench.datasets.files import load_tensors
from regbench.errors import RegbenchError
from regbench.registry import load_plugin
from regbench.store import ResultsStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LONG_GRID = ["grid", "--task", "sphere", "--reg", "none,eccentric", "--set", "n=50",
             "steps=1000000", "--seeds", "2"]
KILLER = textwrap.dedent('''\
    import os
    import signal

    from regbench import CODES, Regularizer, register_regularizer


    @register_regularizer("test_killer")
    class Killer(Regularizer):
        """Kills the process it runs in."""
        targets = (CODES,)

        def forward(self, z):
            os.kill(os.getpid(), signal.SIGKILL)
    ''')
SHADOW = textwrap.dedent('''\
    import pathlib
    pathlib.Path(__file__).with_name("imported").touch()
    raise ImportError("the working directory's matplotlib.py was imported")
    ''')


def start(args, cwd=None) -> subprocess.Popen:
    """``regbench ARGS`` in a session of its own: a signal to its process group reaches nothing of
    the test's."""
    return subprocess.Popen([sys.executable, "-m", "regbench", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            env={"OMP_NUM_THREADS": "1", **os.environ})


def first_worker(driver: subprocess.Popen, timeout: float = 180) -> list[psutil.Process]:
    """The driver's descendants as soon as a Ray worker (``ray::IDLE``) is among them."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert driver.poll() is None, driver.stdout.read()
        found = psutil.Process(driver.pid).children(recursive=True)
        if any(name_of(p) == "ray::IDLE" for p in found):
            return found
        time.sleep(0.05)
    raise AssertionError("no Ray worker started")


def name_of(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return ""


def group(pgid: int) -> list[int]:
    """The pids of the live processes of process group ``pgid``: those a signal to it reaches."""
    pids = []
    for pid in psutil.pids():
        with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                pids.append(pid)
    return pids


def instance_processes(driver_pid: int) -> list[psutil.Process]:
    """Every live process of the Ray instance that ``driver_pid`` started, whoever its parent:
    those whose command line or open files name the instance's session directory
    (``session_<date>_<driver pid>``)."""
    session = re.compile(rf"/session_[\d_-]+_{driver_pid}/")
    found = []
    for process in psutil.process_iter():
        try:
            paths = [*process.cmdline(), *(f.path for f in process.open_files())]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(session.search(path + "/") for path in paths):
            found.append(process)
    return found


def running_trials(driver: subprocess.Popen, timeout: float = 180) -> list[psutil.Process]:
    """The driver's descendants once a trial trains (a Tune trial actor exists); fails on timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert driver.poll() is None, driver.stdout.read()
        found = psutil.Process(driver.pid).children(recursive=True)
        if any("ImplicitFunc" in name_of(p) for p in found):
            return found
        time.sleep(0.5)
    raise AssertionError("no trial started")


def survivors(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """Those of ``processes`` still alive (not zombies) after up to ``within`` seconds."""
    deadline = time.time() + within
    while True:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.25)


@contextlib.contextmanager
def running_grid():
    """A long grid in a subprocess once a trial trains: (driver, the processes it started so far);
    whatever is left running after the block is ended, by id."""
    driver, processes = start([*LONG_GRID, "--quiet"]), []
    try:
        processes = running_trials(driver)
        yield driver, processes
    finally:
        end(driver, processes)


def end(driver: subprocess.Popen, processes: list[psutil.Process]) -> None:
    """Whatever the test left running, by id."""
    for process in [*processes, psutil.Process(driver.pid)] if driver.poll() is None else processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    driver.wait()


@pytest.mark.ray
def test_a_killed_driver_leaves_no_ray_process_behind(store_dir):
    with running_grid() as (driver, processes):
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        left = survivors(processes, within=15)
        assert not left, [p.name() for p in left]


@pytest.mark.ray
def test_a_driver_killed_as_ray_starts_leaves_no_ray_process_behind(store_dir):
    driver, processes = start([*LONG_GRID, "--quiet"]), []
    try:
        processes = first_worker(driver)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        processes += instance_processes(driver.pid)  # those the snapshot missed, if any
        left = survivors(processes, within=15)
        assert not left, [name_of(p) for p in left]
        assert not instance_processes(driver.pid)
        assert not glob.glob(f"{tempfile.gettempdir()}/regbench-ray-*/session_*_{driver.pid}")
    finally:
        end(driver, processes + instance_processes(driver.pid))


@pytest.mark.ray
@pytest.mark.parametrize("signum, to", [(signal.SIGINT, "driver"), (signal.SIGTERM, "driver"),
                                        (signal.SIGTERM, "process group")])
def test_first_interrupt_stops_the_grid_in_order_and_says_how_to_go_on(store_dir, signum, to):
    with running_grid() as (driver, processes):
        if to == "driver":
            driver.send_signal(signum)
        else:  # what `timeout`, a container stop or a batch scheduler sends
            assert group(driver.pid) == [driver.pid]  # Ray's servers cannot die under the driver
            os.killpg(driver.pid, signum)
        out, _ = driver.communicate(timeout=120)
        assert driver.returncode == 130, out
        assert "Interrupted: 0 of 4 trials of grid inline recorded, none half-way." in out
        assert "To go on: regbench grid --task sphere --reg none,eccentric" in out
        assert not survivors(processes, within=15)
        assert not instance_processes(driver.pid)
        assert list(ResultsStore(store_dir).records()) == []  # no trial finished; none half-written


@pytest.mark.ray
def test_a_second_interrupt_exits_at_once(store_dir):
    with running_grid() as (driver, processes):
        driver.send_signal(signal.SIGINT)
        time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        driver.wait(timeout=10)
        assert driver.returncode == 130
        assert not survivors(processes, within=15)  # the watchdog ends what Ray left


def test_the_watchdog_ends_every_process_in_its_directory_and_nothing_else(tmp_path):
    own, other = tmp_path / "own", tmp_path / "other"
    own.mkdir()
    other.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    with open(own / "log", "w") as log:  # by working directory, command line, open file
        inside = [subprocess.Popen(sleep, cwd=own), subprocess.Popen([*sleep, str(own / "x")]),
                  subprocess.Popen(sleep, cwd=other, stdout=log)]
    outside = subprocess.Popen(sleep, cwd=other)
    gone = subprocess.Popen(["true"])  # a driver already gone when the watchdog starts
    gone.wait()
    try:
        assert sorted(watchdog.watch(gone.pid, str(own))) == sorted(p.pid for p in inside)
        assert all(p.poll() is not None for p in inside) and outside.poll() is None
        assert not own.exists()
    finally:
        for process in [*inside, outside]:
            process.kill()
            process.wait()


def test_an_interrupted_run_records_nothing_and_says_so(store_dir):
    driver = start(["run", "--task", "sphere", "--reg", "eccentric", "--set", "steps=1000000"])
    try:
        timer = threading.Timer(180, driver.kill)  # no line within 3 minutes: fail, not hang
        timer.start()
        # training runs once it says how long the run would take (imports, however slow, are done)
        training = any(" the run would take about " in line for line in driver.stdout)
        timer.cancel()
        assert training and driver.poll() is None
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=60)
        assert driver.returncode == 130
        assert out.strip().splitlines()[-1] == ("regbench: interrupted; nothing of the run in "
                                                "progress was recorded")
        assert list(ResultsStore(store_dir).records()) == []
    finally:
        end(driver, [])


def run_key(store_dir, reg: str) -> str:
    return next(r["run_key"] for r in ResultsStore(store_dir).records() if r["reg"] == reg)


@pytest.mark.ray
def test_quiet_grid_prints_only_regbench_lines_when_a_worker_dies(store_dir, tmp_path):
    (tmp_path / "killer_plugin.py").write_text(KILLER)
    result = subprocess.run(
        [sys.executable, "-m", "regbench", "grid", "--plugin", "killer_plugin", "--task", "sphere",
         "--reg", "none,test_killer", "--set", "n=20", "steps=5", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={"OMP_NUM_THREADS": "1", **os.environ})
    assert result.returncode == 1
    died = "the trial's worker process died: The actor died unexpectedly before finishing this task."
    assert result.stderr.splitlines() == [f"regbench: trial sphere test_killer: {died}"]
    assert result.stdout.splitlines() == [
        "Grid inline: 2 trials, 0 already recorded, 2 to run.",
        f"  failed: sphere × test_killer seed 0 (run {run_key(store_dir, 'test_killer')}): {died}",
        f"Grid inline: 1 failed, 1 ok; records in {store_dir / 'records.jsonl'}",
        "Rerun the failed or diverged trials with --retry-failed."]
    by_reg = {r["reg"]: r for r in ResultsStore(store_dir).records()}
    assert by_reg["none"]["status"] == "ok" and by_reg["test_killer"]["status"] == "failed"


@pytest.mark.ray
def test_grid_trials_do_not_import_modules_lying_in_the_working_directory(store_dir, tmp_path):
    (tmp_path / "matplotlib.py").write_text(SHADOW)
    result = subprocess.run(
        [sys.executable, "-m", "regbench", "grid", "--task", "digits_ae", "--reg", "none",
         "--set", "epochs=1", "--quiet"], cwd=tmp_path, capture_output=True, text=True,
        timeout=600, env={"OMP_NUM_THREADS": "1", **os.environ})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "imported").exists()
    assert [r["status"] for r in ResultsStore(store_dir).records()] == ["ok"]


def test_a_plugin_is_imported_from_the_working_directory_which_then_leaves_sys_path(
        tmp_path, monkeypatch):
    (tmp_path / "cwd_plugin.py").write_text("VALUE = 1\n")
    (tmp_path / "other_module.py").write_text("VALUE = 2\n")
    monkeypatch.chdir(tmp_path)
    path = list(sys.path)
    load_plugin("cwd_plugin")
    assert sys.modules["cwd_plugin"].VALUE == 1 and sys.path == path
    with pytest.raises(ModuleNotFoundError):
        __import__("other_module")
    del sys.modules["cwd_plugin"]


class Marker:
    """Creates a file when unpickled: what a malicious weight file could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("what", ["FID weights file", "cached classifier"])
def test_weight_files_that_would_run_code_are_refused_unexecuted(tmp_path, what):
    weights, marker = tmp_path / "weights.pth", tmp_path / "pwned"
    torch.save({"layer.weight": torch.ones(2), "payload": Marker(marker)}, weights)
    with pytest.raises(RegbenchError, match=f"{what} .*weights.pth holds more than tensors"):
        load_tensors(weights, what)
    assert not marker.exists()
    torch.save({"layer.weight": torch.ones(2)}, weights)
    assert torch.equal(load_tensors(weights, what)["layer.weight"], torch.ones(2))


def test_fid_network_loads_its_weights_as_tensors_only(tmp_path):
    from regbench.metrics.fid import inception
    weights, marker = tmp_path / "pt_inception.pth", tmp_path / "pwned"
    torch.save({"payload": Marker(marker)}, weights)
    with pytest.raises(RegbenchError, match="FID weights file"):
        inception(weights, "cpu")
    assert not marker.exists()


@pytest.mark.parametrize("given, named", [
    (["lam=1e-3", "lam=1"], "--set gives lam (1e-3, 1): give each key once"),
    (["lam=1e-3", "reg.lam=1"], "--set sets both 'lam' and 'reg.lam': give each hyperparameter once"),
])
def test_a_key_given_twice_on_the_command_line_is_an_error(given, named, store_dir, capsys):
    for command in (["run", "--task", "sphere", "--reg", "eccentric"],
                    ["grid", "--task", "sphere", "--reg", "eccentric", "--dry-run"]):
        assert main([*command, "--set", *given]) == 2
        assert capsys.readouterr().err.strip() == f"regbench: error: {named}"
    assert not store_dir.exists() or not list(ResultsStore(store_dir).records())


GRID = """\
[grid]
name = "twice"
tasks = ["sphere"]
regularizers = ["eccentric"]
[params]
"""


@pytest.mark.parametrize("table, named", [
    ("lam = 1\nlam = 2\n", "key lam is given twice in one table"),
    ('lam = 1\n"reg.lam" = 2\n', "sets both 'lam' and 'reg.lam': give each hyperparameter once"),
    ('[params.eccentric]\nmu = 1\n"reg.mu" = 2\n', "sets both 'mu' and 'reg.mu'"),
])
def test_a_key_given_twice_in_one_grid_table_is_an_error(table, named, tmp_path, capsys):
    grid = tmp_path / "twice.toml"
    grid.write_text(GRID + table)
    assert main(["grid", str(grid), "--dry-run", "--results", str(tmp_path / "store")]) == 2
    assert named in capsys.readouterr().err


def test_the_command_line_and_a_regularizer_table_still_override_shared_values(tmp_path):
    from regbench.grid import load_grid
    grid = tmp_path / "override.toml"
    grid.write_text(GRID + "lam = 1\nmu = 2\n[params.eccentric]\n\"reg.mu\" = 3\n")
    (trial,) = load_grid(grid).override(params={"reg.lam": "5"}).trials()
    assert (trial.reg_params["lam"], trial.reg_params["mu"]) == (5, 3)


WRITERS = {"run": ["run", "--reg", "none", "--task", "sphere", "--set", "n=20", "steps=2"],
           "grid": ["grid", "--task", "sphere", "--reg", "none", "--set", "n=20", "steps=2"],
           "suite": ["suite", os.path.join(ROOT, "suites", "cpu.toml"), "--task", "sphere"]}


@pytest.mark.parametrize("command", list(WRITERS))
@pytest.mark.parametrize("fault", ["read_only", "disk_full"])
def test_a_store_that_cannot_be_written_is_refused_before_anything_runs(command, fault, tmp_path,
                                                                       monkeypatch, no_compute, capsys):
    store = tmp_path / "store"
    store.mkdir()
    if fault == "disk_full":
        monkeypatch.setattr(regbench.store, "os", FullDisk())
    else:
        store.chmod(0o555)
        if os.access(store, os.W_OK):
            store.chmod(0o755)
            pytest.skip("this user writes into a read-only directory (root)")
    try:
        assert main([*WRITERS[command], "--results", str(store)]) == 2
    finally:
        store.chmod(0o755)
    reason = os.strerror(errno.ENOSPC if fault == "disk_full" else errno.EACCES)
    assert capsys.readouterr().err.splitlines() == [
        f"regbench: error: cannot write the results store {store} ({reason}): nothing would be recorded"]
    assert not [p for p in store.iterdir() if not p.name.startswith("records.index.sqlite")]
