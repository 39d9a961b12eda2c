"""``regbench publish DIR``: the counted runs as a Hugging Face dataset (Parquet files, a card with
its YAML header, the leaderboards) that ``datasets`` and pandas load with the records' values."""
import shlex
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_record, run_cli
from regbench.cli import build_parser, main, parse_settings
from regbench.publish import bibtex, cited, docstrings, installed, papers, run_commands
from regbench.registry import REGULARIZERS, TASKS
from regbench.runner import prepare
from regbench.store import ResultsStore

STUDY = """[grid]
name = "{name}"
description = "{task}: none and eccentric (mu = 1.5), 3 seeds"
tasks = ["{task}"]
regularizers = ["none", "eccentric"]
seeds = 3

[params]
{settings}
[params.eccentric]
mu = 1.5
"""


@pytest.fixture
def hf(tmp_path, monkeypatch):
    """datasets and huggingface_hub (the test skips without them), offline, caching in tmp_path."""
    for name, value in (("HF_HOME", tmp_path / "hf"), ("HF_DATASETS_CACHE", tmp_path / "hf" / "datasets"),
                        ("HF_DATASETS_OFFLINE", 1), ("HF_HUB_OFFLINE", 1)):
        monkeypatch.setenv(name, str(value))
    pytest.importorskip("huggingface_hub")
    return pytest.importorskip("datasets")


def study(directory: Path, grids: Path, name: str, task: str, metrics, **settings) -> Path:
    """A study of ``task`` × (none, eccentric at μ = 1.5) × 3 seeds recorded in ``directory``, with
    re-runs of two seeds (the later counts; one has a curve, in its artifact file) and a failed
    run; its grid file, in ``grids``."""
    store = ResultsStore(directory)
    for reg, extra in (("none", {}), ("eccentric", {"mu": 1.5})):
        for seed in range(3):
            store.append(make_record(task, reg, seed, metrics(reg, seed), **settings, **extra))
    store.append(make_record(task, "none", 1, metrics("none", 9), **settings))
    store.append(make_record(task, "eccentric", 2, {}, status="failed", **settings, mu=1.5))
    store.append(make_record(task, "none", 0, {**metrics("none", 0), "curve": [3.0, 2.0, 1.0]},
                             **settings))
    path = grids / f"{name}.toml"
    grids.mkdir(exist_ok=True)
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path.write_text(STUDY.format(name=name, task=task, settings=lines))
    return path


def digits(reg, seed):
    return {"test_mse": 0.1 + 0.01 * seed + (reg == "eccentric") * 0.05, "knn_error": 0.2 + 0.03 * seed,
            "cov_trace_per_d": 1.0 + 0.1 * seed}


def sphere(reg, seed):
    return {"norm_std": 0.01 * (seed + 1), "min_angle_deg": 10.0 + seed, "energy_s1": 2.0 - 0.1 * seed}


@pytest.fixture
def studies(tmp_path):
    """Two studies: one in a store of its own (results/digits/), one in results/ itself."""
    return (study(tmp_path / "results" / "digits", tmp_path / "tasks", "digits", "digits_ae", digits),
            study(tmp_path / "results", tmp_path / "tasks", "points", "sphere", sphere, n=20, steps=5))


def counted(store: ResultsStore) -> list[dict]:
    lines = {line for line, *_ in store.index.counted()}
    return [record for line, record in store.numbered() if line in lines]


