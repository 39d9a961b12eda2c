"""Grid files and inline grids: expansion, routing of settings, validation (no Ray)."""
from pathlib import Path

import pytest

from regbench import REGULARIZERS, RegbenchError
from regbench.cli import main
from regbench.grid import inline_grid, load_grid
from regbench.leaderboard.baselines import load_baselines
from regbench.metrics.declared import metric
from regbench.tuning import validation_metric

ROOT = Path(__file__).resolve().parent.parent

GRID = """\
[grid]
name = "mini"
tasks = ["sphere", "digits_ae"]
regularizers = ["none", "eccentric"]
seeds = [0, 3]
{head}
[resources]
cpu = 0.5

[params]
n = 20
epochs = 1
steps = [2, 3]
lam = [1e-2, 1e-3]

[params.eccentric]
mu = [1.0, 4.5]
{extra}
"""


def write(tmp_path, head="", extra="", text=None):
    path = tmp_path / "grid.toml"
    path.write_text(text if text is not None else GRID.format(head=head, extra=extra))
    return path


def test_lists_are_axes_and_settings_apply_where_declared(tmp_path):
    with pytest.raises(RegbenchError, match="grid.toml:6: task 'digits_ae' has no metric 'norm_std'"):
        load_grid(write(tmp_path, head='metric = "norm_std"\n'))
    grid = load_grid(write(tmp_path, extra="[params.digits_ae]\nd = 4\n"))
    trials = grid.trials()
    sphere = [t for t in trials if t.task == "sphere"]
    digits = [t for t in trials if t.task == "digits_ae"]
    # sphere: steps (2) × 2 seeds for none, × lam (2) × mu (2) for eccentric; digits: lam (2) × mu
    # × 2 seeds, and none once per seed (it has no λ)
    assert len(sphere) == 2 * 2 + 2 * 2 * 2 * 2 and len(digits) == 2 + 2 * 2 * 2
    assert {t.task_params["n"] for t in sphere} == {20} and "lam" not in sphere[0].task_params
    assert {t.reg_params["lam"] for t in trials if t.reg == "eccentric"} == {1e-2, 1e-3}
    assert {t.task_params["d"] for t in digits} == {4} and {t.seed for t in trials} == {0, 3}
    assert {t.reg_params["mu"] for t in trials if t.reg == "eccentric"} == {1.0, 4.5}
    assert grid.resources == {"cpu": 0.5, "gpu": 0.0}
    assert len({t.run_key for t in trials}) == len(trials)


@pytest.mark.parametrize("text, message", [
    ("[grid]\ntasks = [\"sphere\"\nregularizers = [\"none\"]\n", "invalid TOML: .*line 3"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\"]\n[params]\nstepz = 3\n",
     r"grid.toml:5: no task or regularizer of this grid has a hyperparameter 'stepz'"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\", \"eccentric\"]\n\n[params.eccentric]\n"
     "mu = [1.0, 0.5]\n", r"grid.toml:6: regularizer 'eccentric': hyperparameter mu=0.5 is out of range"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\", \"eccentirc\"]\n",
     r"grid.toml:3: unknown regularizer 'eccentirc'; did you mean 'eccentric'"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\"]\n[params.nothing]\nmu = 1\n",
     r"grid.toml:4: \[params.nothing\]: 'nothing' is neither a task nor a regularizer"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\"]\nseed = 3\n",
     r"grid.toml:4: unknown key 'seed' in \[grid\]"),
    ("[grid]\ntasks = [\"sphere\"]\nregularizers = [\"none\"]\n[params]\nsteps = {loguniform = [1, 9]}\n",
     r"grid.toml:5: steps is a range; ranges need tuning mode"),
])
def test_malformed_grid_file_names_the_line(tmp_path, text, message):
    with pytest.raises(RegbenchError, match=message):
        load_grid(write(tmp_path, text=text)).trials()


def test_inline_grid_dry_run_lists_trials_and_count(store_dir, capsys):
    args = ["grid", "--task", "sphere", "--reg", "none,eccentric", "--set", "n=20", "steps=2,3",
            "eccentric.mu=1,4.5", "--seeds", "2", "--dry-run"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Grid inline: 12 trials, 0 already recorded, 12 to run."
    assert any("eccentric" in line and "mu=4.5" in line and "steps=3" in line for line in out)
    assert main(["grid", "--task", "sphere", "--reg", "none", "--set", "lamda=1", "--dry-run"]) == 2
    assert "no task or regularizer of this grid has a hyperparameter 'lamda'" in capsys.readouterr().err


def test_command_line_overrides_a_grid_file(tmp_path):
    grid = load_grid(write(tmp_path)).override(regularizers=["none"], seeds=[7], params={"n": "30"})
    trials = grid.trials()
    assert {t.reg for t in trials} == {"none"} and {t.seed for t in trials} == {7}
    assert {t.task_params["n"] for t in trials if t.task == "sphere"} == {30}
    assert inline_grid(["sphere"], ["none"], {"steps": "2,3"}).params == {"steps": ["2", "3"]}


@pytest.mark.parametrize("path", sorted((ROOT / "tasks").glob("*.toml")), ids=lambda p: p.name)
def test_embedded_studies_validate(path):
    """Every committed grid file: names, keys, values, tables and each trial's configuration
    (without the datasets, which need not be here)."""
    grid = load_grid(path)
    assert grid.trials(check_data=False) and grid.tables
    if grid.name == "digits_latent":  # 10 regularizers × 2 λ × 5 seeds, and none (no λ) × 5 seeds
        assert len(grid.trials(check_data=False)) == 105


def test_tuning_needs_a_validation_metric():
    with pytest.raises(RegbenchError, match="task 'sphere' has none"):
        validation_metric(inline_grid(["sphere"], ["none"], {}), "sphere")
    assert validation_metric(inline_grid(["digits_ae"], ["none"], {}), "digits_ae") == ("val_mse", "min")


@pytest.mark.parametrize("path", sorted((ROOT / "baselines").glob("*.csv")), ids=lambda p: p.name)
def test_baseline_files_are_valid_data(path):
    rows = load_baselines(path)
    assert not rows.duplicated(["task", "metric", "reg", "config"]).any()
    assert set(rows.reg) <= set(REGULARIZERS.names()) | {"majority_class", "wae_gan"}
    rates = rows[[metric(name).rate for name in rows.metric]]
    assert rates.value.astype(float).between(0, 1).all()  # rates are fractions
