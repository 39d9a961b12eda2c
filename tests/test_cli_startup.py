"""The command line's global options, typed before or after the subcommand, and what it imports."""
import ast
import subprocess
import sys

import pytest

from conftest import run_cli
from regbench import settings
from regbench.cli import main

SPHERE_RUN = ["run", "--reg", "none", "--task", "sphere", "--set", "n=20", "steps=2", "--quiet"]
PLUGIN = '''from regbench import Regularizer, register_regularizer


@register_regularizer("{name}")
class Plugged(Regularizer):
    """Registered by a plugin."""
'''


def placed(where: str, option: list[str], command: list[str]) -> list[str]:
    """``option`` before the subcommand, or right after it."""
    return option + command if where == "before" else command[:1] + option + command[1:]


@pytest.mark.parametrize("where", ["before", "after"])
def test_results_decides_where_a_run_is_recorded(where, store_dir, tmp_path, capsys):
    chosen = tmp_path / "chosen"
    assert main(placed(where, ["--results", str(chosen)], SPHERE_RUN)) == 0
    assert (chosen / "records.jsonl").exists() and not store_dir.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_data_dir_sets_the_datasets_directory(where, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "default"))
    assert main(placed(where, ["--data-dir", str(tmp_path / "chosen")], ["list"])) == 0
    assert settings.data_dir() == tmp_path / "chosen"


@pytest.mark.parametrize("where", ["before", "after"])
def test_plugin_registers_its_regularizer(where, tmp_path):
    (tmp_path / "plugged.py").write_text(PLUGIN.format(name="plugged"))
    listing = run_cli(*placed(where, ["--plugin", "plugged"], ["list"]), cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "plugged  [targets: codes]  Registered by a plugin." in listing.stdout


def test_plugins_before_and_after_the_subcommand_accumulate(tmp_path):
    for name in ("plugged_a", "plugged_b"):
        (tmp_path / f"{name}.py").write_text(PLUGIN.format(name=name))
    listing = run_cli("--plugin", "plugged_a", "list", "--plugin", "plugged_b", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "plugged_a  [targets" in listing.stdout and "plugged_b  [targets" in listing.stdout


@pytest.mark.parametrize("option", ["--results", "--data-dir"])
def test_one_option_in_both_places(option, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "default"))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main([option, a, "list", option, a]) == 0
    capsys.readouterr()
    assert main([option, a, "list", option, b]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"regbench: error: {option} given twice"), lines


PROBE = """
import contextlib, io, sys
from regbench.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main({argv!r})
    except SystemExit:  # --help
        pass
print(repr((out.getvalue(), sorted(m for m in sys.modules if m.split(".")[0] in {packages!r}))))
"""


def probe(argv: list[str], packages: set[str], setup: str = "") -> tuple[str, list[str]]:
    """(stdout of ``main(argv)`` in a fresh interpreter, its loaded modules of ``packages``)."""
    code = setup + PROBE.format(argv=argv, packages=packages)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout)


def test_help_imports_no_torch_sklearn_or_scipy():
    out, heavy = probe(["--help"], {"torch", "sklearn", "scipy"})
    assert "usage: regbench" in out and heavy == []


def test_list_imports_no_sklearn_or_scipy_and_shows_what_a_full_import_shows():
    out, heavy = probe(["list"], {"sklearn", "scipy"})
    assert heavy == []
    everything = ("import importlib, pkgutil, regbench\n"
                  "for package in ('tasks', 'regularizers', 'metrics', 'models'):\n"
                  "    path = importlib.import_module(f'regbench.{package}').__path__\n"
                  "    for module in pkgutil.iter_modules(path, f'regbench.{package}.'):\n"
                  "        importlib.import_module(module.name)\n")
    assert probe(["list"], {"sklearn"}, setup=everything)[0] == out