def test_each_study_loads_with_datasets_and_pandas_as_its_records(hf, tmp_path, studies, capsys):
    results, out = tmp_path / "results", tmp_path / "out"
    assert main(["--results", str(results), "publish", str(out), "--study", str(studies[0]),
                 "--study", str(studies[1])]) == 0
    assert "digits (6 runs), points (6 runs); its card is" in capsys.readouterr().out
    for name, store in (("digits", ResultsStore(results / "digits")), ("points", ResultsStore(results))):
        records = counted(store)
        frame = pd.read_parquet(out / "data" / name)
        assert frame.id.tolist() == [r["id"] for r in records] and frame.counted.all()
        metrics = records[0]["metrics"]
        assert frame.seed.dtype == "int64"
        assert (frame[[f"metric.{m}" for m in metrics]].dtypes == "float64").all()
        for column in ("run_key", "seed", "task", "reg"):
            assert frame[column].tolist() == [r[column] for r in records]
        for metric in metrics:
            assert frame[f"metric.{metric}"].tolist() == [r["metrics"][metric] for r in records]

        loaded = hf.load_dataset("parquet", data_dir=str(out / "data" / name), split="train",
                                 cache_dir=str(tmp_path / "hf" / "datasets"))
        assert loaded.features["seed"].dtype == "int64" and loaded.num_rows == len(records)
        assert loaded.features["started_at"].dtype.startswith("timestamp")
        pd.testing.assert_frame_equal(loaded.to_pandas(), frame)
        by_card = hf.load_dataset(str(out), name=name, split="train",
                                  cache_dir=str(tmp_path / "hf" / "datasets"))
        assert by_card["id"] == frame.id.tolist()

        board = pd.read_csv(out / "leaderboards" / f"{name}.csv")  # the same means as the leaderboard
        board = board[("metric." + board.metric).isin(frame.columns)]  # not the cross-run metrics
        assert set(board.metric) == set(metrics) and len(board) == 2 * len(metrics)  # 2 configurations
        for row in board.itertuples():
            values = frame.loc[frame.config_key == row.config_key, f"metric.{row.metric}"]
            assert row.mean == pytest.approx(values.mean(), rel=1e-12) and row.n == len(values)
        assert (out / "leaderboards" / f"{name}.md").read_text().startswith(f"# {name}\n")
    curve = next(r for r in counted(ResultsStore(results / "digits")) if r.get("artifacts"))
    assert all((out / file).is_file() for file in curve["artifacts"])  # the files the records list


def test_the_card_names_its_configurations_license_and_papers(hf, tmp_path, studies, capsys):
    from huggingface_hub import DatasetCard
    out = tmp_path / "out"
    assert main(["--results", str(tmp_path / "results"), "publish", str(out), "--study", str(studies[0]),
                 "--study", str(studies[1]), "--license", "cc-by-4.0"]) == 0
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-4.0" and "regbench" in card.data.tags
    assert card.data.size_categories == "n<1K" and card.data.pretty_name == "regbench results"
    assert [c["config_name"] for c in card.data.configs] == ["digits", "points"]
    for config in card.data.configs:
        [files] = config["data_files"]
        assert files["split"] == "train" and len(list(out.glob(files["path"]))) == 1
    body = card.text
    for expected in ("regbench grid digits.toml --results results/digits", "`metric.test_mse` | double",
                     "`task.n` | int64 | number of points (sphere)", "@inproceedings{li2022eccentric",
                     "eprint = {2104.11610}",
                     "| `versions.torch` | 2.x | 12 |", "[CSV](leaderboards/points.csv)"):
        assert expected in body, expected
    assert "regbench run --task sphere --reg eccentric --set n=20 steps=5 mu=1.5" in body


def test_without_a_study_one_default_configuration_of_every_counted_run(hf, tmp_path, studies, capsys):
    store, out = tmp_path / "results" / "digits", tmp_path / "out"
    assert main(["--results", str(store), "publish", str(out)]) == 0
    frame = hf.load_dataset(str(out), name="default", split="train",
                            cache_dir=str(tmp_path / "hf" / "datasets")).to_pandas()
    assert frame.id.tolist() == [r["id"] for r in counted(ResultsStore(store))]
    assert sorted(p.name for p in (out / "leaderboards").iterdir()) == ["default.csv", "default.md"]
    assert "regbench leaderboard --out leaderboards/default.csv" in (out / "README.md").read_text()


def test_the_card_commands_reproduce_each_run(tmp_path, studies):
    for directory in (tmp_path / "results" / "digits", tmp_path / "results"):
        for record in counted(ResultsStore(directory)):
            [command] = run_commands([record])
            args = build_parser().parse_args(shlex.split(command)[1:])
            config = prepare(args.task, args.reg, parse_settings(args.set), args.seed, check_data=False)
            assert config.run_key == record["run_key"]


