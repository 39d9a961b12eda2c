"""Built-in tasks: one file each, registered by name on import."""
import importlib
import pkgutil

from ._base import RunContext, Task

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["RunContext", "Task"]
