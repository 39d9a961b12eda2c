import contextlib
import errno
import os
import subprocess
import sys

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

PLUGINS: list[str] = []  # the modules of --regbench-plugin
CONTRACT_TESTS = ("test_contract_regularizers.py", "test_contract_tasks.py")


def pytest_addoption(parser):
    parser.addoption("--regbench-plugin", action="append", default=[], metavar="MODULE",
                     help="run only the registry-wide contract tests, on the regularizers and tasks "
                          "that MODULE registers (repeatable; the current directory is searched)")


def pytest_configure(config):
    from regbench.registry import load_plugin
    for module in config.getoption("regbench_plugin"):
        load_plugin(module)
        PLUGINS.append(module)


def pytest_ignore_collect(collection_path, config):
    """Under --regbench-plugin: the contract tests only."""
    if config.getoption("regbench_plugin") and collection_path.suffix == ".py":
        return collection_path.name not in CONTRACT_TESTS or None
    return None


def pytest_collection_modifyitems(config, items):
    """Under --regbench-plugin: without the tests of the built-in declarations."""
    if PLUGINS:
        kept = [item for item in items if not item.name.startswith("test_declarations")]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def under_contract(registry) -> list[str]:
    """The names the contract tests cover: every registered one, or under --regbench-plugin those
    of the plugin modules alone."""
    if not PLUGINS:
        return registry.names()
    chosen = {name for module in PLUGINS for name in registry.names_from(module)}
    return [name for name in registry.names() if name in chosen]


def builtin(cls) -> bool:
    """Whether ``cls`` is one of regbench's own (held to its rules beyond the contract)."""
    return cls.__module__.startswith("regbench.")


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """An empty results store for the test, also seen by CLI subprocesses."""
    directory = tmp_path / "store"
    monkeypatch.setenv("REGBENCH_RESULTS", str(directory))
    return directory


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op torch thread for every test (restored at the end); ``run_cli`` gives the CLI
    subprocesses one thread too. The tensors of the tests are small, and extra threads only add
    contention on a busy machine: with a grid running beside the tests on 2 cores, two threads make
    small blockwise pair sums and eigen-decompositions 5–30 times slower in CPU time."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@contextlib.contextmanager
def registries_restored():
    """Regularizers, tasks, targets and metrics registered inside the block are removed after it."""
    from regbench.metrics.declared import METRICS
    from regbench.registry import REGULARIZERS, TARGETS, TASKS
    tables = [METRICS]
    for registry in (REGULARIZERS, TASKS, TARGETS):
        registry.load()
        tables.append(registry._classes)
    saved = [dict(table) for table in tables]
    try:
        yield
    finally:
        for table, before in zip(tables, saved):
            table.clear()
            table.update(before)


@pytest.fixture(autouse=True)
def registries_as_before():
    """What a test registers is removed after it."""
    with registries_restored():
        yield


@pytest.fixture
def no_compute(monkeypatch):
    """A run or a Ray session that the test starts (in its own process) fails it."""
    def started(*args, **kwargs):
        raise AssertionError("a run or Ray was started")
    monkeypatch.setattr("regbench.runner.execute", started)
    monkeypatch.setattr("regbench.cluster.ray_session", started)


def run_cli(*args, cwd=None, timeout=300):
    """Run the real ``regbench`` command line in a subprocess; returns the CompletedProcess.
    One intra-op thread unless ``$OMP_NUM_THREADS`` says otherwise (see ``one_thread``)."""
    return subprocess.run([sys.executable, "-m", "regbench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={"OMP_NUM_THREADS": "1", **os.environ})


def make_record(task, reg, seed, metrics, status="ok", **settings):
    """A run record of the current layout, as ``regbench run`` writes it (:func:`regbench.record.
    make_record`), with these metrics, a fixed start time, machine and versions."""
    from datetime import datetime, timezone

    from regbench import record
    from regbench.runner import prepare
    config = prepare(task, reg, settings, seed, check_data=False)
    made = record.make_record(config, "cpu", status, None if status == "ok" else "boom",
                              metrics=metrics, started=datetime(2026, 1, 1, tzinfo=timezone.utc),
                              wall_time_s=1.0)
    return {**made, "versions": {"git_commit": "abc", "torch": "2.x", "python": "3.11",
                                 "regbench": "0.1.0"}, "device": "cpu", "host": "h"}


class FullDisk:
    """The ``os`` module as the store sees it on a full disk: every write fails."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
