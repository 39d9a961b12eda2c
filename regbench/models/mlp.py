"""A multilayer perceptron: linear layers of the given sizes with an activation between them (none
after the last), optionally followed by a final module (e.g. a sigmoid)."""
from typing import Callable

from torch import nn


def mlp(sizes: list[int], final: nn.Module | None = None,
        activation: Callable[[], nn.Module] = lambda: nn.LeakyReLU(0.1)) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers, *([final] if final else []))
