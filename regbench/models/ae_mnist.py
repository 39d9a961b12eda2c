"""MNIST autoencoder of the eccentric paper: Xuefeng Li and Alan Blair, "Eccentric Regularization:
Minimizing Hyperspherical Energy without explicit projection", IJCNN 2022, arXiv:2104.11610, appendix A.4.

Encoder, on 32×32×1 (MNIST padded by 2): Conv16 5×5/1 → Conv24 4×4/2 → Conv32 4×4/1 →
Conv48 4×4/2, each followed by BatchNorm and LeakyReLU(0.1), then FC64 → FC ``head_size`` (no
activation between the two, as listed). Without padding the maps are 28, 13, 10, 4.

Decoder, from the ``d`` codes as a 1×1 map: transposed convolutions 48 3×3/1 → 32 4×4/2 → 24 4×4/1
→ 16 4×4/2 → 16 5×5/1 → 16 1×1 → 16 1×1, each with BatchNorm and LeakyReLU(0.1), then 1 1×1 and a
sigmoid. Without padding the maps are 3, 8, 11, 24, 28: the decoder draws the original 28×28 digit,
so its output is zero-padded back to 32×32 to line up with the input (the border carries no loss).
"""
from torch import nn


def _block(layer: nn.Module, channels: int) -> list[nn.Module]:
    return [layer, nn.BatchNorm2d(channels), nn.LeakyReLU(0.1)]


def mnist_encoder(head_size: int) -> nn.Sequential:
    layers, channels = [], 1
    for width, kernel, stride in ((16, 5, 1), (24, 4, 2), (32, 4, 1), (48, 4, 2)):
        layers += _block(nn.Conv2d(channels, width, kernel, stride), width)
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(48 * 4 * 4, 64), nn.Linear(64, head_size))


def mnist_decoder(d: int) -> nn.Sequential:
    layers, channels = [nn.Unflatten(1, (d, 1, 1))], d
    for width, kernel, stride in ((48, 3, 1), (32, 4, 2), (24, 4, 1), (16, 4, 2), (16, 5, 1),
                                  (16, 1, 1), (16, 1, 1)):
        layers += _block(nn.ConvTranspose2d(channels, width, kernel, stride), width)
        channels = width
    return nn.Sequential(*layers, nn.ConvTranspose2d(16, 1, 1), nn.Sigmoid(), nn.ZeroPad2d(2))
