"""Built-in targets: what a task exposes to a regularizer, one file each, registered by name."""
import importlib
import pkgutil

from ._base import Target

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Target"]
