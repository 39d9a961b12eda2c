"""A run's files and its record: both or neither, whenever a process is killed; `regbench store
check` names orphaned files and damaged lines, and `--fix` removes the orphans and moves the lines
aside (nothing recorded is lost)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import regbench.store
from conftest import FullDisk, make_record
from regbench.cli import main
from regbench.errors import NotRecorded
from regbench.record import staging_dir
from regbench.store import ResultsStore, StoreWarning
from regbench.store.claims import Claims

VMF = ("vmf_circles", "none", {"epochs": 1, "points": 40, "eval_size": 10, "iw_samples": 3})
KILLED_AFTER_THE_RUN = textwrap.dedent('''\
    import os, signal, sys
    from regbench.runner import execute, prepare
    record = execute(prepare(*{vmf}), results_dir=sys.argv[1])
    assert record["metrics"]["figures"], record
    os.kill(os.getpid(), signal.SIGKILL)  # the end of the run, before its record is appended
    ''').format(vmf=VMF)
KILLED_WHILE_RECORDING = textwrap.dedent('''\
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    import regbench.store
    from conftest import make_record
    from regbench.store import ResultsStore, StoreWarning

    class KilledOnWrite:
        def __getattr__(self, name):
            return getattr(os, name)

        def write(self, fd, data):
            os.kill(os.getpid(), signal.SIGKILL)
    regbench.store.os = KilledOnWrite()
    record = make_record("sphere", "none", 7, {"norm_std": 0.1, "spectrum": [1.0, 2.0]}, n=20, steps=2)
    figures = os.path.join(sys.argv[1], "staging", record["run_key"], record["id"], "figures")
    os.makedirs(figures)
    open(os.path.join(figures, "a.png"), "wb").write(b"png")
    ResultsStore(sys.argv[1]).append(record)
    ''')


def killed(code: str, store_dir) -> None:
    done = subprocess.run([sys.executable, "-c", code, str(store_dir), os.path.dirname(__file__)],
                          capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", **os.environ})
    assert done.returncode == -9, done.stderr


def files(directory) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def sphere(seed, **metrics):
    return make_record("sphere", "none", seed, {"norm_std": 0.1, **metrics}, n=20, steps=2)


def test_a_run_killed_before_its_record_leaves_no_files_in_place(store_dir, capsys):
    ResultsStore(store_dir).append(sphere(1))
    killed(KILLED_AFTER_THE_RUN, store_dir)
    assert not (store_dir / "figures").exists()  # its figures are in its staging folder only
    (staged,) = (store_dir / "staging").iterdir()
    assert main(["store", "check"]) == 1
    out = capsys.readouterr().out
    assert f"  orphan: staging/{staged.name} (a run's files that no live process is recording)" in out
    assert main(["store", "check", "--fix"]) == 0
    assert main(["store", "check"]) == 0
    assert [name for name in files(store_dir) if "index" not in name] == ["records.jsonl"]


def test_a_process_killed_while_recording_leaves_orphans_that_check_names_and_fix_removes(
        store_dir, capsys):
    store = ResultsStore(store_dir)
    kept = sphere(1, spectrum=[3.0])
    store.append(kept)
    before = {name: (store_dir / name).read_bytes() for name in files(store_dir) if "index" not in name}
    killed(KILLED_WHILE_RECORDING, store_dir)  # its files are in place, its line is not written
    orphans = {"/".join(Path(name).parts[:2]) for name in files(store_dir) if "index" not in name}
    orphans -= set(before)
    orphans.add(f"staging/{next((store_dir / 'staging').iterdir()).name}")  # emptied, not removed
    assert sorted(name.split("/")[0] for name in orphans) == ["artifacts", "figures", "staging"]
    assert main(["store", "check"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{store.path}: 1 records, 0 damaged lines, 3 orphaned run files."
    for name in orphans:
        assert f"  orphan: {name} (" in out
    assert main(["store", "check", "--fix"]) == 0
    assert "Fixed: 0 damaged lines moved to" in capsys.readouterr().out
    assert {name: (store_dir / name).read_bytes() for name in files(store_dir)
            if "index" not in name} == before  # the recorded run and its files, untouched
    assert store.load([1])[0]["metrics"]["spectrum"] == [3.0]


def test_a_failed_append_puts_the_figures_back_in_staging(tmp_path, monkeypatch):
    store, record = ResultsStore(tmp_path), sphere(2)
    staged = tmp_path / staging_dir(record["run_key"], record["id"]) / "figures"
    staged.mkdir(parents=True)
    (staged / "a.png").write_bytes(b"png")
    with monkeypatch.context() as mp:
        mp.setattr(regbench.store, "os", FullDisk())
        with pytest.raises(NotRecorded):
            store.append(record)
    assert files(tmp_path) == ["records.jsonl",  # empty
                               staging_dir(record["run_key"], record["id"]) + "/figures/a.png"]
    store.append(record)
    assert (tmp_path / "figures" / record["id"] / "a.png").read_bytes() == b"png"
    assert not (tmp_path / "staging").exists()


def test_check_leaves_the_files_of_a_run_in_progress(store_dir, capsys):
    record = sphere(3)
    staged = store_dir / staging_dir(record["run_key"], record["id"]) / "figures"
    staged.mkdir(parents=True)
    (staged / "a.png").write_bytes(b"png")
    with Claims(store_dir) as claims:  # as the process computing the run holds it
        claims.take(record["run_key"])
        assert main(["store", "check", "--fix"]) == 0
    assert f"  in progress: staging/{record['run_key']} (a run computed by pid {os.getpid()} on " \
        in capsys.readouterr().out
    assert (staged / "a.png").read_bytes() == b"png"


DAMAGED = [b'{"torn', b"\x00" * 40, b"\xff\xfe not utf-8", b"[1, 2]", b""]


def test_check_moves_damaged_lines_aside_and_keeps_the_records(store_dir, capsys):
    store = ResultsStore(store_dir)
    store.append(sphere(1))
    newer = json.dumps({**sphere(2), "record_version": 99}).encode()
    with open(store.path, "ab") as f:
        f.write(b"\n".join([*DAMAGED, newer, b""]))
    store.append(sphere(3))  # seals nothing: every line above ends in a newline
    with open(store.path, "ab") as f:
        f.write(DAMAGED[0])  # a torn last line
    with pytest.warns(StoreWarning):
        good = [r["id"] for r in ResultsStore(store_dir).records()]
    assert main(["store", "check"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{store.path}: 2 records, 6 damaged lines, 0 orphaned run files."
    assert "  damaged line 3: a run of NUL bytes (left by a crash)" in out
    assert "  damaged line 9: an incomplete last line (an interrupted write)" in out
    assert "  line 7 kept: written by a newer regbench (record version 99" in out
    assert main(["store", "check", "--fix"]) == 1  # the newer record is still there to read
    assert (store_dir / "records.damaged.jsonl").read_bytes() == \
        b"".join(line + b"\n" for line in [*DAMAGED, DAMAGED[0]])
    assert [r["id"] for r in ResultsStore(store_dir).records()] == good
    assert store.path.read_bytes().count(b"\n") == 3 and newer in store.path.read_bytes()
