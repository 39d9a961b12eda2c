"""Name → class registries for regularizers and tasks, with plugin discovery.

Like timm's ``@register_model``: decorate a class with ``@register_regularizer("name")``,
``@register_task("name")`` or ``@register_target("name")``. The built-in packages
``regbench.regularizers``, ``regbench.tasks`` and ``regbench.targets``, then third-party packages
found through the entry-point groups of the same names, are imported on
first lookup; modules can be imported explicitly with ``load_plugin("some.module")`` (the CLI's
``--plugin``).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from typing import Any

from .errors import RegbenchError
from .params import unknown_name_message


class Registry:
    def __init__(self, kind: str, group: str, builtins: str | None = None):
        self.kind = kind
        self.group = group
        self.builtins = builtins  # the package whose modules register the built-in classes
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, name: str):
        """Class decorator registering ``cls`` under ``name``; a second owner of a name is an error."""
        def decorator(cls):
            previous = self._classes.get(name)
            if previous is not None and _origin(previous) != _origin(cls):
                raise RegbenchError(f"{self.kind} '{name}' is registered twice: by {_origin(previous)} "
                                    f"and by {_origin(cls)}")
            cls.registered_name = name
            cls.kind = self.kind
            self._classes[name] = cls
            return cls
        return decorator

    def load(self) -> None:
        """Import the built-in package, then every module advertised under this registry's
        entry-point group (once)."""
        if self._loaded:
            return
        self._loaded = True
        if self.builtins:
            importlib.import_module(self.builtins)
        for ep in importlib.metadata.entry_points(group=self.group):
            try:
                obj = ep.load()
            except Exception as exc:
                raise RegbenchError(f"plugin entry point '{ep.name} = {ep.value}' ({self.group}) "
                                    f"failed to import: {type(exc).__name__}: {exc}") from exc
            if isinstance(obj, type) and ep.name not in self._classes:
                self.register(ep.name)(obj)

    def names(self) -> list[str]:
        self.load()
        return sorted(self._classes)

    def names_from(self, module: str) -> list[str]:
        """The names of the classes that ``module`` (or a module in it) defines."""
        return [name for name in self.names() if self._classes[name].__module__ == module
                or self._classes[name].__module__.startswith(module + ".")]

    def get(self, name: str) -> type:
        self.load()
        if name not in self._classes:
            raise RegbenchError(unknown_name_message(self.kind, name, self._classes))
        return self._classes[name]

    def create(self, name: str, **hparams: Any):
        return self.get(name)(**hparams)


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


REGULARIZERS = Registry("regularizer", "regbench.regularizers", builtins="regbench.regularizers")
TASKS = Registry("task", "regbench.tasks", builtins="regbench.tasks")
TARGETS = Registry("target", "regbench.targets", builtins="regbench.targets")
register_regularizer = REGULARIZERS.register
register_task = TASKS.register
register_target = TARGETS.register


def create_regularizer(name: str, **hparams: Any):
    """The regularizer ``name`` with hyperparameters validated (defaults filled in)."""
    return REGULARIZERS.create(name, **hparams)


def create_task(name: str, **hparams: Any):
    """The task ``name`` with hyperparameters validated (defaults filled in)."""
    return TASKS.create(name, **hparams)


def load_plugin(module: str, directory: str | None = None) -> None:
    """Import ``module`` so that its decorators register, from the installed packages or from
    ``directory`` (the working directory by default). The directory is on ``sys.path`` only while
    the plugin is imported: a file there (say ``matplotlib.py``) never shadows a library that
    regbench imports later."""
    directory = os.path.abspath(directory or os.getcwd())
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise RegbenchError(f"plugin module '{module}' not found (is it installed or in the "
                                f"current directory?)") from exc
        raise RegbenchError(f"plugin module '{module}' failed to import: {exc} (install it)") from exc
    except RegbenchError:
        raise
    except Exception as exc:
        raise RegbenchError(f"plugin module '{module}' failed to import: "
                            f"{type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(directory)
