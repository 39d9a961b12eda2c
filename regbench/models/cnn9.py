"""CNN-9 of the CIFAR-100 experiments of Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong, Bernhard
Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649.

Three stages of three 3×3 convolutions (64, 128, 256 channels; ``widths`` narrows them) with
BatchNorm and ReLU, a 2×2 max-pool after each stage; a 4×4 convolution to the last width (no
BN/ReLU) and a 1×1 convolution to the classes. A 32×32 input leaves a 1×1 map, flattened to the
logits.
"""
from torch import nn


def cnn9(num_classes: int = 100, in_channels: int = 3,
         widths: tuple[int, int, int] = (64, 128, 256)) -> nn.Sequential:
    layers, channels = [], in_channels
    for width in widths:
        for _ in range(3):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Conv2d(channels, channels, 4), nn.Conv2d(channels, num_classes, 1), nn.Flatten()]
    return nn.Sequential(*layers)
