"""``regbench publish DIR``: counted runs as a dataset in the layout of the Hugging Face Hub
(https://huggingface.co/docs/hub/datasets-manual-configuration).

One configuration per study (``--study``), else one, ``default``, of every counted run of the store;
each is a Parquet file of :mod:`regbench.store.table` rows, the columns of ``regbench store export``,
in ``data/<configuration>/``. Beside them: the files the records list (``artifacts/``,
``figures/``, named as in a store), each configuration's leaderboard in markdown and CSV
(``leaderboards/``, as ``regbench leaderboard`` writes them) and the dataset card ``README.md``: its
YAML header (configurations, license, tags, size), what the data are, how they were made (commands,
versions, hardware), a glossary of the columns and, in BibTeX, the papers that the docstrings of the
runs' regularizers and tasks cite (:func:`papers`).

huggingface_hub, which writes the card and uploads the folder, is optional: ``pip install
"regbench[publish]"``.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from . import __version__
from .errors import RegbenchError
from .leaderboard.render import ARROWS
from .metrics.declared import metric
from .registry import REGULARIZERS, TASKS
from .store import ResultsStore, artifacts, table
from .store.convert import copy_artifacts

if TYPE_CHECKING:
    from .grid import Grid

CARD = "README.md"
WRITTEN = ("data", "leaderboards", "artifacts", "figures")  # beside the card, replaced by a publish
DATA = "data/{}/train-{}.parquet"
TAGS = ["regbench", "benchmark", "regularization", "hypersphere"]
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"))
GEOMETRY = {"latent.": "the geometry of the latent codes at the end of training",
            "weights.": "the geometry of the layers' filters at the end of training, mean over layers"}


class NotPushed(Exception):
    """The folder could not be uploaded; the message says why."""


@dataclass
class Configuration:
    """One configuration of the dataset: the counted runs (``records``) of a study (``grid``,
    read from the file ``source``), or of every run of ``store``."""
    name: str
    store: ResultsStore
    records: list[dict]
    grid: Grid | None = None
    source: str = ""


def collect(results: str | None, studies: list[str] | None) -> list[Configuration]:
    """The configurations to publish: a study's runs are in ``results/<its name>/`` when that holds
    a store, else in ``results`` (as ``regbench report`` reads them). A configuration without a
    counted run is refused in one line."""
    if not studies:
        store = checked(results)
        records = counted_records(store)
        if not records:
            raise RegbenchError(f"nothing to publish: {store.path} holds no counted run (an ok record)")
        return [Configuration("default", store, records)]
    from .grid import load_grid
    found: dict[str, Configuration] = {}
    for path in studies:
        grid = load_grid(path)
        if grid.name in found:
            raise RegbenchError(f"--study {path}: a study named {grid.name} is given already "
                                f"({found[grid.name].source})")
        own = Path(results) / grid.name if results else None
        store = checked(own if own and (own / "records.jsonl").is_file() else results)
        keys = set(grid.run_keys())
        records = counted_records(store, keys)
        if not records:
            raise RegbenchError(f"nothing to publish of study {grid.name} ({path}): none of its "
                                f"{len(keys)} runs is recorded in {store.path}")
        found[grid.name] = Configuration(grid.name, store, records, grid, shown(path))
    return list(found.values())


def checked(directory) -> ResultsStore:
    store = ResultsStore(directory)
    store.check()
    return store


def counted_records(store: ResultsStore, run_keys: set[str] | None = None) -> list[dict]:
    """The records the leaderboard counts (each run's latest ``ok`` one), of ``run_keys`` only if
    given, in the order written."""
    if not store.path.is_file():
        return []
    lines = {line for line, key, *_ in store.index.counted() if run_keys is None or key in run_keys}
    return [record for line, record in store.numbered() if line in lines]


def shown(path: str) -> str:
    """A grid file as the card names it: relative to here, else by its name."""
    relative = os.path.relpath(path)
    return Path(relative if not relative.startswith("..") else Path(path).name).as_posix()


def hub():
    """huggingface_hub, or a one-line error that names the extra installing it."""
    try:
        import huggingface_hub
    except ImportError:
        raise RegbenchError('regbench publish needs huggingface_hub: pip install "regbench[publish]"') \
            from None
    return huggingface_hub


def write(configurations: list[Configuration], out: Path, license: str = "mit",
          repo: str | None = None) -> None:
    """Write the dataset to ``out``: a new or empty folder, or one that holds an earlier publish,
    whose card and folders (:data:`WRITTEN`) are replaced; anything else there stays. The dataset
    is made in a folder beside ``out`` and moved in whole: on failure ``out`` is as it was.
    ``repo``: the Hub repository the card names."""
    huggingface_hub = hub()
    if out.exists() and not out.is_dir():
        raise RegbenchError(f"cannot publish to {out}: it is a file")
    if out.is_dir() and any(out.iterdir()) and not earlier(out, huggingface_hub):
        raise RegbenchError(f"cannot publish to {out}: the folder is not empty and holds no earlier "
                            f"publish (a {CARD} tagged regbench); name a new or empty folder")
    building = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        for configuration in configurations:
            path = building / DATA.format(configuration.name, "00000-of-00001")
            rows = [table.row(record, True) for record in configuration.records]
            artifacts.write_file(path, table.write(path, rows))
            copy_artifacts(configuration.store, configuration.records, building)
            leaderboards(configuration, building)
        (building / CARD).write_text(card(configurations, building, license, repo or out.name,
                                          huggingface_hub))
        clear(out)
        out.mkdir(exist_ok=True)
        for item in building.iterdir():
            item.rename(out / item.name)
    except OSError as exc:
        raise RegbenchError(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from None
    finally:
        if building is not None:
            shutil.rmtree(building, ignore_errors=True)


def earlier(out: Path, huggingface_hub) -> bool:
    """Whether ``out`` holds a publish: a card tagged regbench, with configurations."""
    import yaml  # a dependency of huggingface_hub
    try:
        meta = huggingface_hub.metadata_load(out / CARD)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(meta, dict) and "regbench" in (meta.get("tags") or []) and "configs" in meta


def clear(out: Path) -> None:
    """Remove what a publish writes in ``out``."""
    (out / CARD).unlink(missing_ok=True)
    for name in WRITTEN:
        shutil.rmtree(out / name, ignore_errors=True)


def leaderboards(configuration: Configuration, out: Path) -> None:
    """``leaderboards/<name>.md`` and ``.csv``, as ``regbench leaderboard`` writes them, the
    figures linked in ``out``."""
    from .leaderboard import study_report, to_csv, to_markdown
    from .leaderboard.figure_links import figure_section
    path = out / "leaderboards" / f"{configuration.name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = partial(figure_section, out=path, files=out)
    if configuration.grid:
        markdown, csv = study_report(configuration.grid, configuration.store, figures)
    else:
        markdown, csv = to_markdown(configuration.store, figures=figures), to_csv(configuration.store)
    path.write_text(markdown)
    path.with_suffix(".csv").write_text(csv)


def push(out: Path, repo: str) -> str:
    """Upload ``out`` to the Hub's dataset repository ``repo`` (created if missing), replacing the
    files of an earlier publish there; its address. Raises :class:`NotPushed`."""
    huggingface_hub = hub()
    if not huggingface_hub.get_token():
        raise NotPushed("no Hugging Face token (set HF_TOKEN, or log in with `hf auth login`)")
    api = huggingface_hub.HfApi()
    try:
        url = api.create_repo(repo, repo_type="dataset", exist_ok=True)
        api.upload_folder(repo_id=repo, folder_path=out, repo_type="dataset",
                          commit_message=f"regbench publish ({__version__})",
                          delete_patterns=[f"{name}/**" for name in WRITTEN])
    except Exception as exc:  # the HTTP client's errors are its own, and vary with its version
        raise NotPushed(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") \
            from None
    return str(url)


def card(configurations: list[Configuration], out: Path, license: str, where: str,
         huggingface_hub) -> str:
    """The dataset card of the dataset in ``out``, loaded from ``where`` (its Hub repository or
    folder): YAML header and body."""
    runs = sum(len(c.records) for c in configurations)
    name = f"regbench: {configurations[0].name}" if len(configurations) == 1 else "regbench results"
    header = huggingface_hub.DatasetCardData(
        license=license, tags=TAGS, pretty_name=name,
        size_categories=next((label for limit, label in SIZES if runs < limit), "n>10M"),
        configs=[{"config_name": c.name, "data_files": [{"split": "train", "path": DATA.format(c.name, "*")}]}
                 for c in configurations])
    parts = [f"# {name}", "", *about(configurations, where),
             *production(configurations), *glossary(configurations, out),
             *board_links(configurations), *citation(configurations)]
    return f"---\n{header.to_yaml()}\n---\n\n" + "\n".join(parts) + "\n"


def about(configurations: list[Configuration], where: str) -> list[str]:
    rows = []
    for c in configurations:
        records = c.records
        rows.append(f"| `{c.name}` | {len(records)} | {names(r['task'] for r in records)} | "
                    f"{names(r['reg'] for r in records)} | {seeds(r['seed'] for r in records)} | "
                    f"{cell(c.grid.description if c.grid else 'every counted run of the store')} |")
    first = configurations[0].name
    return [
        "Runs of regbench, a benchmark harness that compares diversity regularizers (losses that "
        "spread a network's latent codes or weights over a hypersphere) on equal terms: the same "
        "tasks, training recipes and metrics, several seeds. One row per run: a task trained with a "
        "regularizer at one configuration of hyperparameters and one seed, as its latest `ok` "
        "record (the one its leaderboard counts).", "",
        "| configuration | runs | tasks | regularizers | seeds | what |", "|---|---|---|---|---|---|",
        *rows, "",
        "```python",
        "from datasets import load_dataset",
        f'runs = load_dataset("{where}", "{first}", split="train")',
        "```", "",
        f"or `pandas.read_parquet(\"data/{first}\")`. The files a run's `record` lists (its arrays "
        "in `artifacts/`, its figures in `figures/`) are in this folder by the same names.", ""]


def production(configurations: list[Configuration]) -> list[str]:
    parts = ["## How the data were produced", "",
             f"This card was written by `regbench publish` (regbench {__version__}). Each "
             "configuration's runs, then its leaderboard, come from:", ""]
    for c in configurations:
        store = f"results/{c.name}"  # a study's own store, as in the project's results/
        if c.grid:
            commands = [f"regbench grid {c.source} --results {store}",
                        f"regbench leaderboard --study {c.source} --results {store} "
                        f"--out leaderboards/{c.name}.md"]
        else:
            commands = [*run_commands(c.records), *(f"regbench leaderboard --out leaderboards/"
                                                    f"{c.name}.{suffix}" for suffix in ("md", "csv"))]
        parts += [f"`{c.name}`:", "", "```", *commands, "```", ""]
        if c.grid:
            parts += ["<details><summary>Each run alone</summary>", "", "```",
                      *run_commands(c.records), "```", "", "</details>", ""]
    rows = [row for c in configurations for row in (table.row(r, True) for r in c.records)]
    columns = sorted({name for row in rows for name in row
                      if name.startswith(("versions.", "hardware."))}) + ["device"]
    parts += ["What the runs ran with (values of the records, with their count of runs):", "",
              "| column | value | runs |", "|---|---|---|"]
    for column in columns:
        counts = Counter(row.get(column) for row in rows)
        for value, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
            parts.append(f"| `{column}` | {cell('not recorded' if value is None else value)} | {count} |")
    return parts + [""]


def run_commands(records: list[dict]) -> list[str]:
    """One ``regbench run`` per configuration and device, over its seeds."""
    found: dict[tuple, list[int]] = {}
    for record in records:
        device = (record.get("device") or "cpu").split(" (")[0]
        found.setdefault((record["task"], record["reg"], settings(record), device), []).append(record["seed"])
    lines = []
    for (task, reg, given, device), numbers in found.items():
        command = ["regbench", "run", "--task", task, "--reg", reg, *(["--set", *given] if given else []),
                   *(["--device", device] if device != "cpu" else []), "--seed"]
        numbers = sorted(set(numbers))
        lines.append(shlex.join([*command, str(numbers[0])]) if len(numbers) == 1 else
                     f"for seed in {' '.join(map(str, numbers))}; do {shlex.join(command)} $seed; done")
    return lines


def settings(record: dict) -> tuple[str, ...]:
    """The ``--set`` items of a record's hyperparameters that differ from their defaults."""
    both = set(record.get("task_params") or {}) & set(record.get("reg_params") or {})
    return tuple(f"{part + '.' if name in both else ''}{name}={cli_value(value)}"
                 for part in ("task", "reg") for name, value in sorted(record["params"][part].items()))


def cli_value(value) -> str:
    """A hyperparameter's value as ``--set`` reads it back."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def glossary(configurations: list[Configuration], out: Path) -> list[str]:
    """The columns, their types (as Parquet holds them) and meaning."""
    types: dict[str, list[str]] = {}
    for c in configurations:
        for field in pq.read_schema(out / DATA.format(c.name, "00000-of-00001")):
            kinds = types.setdefault(field.name, [])
            if str(field.type) not in kinds:
                kinds.append(str(field.type))
    order = [*table.FIELDS, *table.GROUPS.values(), "counted", "record"]
    records = [r for c in configurations for r in c.records]
    parts = ["## Columns", "",
             "As `regbench store export` writes them. Groups: "
             + "; ".join(f"`{prefix}*`, {table.MEANINGS[prefix]}" for prefix in table.GROUPS.values())
             + ". A column holds booleans, integers, numbers or strings as its values are; one whose "
             "values mix types (a number in one run and a string in another), or that has no value, "
             "holds text (anything not a string as its JSON). A hyperparameter or metric that a run "
             "does not have is empty.", "",
             "| column | type | meaning |", "|---|---|---|"]
    for name in sorted(types, key=lambda n: (order.index(n if n in order else n.split(".")[0] + "."), n)):
        parts.append(f"| `{name}` | {' / '.join(types[name])} | {cell(meaning(name, records))} |")
    return parts + [""]


def meaning(column: str, records: list[dict]) -> str:
    """What ``column`` holds, from :data:`regbench.store.table.MEANINGS`, the hyperparameters'
    docs and the declared metrics."""
    if column in table.MEANINGS:
        return table.MEANINGS[column]
    prefix, _, name = column.partition(".")
    general = table.MEANINGS[prefix + "."]
    if prefix in ("task", "reg"):
        registry = TASKS if prefix == "task" else REGULARIZERS
        owners = sorted({r[prefix] for r in records if name in (r.get(f"{prefix}_params") or {})})
        docs: dict[str, list[str]] = {}
        for owner in owners:
            cls = installed(registry, [owner])
            doc = cls[0].params()[name].doc if cls and name in cls[0].params() else general
            docs.setdefault(doc, []).append(owner)
        return "; ".join(f"{doc} ({', '.join(who)})" for doc, who in docs.items())
    if prefix == "metric":
        geometry = next((doc for start, doc in GEOMETRY.items() if name.startswith(start)), None)
        if geometry:
            return f"{geometry}: {name.partition('.')[2]}"
        recorded = {n: d for r in records for n, d in r.get("directions") or []}
        declared = metric(name, recorded.get(name))
        arrow = f" ({ARROWS[declared.direction]})" if declared.direction else ""
        return f"{declared.doc or 'a metric of the task, of no declared meaning'}{arrow}"
    return general


def installed(registry, names) -> list[type]:
    """The classes of ``names`` that are registered here (a plugin's may not be)."""
    return [registry.get(name) for name in names if name in registry.names()]


def board_links(configurations: list[Configuration]) -> list[str]:
    parts = ["## Leaderboards", "",
             "Per task and metric, one row per configuration of hyperparameters: mean ± std over "
             "the seeds, the 95% confidence interval, the paired difference from `none` with "
             "Holm-corrected tests and, for a study, the published numbers it names:", ""]
    parts += [f"- `{c.name}`: [markdown](leaderboards/{c.name}.md), [CSV](leaderboards/{c.name}.csv)"
              for c in configurations]
    return parts + [""]


def citation(configurations: list[Configuration]) -> list[str]:
    records = [r for c in configurations for r in c.records]
    classes = installed(REGULARIZERS, sorted({r["reg"] for r in records})) + \
        installed(TASKS, sorted({r["task"] for r in records}))
    found = papers(classes)
    if not found:
        return []
    entries, keys = [], set()
    for paper, citing in found.items():
        entries += [f"% cited by {', '.join(citing)}", bibtex(paper, keys), ""]
    return ["## Citation", "",
            "The papers behind the regularizers and tasks of these runs, as their docstrings cite "
            "them:", "", "```bibtex", *entries[:-1], "```"]


def names(values) -> str:
    return ", ".join(sorted(set(values)))


def seeds(values) -> str:
    """``0–9``, or ``0, 3, 7``."""
    numbers = sorted(set(values))
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    return ", ".join(map(str, numbers))


def cell(value) -> str:
    """``value`` in a markdown table's cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


# Citations as the docstrings write them: authors, "Title", venue year, arXiv:id (the venue and
# what follows it may be in parentheses; the arXiv id may be missing).
ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}")
ARXIV = re.compile(rf"arXiv:({ARXIV_ID.pattern})")
NAME = r"[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*)*"
AUTHORS = rf"{NAME}(?:, {NAME})*(?:,? (?:and|&) {NAME})?(?: et al\.)?"
VENUE = r"(?:[^\"();]|\([^()\"]*\))*?(?:19|20)\d\d"
AFTER_YEAR = r"(?:(?:[^\"();.]|\([^()\"]*\))*?(?=, ?arXiv:))?"  # "(INNF+), 2020" before the id
CITATION = re.compile(rf"(?P<authors>{AUTHORS}),? \"(?P<title>[^\"]+)\",? \(?"
                      rf"(?P<venue>{VENUE}{AFTER_YEAR})(?:, ?arXiv:(?P<arxiv>{ARXIV_ID.pattern}))?"
                      rf"(?=[\s;.,:)]|$)")
JOURNAL = re.compile(r"\b(?:JMLR|Journal|Transactions|Proc\. IEEE)\b")


@dataclass(frozen=True)
class Paper:
    """A cited paper; only ``arxiv`` where no docstring gives more than its id."""
    arxiv: str | None
    authors: tuple[str, ...] = ()
    title: str = ""
    venue: str = ""
    year: str = ""


def docstrings(cls: type, bases: bool = False) -> str:
    """The docstrings of ``cls`` and of its module (``bases``: of every class it derives from
    too, and of their modules), whitespace made single spaces."""
    classes = [k for k in cls.__mro__ if k is not object] if bases else [cls]
    texts = [text for k in classes for text in (sys.modules[k.__module__].__doc__, k.__doc__) if text]
    return " ".join(" ".join(dict.fromkeys(texts)).split())


def cited(text: str) -> list[Paper]:
    """The citations written out in ``text``."""
    found = []
    for match in CITATION.finditer(text):
        authors = re.split(r", (?:and |& )?|,? (?:and|&) ", match["authors"])
        if authors[-1].endswith(" et al."):
            authors[-1:] = [authors[-1].removesuffix(" et al."), "others"]
        venue = match["venue"]
        found.append(Paper(match["arxiv"], tuple(authors), match["title"],
                           re.sub(r",? (?:19|20)\d\d$", "", venue), re.findall(r"(?:19|20)\d\d", venue)[-1]))
    return found


def papers(classes: list[type]) -> dict[Paper, list[str]]:
    """The papers that the docstrings of ``classes`` (and of their modules) cite, written out or
    by arXiv id, each with the names of the classes citing it. A paper is given in its fullest
    citation among the docstrings of every registered regularizer and task."""
    every = dict.fromkeys([*classes, *installed(REGULARIZERS, REGULARIZERS.names()),
                           *installed(TASKS, TASKS.names())])
    forms = [paper for cls in every for paper in cited(docstrings(cls, bases=True))]
    arxiv = {title_key(p.title): p.arxiv for p in forms if p.arxiv}

    def identity(paper: Paper) -> str:
        """Its arXiv id (another citation's of the same title, if need be), else its title."""
        return paper.arxiv or arxiv.get(title_key(paper.title)) or title_key(paper.title)
    grouped: dict[str, list[Paper]] = {}
    for paper in forms:
        grouped.setdefault(identity(paper), []).append(paper)
    fullest = {key: replace(max(group, key=lambda p: ("others" not in p.authors, len(p.authors),
                                                       len(" ".join(p.authors)), len(p.venue))),
                            arxiv=key if ARXIV_ID.fullmatch(key) else None)
               for key, group in grouped.items()}
    found: dict[str, list[str]] = {}
    for cls in classes:
        text = docstrings(cls)
        for key in dict.fromkeys([*map(identity, cited(text)), *ARXIV.findall(text)]):
            found.setdefault(key, []).append(cls.registered_name)
    return {fullest.get(key, Paper(key)): citing for key, citing in found.items()}


def title_key(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


def bibtex(paper: Paper, keys: set[str]) -> str:
    """The BibTeX entry of ``paper``, under a key not in ``keys`` (added to them)."""
    if not paper.title:
        fields, kind, key = {}, "misc", "arxiv" + paper.arxiv.replace(".", "_")
    else:
        word = next((w for w in map(plain, paper.title.split()) if len(w) > 3), "")
        key = plain(paper.authors[0].split()[-1]) + paper.year + word
        journal = JOURNAL.search(paper.venue)
        kind = "article" if journal else "inproceedings"
        fields = {"author": " and ".join(paper.authors), "title": "{" + paper.title + "}",
                  "journal" if journal else "booktitle": paper.venue, "year": paper.year}
    if paper.arxiv:
        fields.update(eprint=paper.arxiv, archivePrefix="arXiv")
    unique = key
    for suffix in "bcdefghijklmnopqrstuvwxyz":
        if unique not in keys:
            break
        unique = key + suffix
    keys.add(unique)
    lines = [f"  {name} = {{{value}}}," for name, value in fields.items() if value]
    return "\n".join([f"@{kind}{{{unique},", *lines, "}"])


def plain(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents dropped)."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
                  .decode().lower())
