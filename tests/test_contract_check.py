"""``regbench check`` and ``pytest --regbench-plugin``: the registry's contract run on a plugin's
classes alone, from the one definition in :mod:`regbench.contract`; a plugin that breaks it is
named with the check that failed (``tests/plugins/broken.py``)."""
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from regbench.contract import verify
from regbench.errors import RegbenchError
from test_plugins import plugin_loaded

ROOT = Path(__file__).resolve().parents[1]


def test_check_runs_every_check_of_the_example_plugins():
    done = run_cli("check", "--plugin", "examples.my_regularizer", "--plugin", "examples.my_task", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for subject in ("regularizer 'coding_rate':", "regularizer 'filter_coding_rate':", "task 'rings_ae':"):
        assert subject in done.stdout
    assert "a tiny run under none records every declared metric" in done.stdout
    assert done.stdout.rstrip().endswith("29 checks: 29 hold.")


def test_check_names_the_checks_a_broken_plugin_fails():
    done = run_cli("check", "--plugin", "tests.plugins.broken", cwd=ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "  FAIL  finite at zero rows on codes: a gradient is NaN or infinite with zero rows" in lines
    assert any(line.startswith("  FAIL  declares targets regbench knows: unknown_target declares "
                               "targets 'latent', which regbench does not know") for line in lines)
    assert ("  FAIL  finite value and gradients on weights: NotImplementedError: wrong_target does "
            "not act on layer weights") in lines
    assert "  -     finite value and gradients on latent" in lines  # after a failed gate: not run


def test_check_without_anything_to_check_is_bad_input():
    done = run_cli("check")
    assert done.returncode == 2 and "name what to check" in done.stderr


def test_verify_refuses_naming_the_failed_checks():
    verify(["eccentric"], ["digits_ae"])  # the contract holds: nothing raised
    with plugin_loaded("tests.plugins.broken"), pytest.raises(RegbenchError) as error:
        verify(["nan_gradient", "wrong_target"])
    message = str(error.value)
    assert message.startswith("the contract does not hold, so nothing was run: regularizer "
                              "'nan_gradient': finite at zero rows on codes: a gradient is NaN")
    assert ("regularizer 'wrong_target': finite value and gradients on weights, seeded calls "
            "reproducible on weights") in message


def test_pytest_runs_the_contract_tests_on_the_plugin_alone():
    done = subprocess.run([sys.executable, "-m", "pytest", "--regbench-plugin", "examples.my_regularizer",
                           "-q", "-p", "no:cacheprovider", "-rA"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    passed = [line for line in done.stdout.splitlines() if line.startswith("PASSED")]
    assert passed and all("coding_rate" in line for line in passed)
    assert any("test_gradcheck[filter_coding_rate-weights]" in line for line in passed)
    assert not any("eccentric" in line for line in passed)
