"""The README's "Add your own regularizer" example and its walk-through of placing a plugin in the
benchmark work exactly as written."""
import re
import shlex
from pathlib import Path

from conftest import run_cli

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_plugin_example_runs_through_the_cli(tmp_path, store_dir):
    section = readme_section("Add your own regularizer")
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    command = re.search(r"```\n(regbench run .*?)\n```", section, re.S).group(1)
    assert 10 <= len(code.strip().splitlines()) <= 20
    (tmp_path / "my_regularizer.py").write_text(code)
    result = run_cli(*shlex.split(command)[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "digits_ae × unit_norm" in result.stdout and "→  ok" in result.stdout


def test_readme_walk_through_checks_and_places_the_examples(store_dir):
    """The walk-through's check and dry run work as written, from a checkout, and the cost it
    quotes is the dry run's."""
    section = readme_section("Place your own regularizer or task in the benchmark")
    check = re.search(r"```\n(regbench check .*?)\n```", section, re.S).group(1)
    dry_run = re.search(r"```\n(regbench suite .*? --dry-run)\n", section, re.S).group(1)
    root = README.parent
    checked = run_cli(*shlex.split(check)[1:], cwd=root)
    assert checked.returncode == 0 and checked.stdout.rstrip().endswith("29 checks: 29 hold."), checked.stdout
    planned = run_cli(*shlex.split(dry_run)[1:], cwd=root)
    assert planned.returncode == 0, planned.stderr
    placed = re.search(r"placed: regularizer coding_rate: (\d+) trials of its own \(0 recorded\), about "
                       r"([\d.]+) trial-hours in all, [\d.]+% of the suite's ([\d.]+) trial-hours without it "
                       r"\(about (1/\d+)\)", planned.stdout)
    trials, hours, suite, share = placed.groups()
    assert (f"{trials} trials, about {hours} trial-hours against the suite's {suite} ({share} of it"
            in " ".join(section.split()))
    assert not store_dir.exists()  # a dry run writes nothing, not even the user's store


def test_readme_states_the_test_command_that_ci_runs():
    """The README's test command is a line of .ci/run, and it runs the whole suite: ``-m ""``
    replaces the default ``-m`` of pyproject.toml (which leaves out slow, ray and data)."""
    command = 'pip install -e ".[test]" && pytest -m ""'

    def lines(path):
        return [line.strip() for line in path.read_text().splitlines()]
    assert command in lines(README) and command in lines(README.parent / ".ci" / "run")
