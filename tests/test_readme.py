"""The README's "Add your own regularizer" example works exactly as written."""
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


def test_readme_states_the_test_command_that_ci_runs():
    """The README's test command is a line of .ci/run, and it runs the whole suite: ``-m ""``
    replaces the default ``-m`` of pyproject.toml (which leaves out slow, ray and data)."""
    command = 'pip install -e ".[test]" && pytest -m ""'

    def lines(path):
        return [line.strip() for line in path.read_text().splitlines()]
    assert command in lines(README) and command in lines(README.parent / ".ci" / "run")
