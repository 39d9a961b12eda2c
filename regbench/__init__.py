"""regbench: a benchmark harness comparing diversity regularizers on equal terms.

The public names are imported on first use (PEP 562), which keeps ``regbench --help`` fast.
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "errors": ["Diverged", "RegbenchError"],
    "params": ["Param"],
    "registry": ["REGULARIZERS", "TARGETS", "TASKS", "create_regularizer", "create_task", "load_plugin",
                 "register_regularizer", "register_target", "register_task"],
    "regularizers": ["CODES", "POSTERIOR", "WEIGHTS", "Regularizer", "WeightLayer", "WeightRegularizer"],
    "targets": ["Target"],
    "tasks": ["RunContext", "Task"],
    "training": ["Training", "epochs", "fit"],
    "metrics.declared": ["declare"],
}
_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE)


def __getattr__(name: str):
    if name not in _MODULE:
        raise AttributeError(f"module 'regbench' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{_MODULE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
