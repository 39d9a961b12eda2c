import os
import subprocess
import sys

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """An empty results store for the test, also seen by CLI subprocesses."""
    directory = tmp_path / "store"
    monkeypatch.setenv("REGBENCH_RESULTS", str(directory))
    return directory


def run_cli(*args, cwd=None, timeout=300):
    """Run the real ``regbench`` command line in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "regbench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=os.environ.copy())
