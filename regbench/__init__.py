"""regbench: a benchmark harness comparing diversity regularizers on equal terms."""
__version__ = "0.1.0"

from .errors import Diverged, RegbenchError
from .params import Param
from .registry import (REGULARIZERS, TASKS, create_regularizer, create_task, load_plugin,
                       register_regularizer, register_task)
from .regularizers import CODES, POSTERIOR, WEIGHTS, Regularizer, WeightLayer
from .tasks import RunContext, Task

__all__ = ["CODES", "POSTERIOR", "WEIGHTS", "Diverged", "Param", "REGULARIZERS", "RegbenchError",
           "Regularizer", "RunContext", "TASKS", "Task", "WeightLayer", "create_regularizer",
           "create_task", "load_plugin", "register_regularizer", "register_task"]
