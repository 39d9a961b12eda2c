"""scripts/rerun_records.py: exact on the platform a record was made on, within a tolerance on
another (CPU results differ in the last bits between CPU models and BLAS builds)."""
import importlib.util
from pathlib import Path

import pytest

from conftest import make_record
from regbench.record import hardware, versions
from regbench.store import ResultsStore

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "rerun_records.py"


@pytest.fixture
def rerun():
    spec = importlib.util.spec_from_file_location("rerun_records", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded(seed, platform):
    record = make_record("sphere", "none", seed, {"norm_std": 0.5, "min_angle_deg": 80.0}, n=20)
    if platform == "here":
        return {**record, "hardware": {**hardware(), "threads": 1},
                "versions": {**record["versions"], "torch": versions()["torch"]}}
    if platform == "other":
        return {**record, "hardware": {"cpu": "Other CPU", "isa": "AVX2", "blas": "openblas",
                                       "threads": 1}}
    return {k: v for k, v in record.items() if k != "hardware"}  # recorded before CPUs were


@pytest.mark.parametrize("platform, gap, exit_status", [
    ("here", 0.0, 0), ("here", 1e-9, 1), ("other", 1e-9, 0), ("other", 0.04, 0),
    ("other", 0.06, 1), ("unnamed", 0.04, 0), ("unnamed", 0.06, 1)])
def test_exact_on_the_recording_platform_within_the_tolerance_elsewhere(
        tmp_path, monkeypatch, capsys, rerun, platform, gap, exit_status):
    store = ResultsStore(tmp_path)
    store.append(recorded(0, platform))
    monkeypatch.setattr(rerun, "execute", lambda config: {
        "status": "ok", "metrics": {"norm_std": 0.5 + gap, "min_angle_deg": 80.0}})
    assert rerun.main([str(tmp_path), "--seed", "0", "--tol", "0.05"]) == exit_status
    out = capsys.readouterr().out
    assert ("exact (same platform)" in out) == (platform == "here")


def test_seeds_of_a_configuration_are_summarised_against_their_spread(tmp_path, monkeypatch,
                                                                      capsys, rerun):
    store = ResultsStore(tmp_path)
    for seed, value in enumerate([0.4, 0.5, 0.6]):
        store.append({**recorded(seed, "other"), "metrics": {"norm_std": value}})
    monkeypatch.setattr(rerun, "execute", lambda config: {
        "status": "ok", "metrics": {"norm_std": [0.41, 0.5, 0.6][config.seed]}})
    assert rerun.main([str(tmp_path), "--seed", "0-2"]) == 0
    out = capsys.readouterr().out
    assert "norm_std, 3 seeds: mean 0.500000 ± 0.100000 recorded" in out
    assert "|Δ mean| 0.0033 (0.03 std); per seed |Δ| median 0, max 0.01" in out
