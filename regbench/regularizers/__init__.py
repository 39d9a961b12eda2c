"""Built-in regularizers: one file each, registered by name on import; the public bases of a
regularizer (:class:`Regularizer`) and of a weight regularizer (:class:`WeightRegularizer`)."""
import importlib
import pkgutil

from ._base import CODES, POSTERIOR, WEIGHTS, Regularizer, WeightLayer
from ._layerwise import WeightRegularizer

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CODES", "POSTERIOR", "WEIGHTS", "Regularizer", "WeightLayer", "WeightRegularizer"]
