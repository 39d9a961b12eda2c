"""The memory estimate of a configuration: refused before any allocation when it cannot fit."""
import json
import subprocess
import sys
from types import SimpleNamespace

import psutil
import pytest

from regbench.cli import main
from regbench.errors import RegbenchError
from regbench.registry import REGULARIZERS, TASKS
from regbench.runner import prepare

GB = 10 ** 9


@pytest.fixture
def small_machine(monkeypatch):
    """1 GB available, whatever the machine."""
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=GB))


def test_a_huge_sphere_is_refused_before_anything_is_allocated(small_machine, monkeypatch):
    def setup(*args):
        raise AssertionError("setup reached")
    monkeypatch.setattr(TASKS.get("sphere"), "setup", setup)
    with pytest.raises(RegbenchError, match=r"task 'sphere' with n=100000000 needs about 25\.8 GB "
                                            r"\(the points, .*\), more than 90% of the 1 GB "
                                            r"available: lower n$"):
        prepare("sphere", "none", {"n": 100_000_000})


def test_a_dense_weight_penalty_is_refused_for_its_pairwise_matrices(small_machine):
    with pytest.raises(RegbenchError, match=r"\(the regularizer's pairwise matrices\).*lower n$"):
        prepare("sphere", "mhs", {"n": 20000})
    prepare("sphere", "mhp", {"n": 20000})  # one cosine per row and pole: fits


def test_a_normal_configuration_passes(small_machine):
    assert prepare("sphere", "eccentric").task_params["n"] == 500
    prepare("digits_ae", "mhe", check_data=False)


def test_the_margin_is_an_environment_variable(small_machine, monkeypatch):
    monkeypatch.setenv("REGBENCH_MEMORY_FRACTION", "100")
    prepare("sphere", "none", {"n": 10_000_000})


def test_a_grid_with_a_huge_trial_fails_at_dry_run(small_machine, store_dir, capsys):
    assert main(["grid", "--task", "sphere", "--reg", "none", "--set", "n=20,100000000",
                 "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "n=100000000" in err and err.rstrip().endswith("lower n")
    assert not store_dir.exists() or not any(store_dir.iterdir())


MEASURE = """
import json, sys
import torch
from regbench.runner import execute, prepare
torch.set_num_threads(1)
reg, settings = sys.argv[1], json.loads(sys.argv[2])
execute(prepare("sphere", reg, {**settings, "n": 10}))  # lazy imports and allocator warm-up


def status(key):
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith(key))) * 1024


with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # Linux: the peak (VmHWM) starts again from the current RSS
before = status("VmRSS:")
assert execute(prepare("sphere", reg, settings))["status"] == "ok"
print(status("VmHWM:") - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="measures with /proc/self (Linux)")
@pytest.mark.parametrize("reg, settings", [("vicreg", {"n": 400_000, "d": 16, "steps": 1}),
                                           ("mhs", {"n": 1500, "d": 16, "steps": 1})])
def test_the_sphere_estimate_is_within_a_factor_2_of_the_peak_growth(reg, settings):
    """Growth: the peak memory of the run over the memory just before it, in a fresh process."""
    growth = int(subprocess.run([sys.executable, "-c", MEASURE, reg, json.dumps(settings)],
                                capture_output=True, text=True, check=True, timeout=300).stdout)
    task, regularizer = TASKS.get("sphere")(**settings), REGULARIZERS.get(reg)
    estimate = sum(need.bytes for need in task.memory_needs(regularizer, regularizer.resolve({})))
    assert growth / 2 <= estimate <= 2 * growth
