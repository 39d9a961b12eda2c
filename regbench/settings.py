"""Where regbench reads datasets and writes caches.

- data directory (read-only to regbench): ``$REGBENCH_DATA`` (the CLI's ``--data-dir`` sets it),
  else ``$XDG_DATA_HOME/regbench/data`` (``~/.local/share/regbench/data``);
- cache directory (extracted/processed data, reference statistics, trained feature networks):
  ``$REGBENCH_CACHE``, else ``$XDG_CACHE_HOME/regbench`` (``~/.cache/regbench``).
Environment variables reach local worker processes too.
"""
import os
from pathlib import Path


def data_dir() -> Path:
    if os.environ.get("REGBENCH_DATA"):
        return Path(os.environ["REGBENCH_DATA"]).expanduser()
    home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(home) / "regbench" / "data"


def cache_dir() -> Path:
    if os.environ.get("REGBENCH_CACHE"):
        return Path(os.environ["REGBENCH_CACHE"]).expanduser()
    home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(home) / "regbench"
