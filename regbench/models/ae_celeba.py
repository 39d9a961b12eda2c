"""CelebA autoencoder of the eccentric paper, after the WAE's.

Xuefeng Li and Alan Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit
projection", IJCNN 2022, arXiv:2104.11610, appendix A.4; the network is that of Ilya Tolstikhin, Olivier
Bousquet, Sylvain Gelly, Bernhard Schölkopf, "Wasserstein Auto-Encoders", ICLR 2018, arXiv:1711.01558
(code ``tolstikhin/wae``).

Encoder, on 64×64×3: Conv128 → Conv256 → Conv512 → Conv1024, all 4×4 stride 2 (padding 1, the maps
halve to 4×4 as with TensorFlow's SAME padding), each with BatchNorm and ReLU, then FC ``head_size``.

Decoder: FC 8×8×1024 (+ ReLU, as the WAE code) → transposed convs 512, 256, 128 (4×4 stride 2, maps
16, 32, 64) with BatchNorm and ReLU → a stride-1 4×4 layer to 3 channels and a sigmoid. The paper
writes 1 output channel for that layer; the images have 3 (RGB). A stride-1 transposed
convolution is a convolution, written here as one with SAME padding (1 before, 2 after).
"""
from torch import nn


def celeba_encoder(head_size: int) -> nn.Sequential:
    layers, channels = [], 3
    for width in (128, 256, 512, 1024):
        layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(1024 * 4 * 4, head_size))


def celeba_decoder(d: int) -> nn.Sequential:
    layers, channels = [nn.Linear(d, 8 * 8 * 1024), nn.Unflatten(1, (1024, 8, 8)), nn.ReLU()], 1024
    for width in (512, 256, 128):
        layers += [nn.ConvTranspose2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(128, 3, 4), nn.Sigmoid())
