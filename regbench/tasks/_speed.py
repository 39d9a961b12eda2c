"""Memory-format and mixed-precision switches of the image tasks (off by default).

``channels_last`` stores images and convolution weights channels-last; ``autocast=bf16`` runs the
training steps' forward passes under bfloat16 autocast (the training loop applies it; the networks'
outputs, and so the losses, are float32; evaluation runs in float32). Both change speed, not the
recipe; each task tests its losses against the float32 default.
"""
import torch
from torch import nn

from ..params import Param


class SpeedOptions:
    """The two ``Param``s and their use, mixed into a task class."""

    channels_last = Param(False, "channels-last memory format for images and convolutions",
                          identity=False)
    autocast = Param("none", "mixed precision of the networks' forward passes (losses in float32)",
                     choices=("none", "bf16"))

    def place(self, model: nn.Module, device) -> nn.Module:
        """``model`` on ``device``, channels-last when asked."""
        return model.to(device, memory_format=torch.channels_last if self.channels_last else
                        torch.preserve_format)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of images in the task's memory format."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x
