"""A model's conv and linear layers as :class:`WeightLayer` rows, for the weight regularizers.

As in Liu, Lin, Liu, Xiong, Schölkopf & Weller, "Learning with Hyperspherical Uniformity",
AISTATS 2021, arXiv:2103.01649: every conv and linear layer, each filter flattened to a row (conv
``[c_out, c_in, k, k]`` → ``c_out × c_in·k·k``); the last layer in module order is the final
(classifier) layer. Transposed convolutions give one row per output channel. Modules named
``Linear`` with a 2-D ``weight`` (e.g. torch_geometric's, inside ``GCNConv``) count as linear.
Rows are views of the parameters, so penalties on them reach the weights' gradients.
"""
import torch
from torch import nn

from .regularizers._base import WeightLayer

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED_CONVS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def filter_rows(module: nn.Module) -> torch.Tensor | None:
    """The module's filters as rows, or ``None`` for a module that is not a conv/linear layer."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or isinstance(weight, nn.parameter.UninitializedParameter):
        return None
    if isinstance(module, CONVS):
        return weight.flatten(1)
    if isinstance(module, TRANSPOSED_CONVS):  # weight [c_in, c_out/groups, *k]
        g = module.groups
        grouped = weight.unflatten(0, (g, weight.shape[0] // g)).transpose(1, 2)
        return grouped.flatten(0, 1).flatten(1)
    if isinstance(module, nn.Linear) or (type(module).__name__ == "Linear" and weight.dim() == 2):
        return weight
    return None


def weight_layers(model: nn.Module) -> list[WeightLayer]:
    """Every conv/linear layer of ``model`` in module order; the last one is marked final."""
    found = [(name, rows) for name, module in model.named_modules()
             if (rows := filter_rows(module)) is not None]
    return [WeightLayer(name, rows, i == len(found) - 1) for i, (name, rows) in enumerate(found)]
