"""Training progress bars: tqdm on a terminal, silent when piped or with ``--quiet``."""
import sys

from tqdm.auto import tqdm


def progress_bar(iterable, total=None, desc="", quiet=False):
    return tqdm(iterable, total=total, desc=desc, leave=False,
                disable=quiet or not sys.stderr.isatty(), dynamic_ncols=True)
