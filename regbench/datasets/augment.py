"""Batched image augmentation on the training device: no per-image Python work.

``random_crop_flip`` is torchvision's ``RandomCrop(size, padding=p)`` (zero padding) followed by
``RandomHorizontalFlip()`` for a whole uint8 batch at once: one offset pair and one coin per image,
drawn from the given generator (on the batch's device), applied by one gather. :class:`Normalize`
turns uint8 images into float ``(x/255 − mean) / std`` as a network's first module, so its
constants live on the device with the weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def crop_flip(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
              padding: int) -> torch.Tensor:
    """Image i of ``x`` (n×C×H×W), zero-padded by ``padding``, cropped to H×W at row ``dy[i]``,
    column ``dx[i]`` of the padded image, then mirrored left-right where ``flip[i]``."""
    n, c, h, w = x.shape
    padded = F.pad(x, [padding] * 4)
    rows = dy[:, None] + torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = dx[:, None] + torch.where(flip[:, None], cols.flip(1), cols)
    index = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_crop_flip(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """A random ``padding``-pixel shift (zeros shifted in) and a fair coin for a mirror per image."""
    n = len(x)
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=x.device)
    flip = torch.randint(0, 2, (n,), generator=generator, device=x.device).bool()
    return crop_flip(x, dy, dx, flip, padding)


class Normalize(nn.Module):
    """uint8 images n×C×H×W → float32 ``(x/255 − mean[c]) / std[c]`` (memory format kept)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1).mul(255))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1).mul(255))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std