def test_bad_input_is_refused_in_one_line_and_nothing_is_written(hf, tmp_path, studies, capsys):
    out = tmp_path / "out"
    cases = [(["--results", str(tmp_path / "empty"), "publish", str(out)], "holds no counted run"),
             (["--results", str(tmp_path / "results" / "digits"), "publish", str(out), "--study",
               str(studies[1])], "none of its 6 runs is recorded"),
             (["--results", str(tmp_path / "results"), "publish", str(out), "--study", str(studies[0]),
               "--study", str(studies[0])], "a study named digits is given already")]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["--results", str(tmp_path / "results"), "publish", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not empty and holds no earlier publish" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_earlier_publish_is_replaced_and_other_files_stay(hf, tmp_path, studies, capsys):
    out, results = tmp_path / "out", str(tmp_path / "results")
    assert main(["--results", results, "publish", str(out), "--study", str(studies[0])]) == 0
    (out / ".gitattributes").write_text("*.parquet filter=lfs\n")
    assert main(["--results", results, "publish", str(out), "--study", str(studies[1])]) == 0
    assert sorted(p.name for p in (out / "data").iterdir()) == ["points"]
    assert sorted(p.name for p in (out / "leaderboards").iterdir()) == ["points.csv", "points.md"]
    files = {store: sorted(f for r in counted(ResultsStore(tmp_path / "results" / store))
                           for f in r.get("artifacts") or {}) for store in ("digits", "")}
    assert sorted(str(p.relative_to(out)) for p in (out / "artifacts").iterdir()) == files[""]
    assert files["digits"] and (out / ".gitattributes").is_file()


def test_a_publish_that_fails_leaves_the_earlier_one_as_it_was(hf, tmp_path, studies, monkeypatch,
                                                                capsys):
    out, results = tmp_path / "out", str(tmp_path / "results")
    assert main(["--results", results, "publish", str(out), "--study", str(studies[0])]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full_disk(*args):
        raise OSError(28, "No space left on device", str(out / "artifacts"))
    monkeypatch.setattr("regbench.publish.copy_artifacts", full_disk)
    assert main(["--results", results, "publish", str(out), "--study", str(studies[1])]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "results", "tasks"]  # nothing beside


def test_a_push_that_fails_is_one_line_and_leaves_the_folder(hf, tmp_path, studies, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: connection refused
    monkeypatch.setenv("HF_TOKEN", "fake")
    out = tmp_path / "out"
    result = run_cli("--results", str(tmp_path / "results"), "publish", str(out), "--push", "me/runs",
                     timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("regbench: could not push to me/runs: ")
    assert result.stderr.rstrip().endswith(f"; the dataset is in {out}")
    assert (out / "README.md").is_file() and (out / "data" / "default").is_dir()


def test_without_huggingface_hub_one_line_names_the_extra(tmp_path, studies, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    assert main(["--results", str(tmp_path / "results"), "publish", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "regbench[publish]"' in err
    assert not (tmp_path / "out").exists()


def test_every_citation_of_the_registry_is_whole_and_one_paper_has_one_arxiv_id():
    """The papers come from the docstrings: each registered class's are written out somewhere
    (authors, title, venue, year), and no title is cited with two arXiv ids."""
    classes = installed(REGULARIZERS, REGULARIZERS.names()) + installed(TASKS, TASKS.names())
    ids = {}
    for cls in classes:
        for paper in cited(docstrings(cls, bases=True)):
            assert paper.authors and paper.title and paper.venue and paper.year, paper
            if paper.arxiv:
                assert ids.setdefault(paper.title.lower(), paper.arxiv) == paper.arxiv, paper
    found = papers(classes)
    assert all(paper.title for paper in found), [p.arxiv for p in found if not p.title]
    cited_by = {paper.arxiv: names for paper, names in found.items()}
    assert {"eccentric", "mnist_ae", "digits_ae", "sphere"} <= set(cited_by["2104.11610"])
    assert {"vmf", "vmf_circles", "cora_link"} <= set(cited_by["1804.00891"])
    keys = set()
    entries = [bibtex(paper, keys) for paper in found]
    assert len(keys) == len(found) == len(entries)
    [vmf] = [e for e in entries if "1804.00891" in e]
    assert vmf.startswith("@inproceedings{davidson2018hyperspherical,") and \
        "author = {Tim R. Davidson and Luca Falorsi and Nicola De Cao and Thomas Kipf and Jakub M. " \
        "Tomczak}" in vmf and "booktitle = {UAI}" in vmf and "year = {2018}" in vmf


def test_a_published_folder_imports_back_into_a_store_with_the_same_leaderboards(tmp_path, studies):
    from regbench.leaderboard import to_csv
    results, out, target = tmp_path / "results", tmp_path / "out", ResultsStore(tmp_path / "new")
    pytest.importorskip("huggingface_hub")
    assert main(["--results", str(results), "publish", str(out), "--study", str(studies[0])]) == 0
    assert main(["--results", str(target.directory), "store", "import", str(out)]) == 0
    source = ResultsStore(results / "digits")
    assert [r["id"] for r in target.records()] == [r["id"] for r in counted(source)]
    assert to_csv(target) == to_csv(source)  # the counted runs, with their files (the curve's too)
    assert main(["--results", str(target.directory), "store", "import", str(out)]) == 0  # no twice
    assert len(list(target.records())) == 6
