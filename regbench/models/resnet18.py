"""CIFAR-style ResNet-18 of the CIFAR-100 experiments of Weiyang Liu, Rongmei Lin, Zhen Liu, Li Xiong,
Bernhard Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity", AISTATS 2021,
arXiv:2103.01649; the network of Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun, "Deep Residual
Learning for Image Recognition", CVPR 2016, arXiv:1512.03385.

A 3×3 stride-1 stem convolution to 64 channels (no max-pool), four stages of two BasicBlocks
(64, 128, 256, 512 channels; stride 2 at the start of stages 2–4, with a 1×1 convolution + BN on
the shortcut there), global average pooling and a linear layer to the classes: 11.2M parameters
for 100 classes. The classifier is the last module, so :func:`regbench.weights.weight_layers`
marks it as the final layer.
"""
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out)]


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.residual = nn.Sequential(*conv_bn(c_in, c_out, 3, stride), nn.ReLU(inplace=True),
                                      *conv_bn(c_out, c_out, 3, 1))
        self.shortcut = (nn.Sequential(*conv_bn(c_in, c_out, 1, stride))
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        return (self.residual(x) + self.shortcut(x)).relu()


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 100, in_channels: int = 3):
        super().__init__()
        blocks, channels = [], 64
        for stage, width in enumerate((64, 128, 256, 512)):
            blocks += [BasicBlock(channels, width, 1 if stage == 0 else 2), BasicBlock(width, width, 1)]
            channels = width
        self.features = nn.Sequential(*conv_bn(in_channels, 64, 3, 1), nn.ReLU(inplace=True), *blocks,
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
