"""The records a suite reuses from other stores, read-only (``regbench suite SUITE.toml --reuse DIR``;
by default, when a regularizer or task is placed, the suite's own stores: :func:`default_reuse`).

- A reused store is read without writing anything beside it (:class:`ReadOnlyStore`: its index
  lives in memory). The plan counts a run as recorded when the suite's store or a reused one holds
  it, and the choice reads the same records.
- Before any trial, the records of the suite's runs that its store lacks are copied into it, with
  their files (:func:`copy_records`): the store then stands alone for the leaderboards, the report
  and ``regbench store export``, and the reused stores are unchanged.
- Identity decides what is reused: a record stands only for its own run (task and regularizer with
  their versions, hyperparameters, seed). A record of the same configuration and seed at another
  version of its task or regularizer is not reused and its run is run again; :func:`stale` says
  how many, and why.
- :func:`environment` says whether the placed regularizer's or task's runs and the rest were made
  with the same regbench commit and torch, and on the same hardware.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from .errors import RegbenchError
from .leaderboard.provenance import cpu
from .record import digest
from .store import ResultsStore, default_results_dir
from .store._index import Index
from .store.convert import import_records


class ReadOnlyStore(ResultsStore):
    """A results store read through an index in memory: nothing is written beside it."""

    def __init__(self, directory: str | Path):
        super().__init__(directory)
        if not self.path.is_file():
            raise RegbenchError(f"--reuse {directory}: no records.jsonl there (give the directory of "
                                f"a results store)")
        self._index = Index(self.path, ":memory:")

    def append(self, record: dict) -> None:
        raise RegbenchError(f"{self.directory} is reused read-only: nothing is written there")


def default_reuse(suite_file: str | Path, store_name: str) -> list[Path]:
    """The suite's stores that exist: ``results/<store_name>`` beside the suite file's folder (the
    committed one) and ``<store_name>`` in the results directory (where ``regbench suite`` writes)."""
    candidates = [Path(suite_file).resolve().parent.parent / "results" / store_name,
                  default_results_dir() / store_name]
    found = {path.resolve(): path for path in candidates if (path / "records.jsonl").is_file()}
    return list(found.values())


def copy_records(store: ResultsStore, reused: list[ReadOnlyStore], run_keys: set[str]) -> int:
    """Copy into ``store`` the records of ``run_keys`` that the reused stores hold and it lacks;
    how many."""
    return sum(import_records(store, source.path, keep=lambda r: r["run_key"] in run_keys).added
               for source in reused)


def versionless(config_identity: dict, seed: int) -> str:
    """A run's identity without the versions of its task and regularizer."""
    return digest({"task": config_identity["task"], "reg": config_identity["reg"],
                   "params": config_identity["params"], "seed": seed})


def stale(trials, stores: list[ResultsStore]) -> list[str]:
    """Of ``trials`` (none recorded), those the stores hold at another version of the task or the
    regularizer: ``120 of task digits_ae, recorded at version 1 (now 2)``, one line per version."""
    recorded = {}
    for store in stores:
        for r in store.records():
            recorded.setdefault(versionless(r, r["seed"]), (r.get("task_version"), r.get("reg_version")))
    counts = Counter()
    for trial in trials:
        config = trial.config.identity
        found = recorded.get(versionless(config, trial.config.seed))
        if found is None:
            continue
        if found[0] != config["task_version"]:
            counts[f"task {config['task']}, recorded at version {found[0]} (now {config['task_version']})"] += 1
        elif found[1] != config["reg_version"]:
            counts[f"regularizer {config['reg']}, recorded at version {found[1]} "
                   f"(now {config['reg_version']})"] += 1
    return [f"{n} of {what}" for what, n in counts.items()]


def environment(store: ResultsStore, added: list[str], added_keys: set[str], other_keys: set[str]) -> str:
    """Whether the counted runs of ``added_keys`` (of the placed ``added``) and of ``other_keys``
    were made with the same regbench commit and torch, on the same hardware: one sentence."""
    lines = {run_key: line for line, run_key, *_ in store.index.counted()}

    def made(keys) -> tuple[Counter, Counter]:
        code, hardware = Counter(), Counter()
        chosen = [lines[key] for key in keys if key in lines]
        for commit, torch, device, host, machine, count in store.index.machines(chosen) if chosen else []:
            code[f"regbench git {commit or 'none'}, torch {torch or '?'}"] += count
            hardware[cpu(machine) if (device or "cpu").startswith("cpu") and machine else device or "?"] += count
        return code, hardware

    (new_code, new_hw), (old_code, old_hw) = made(added_keys), made(other_keys)
    names = ", ".join(added)
    if not (new_code and old_code):
        return ""
    if set(new_code) == set(old_code) and set(new_hw) == set(old_hw):
        return (f"The runs of {names} and those they are compared with were made with the same code "
                f"({'; '.join(new_code)}) on the same hardware ({'; '.join(new_hw)}).")
    differ = " and ".join(what for what, same in (("other regbench commits or torch versions",
                                                   set(new_code) == set(old_code)),
                                                  ("other hardware", set(new_hw) == set(old_hw))) if not same)

    def tally(counter: Counter) -> str:
        return "; ".join(f"{k} ×{n}" for k, n in sorted(counter.items()))

    return (f"The runs of {names} and those of the rest of the suite were made with {differ}: "
            f"{names}: {tally(new_code)}, on {tally(new_hw)}; the rest: {tally(old_code)}, on "
            f"{tally(old_hw)}. Runs on another CPU, BLAS or torch differ in their last bits and "
            f"training grows the difference (re-run on another CPU, single seeds of a link task "
            f"moved by up to most of a standard deviation of the seeds, 10-seed means by about a "
            f"tenth of one): read small differences between {names} and the rest with that in "
            f"mind.")
