"""Built-in regularizers: one file each, registered by name on import."""
import importlib
import pkgutil

from .base import CODES, POSTERIOR, WEIGHTS, Regularizer, WeightLayer

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base",):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CODES", "POSTERIOR", "WEIGHTS", "Regularizer", "WeightLayer"]
