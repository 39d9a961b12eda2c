import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from regbench import TASKS
from regbench.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, message", [
    (["--reg", "eccentirc", "--task", "sphere"], "unknown regularizer 'eccentirc'; did you mean 'eccentric'?"),
    (["--reg", "eccentric", "--task", "digits"], "unknown task 'digits'; did you mean 'digits_ae'?"),
    (["--reg", "eccentric", "--task", "digits_ae", "--set", "lamda=1"], "'lamda'; did you mean 'lam'?"),
    (["--reg", "eccentric", "--task", "sphere", "--set", "mu=0.5"], "mu=0.5 is out of range"),
    (["--reg", "eccentric", "--task", "digits_ae", "--set", "lam=-1"], "lam=-1.0 is out of range"),
    (["--reg", "eccentric", "--task", "digits_ae", "--set", "d=1"], "d=1 is out of range"),
    (["--reg", "none", "--task", "digits_ae", "--set", "lam=1"], "'none' acts on nothing, so it has no lam"),
    (["--reg", "srip", "--task", "sphere", "--set", "lam=1"], "its weights are lam_hidden, lam_final"),
    (["--reg", "eccentric", "--task", "sphere", "--set", "mu"], "--set expects key=value"),
    (["--plugin", "no_such_plugin_mod", "--reg", "none", "--task", "sphere"],
     "plugin module 'no_such_plugin_mod' not found"),
    (["--plugin", "raising_plugin", "--reg", "none", "--task", "sphere"],
     "plugin module 'raising_plugin' failed to import: ValueError: broken on import"),
    (["--plugin", "regx_plugin", "--reg", "none", "--task", "sphere"],
     "plugin module 'regx_plugin' failed to import: No module named 'regx' (install it)"),
    (["--plugin", "regx_plugin.sub", "--reg", "none", "--task", "sphere"],
     "plugin module 'regx_plugin.sub' failed to import: No module named 'regx' (install it)"),
    (["--plugin", "no_such_package.sub", "--reg", "none", "--task", "sphere"],
     "plugin module 'no_such_package.sub' not found"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(args, message, store_dir, tmp_path,
                                                        monkeypatch, capsys):
    (tmp_path / "raising_plugin.py").write_text("raise ValueError('broken on import')\n")
    (tmp_path / "regx_plugin.py").write_text("import regx  # a dependency that is not installed\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("regbench: error:"), lines
    assert message in lines[0]
    assert not store_dir.exists()


def test_run_records_then_reuses_then_forces(store_dir):
    args = ["run", "--reg", "eccentric", "--task", "sphere", "--set", "mu=1.5", "n=50", "steps=20",
            "--seed", "3"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "sphere × eccentric  seed 3  →  ok" in first.stdout and "norm_mean_over_sqrt_d" in first.stdout
    assert "Reusing record" in run_cli(*args).stdout
    assert "Reusing record" not in run_cli(*args, "--force").stdout
    assert len((store_dir / "records.jsonl").read_text().splitlines()) == 2


def test_list_shows_targets_hyperparameters_and_defaults():
    out = run_cli("list").stdout
    assert "eccentric  [targets: codes]" in out
    assert "mu = 1.0  (repulsion strength" in out
    assert "digits_ae  [exposes: codes" in out and "lam = 0.001 unless set" in out


@pytest.mark.slow  # four `regbench run` processes (≈ 40 s)
def test_leaderboard_markdown_and_csv(store_dir, tmp_path):
    for seed in (0, 1):
        for reg in ("none", "eccentric"):
            assert run_cli("run", "--reg", reg, "--task", "digits_ae", "--set", "epochs=2",
                           "--seed", str(seed), "--quiet").returncode == 0
    md = tmp_path / "out" / "leaderboard.md"
    assert run_cli("leaderboard", "--out", str(md)).returncode == 0
    text = md.read_text()
    assert "## digits_ae" in text and "| eccentric | epochs=2 |" in text and "(2)" in text
    assert "by regbench 0.1.0" in text
    csv = run_cli("leaderboard", "--format", "csv").stdout
    assert csv.splitlines()[0].startswith("task,reg,config,metric,direction,mean,std,n,ci_low")
    task = TASKS.get("digits_ae")
    assert len(csv.splitlines()) == 1 + 2 * len({**task.directions(), **task.cross_run_metrics})


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(store_dir):
    """``regbench ... | head -1``: no traceback when the reader closes the pipe."""
    command = [sys.executable, "-m", "regbench", "grid", "--task", "sphere", "--reg", "none",
               "--seeds", "3000", "--dry-run"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0
    assert first.startswith(b"Grid inline: 3000 trials") and "Traceback" not in stderr


NO_COMPUTE = {"run": ["run", "--reg", "none", "--task", "sphere", "--set", "n=20", "steps=2"],
              "grid": ["grid", "--task", "sphere", "--reg", "none", "--set", "n=20", "steps=2"],
              "suite": ["suite", str(ROOT / "suites" / "cpu.toml"), "--task", "sphere"],
              "leaderboard": ["leaderboard"], "report": ["report"], "store": ["store", "export"]}


@pytest.mark.parametrize("command", list(NO_COMPUTE))
@pytest.mark.parametrize("under", [False, True], ids=["file", "under_a_file"])
def test_results_naming_a_file_is_refused_up_front(command, under, tmp_path, no_compute, capsys):
    given = tmp_path / "records.jsonl"
    given.write_text("")
    results = given / "store" if under else given
    args = NO_COMPUTE[command] + ([str(tmp_path / "out.jsonl")] if command == "store" else [])
    assert main([*args, "--results", str(results)]) == 2
    reason = (f"cannot be created: {given} is a file, not a directory" if under else
              "is a file, not a directory (give --results the directory that holds records.jsonl)")
    assert capsys.readouterr().err.splitlines() == [
        f"regbench: error: the results store {results} {reason}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.jsonl"] and given.read_text() == ""
