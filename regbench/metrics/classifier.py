"""A small classifier whose features give an offline generation metric (no download needed).

"FCD" (Fréchet classifier distance) is the Fréchet distance between feature Gaussians, as FID, but
in the 128 pooled features of this network instead of Inception's: comparable between runs on the
same dataset, not with published FID numbers. The network (3 stride-2 3×3 convolutions 32-64-128
with BatchNorm and ReLU, global average pooling, linear head) is trained once per dataset: on the
labels of the training images (class labels → cross-entropy; 0/1 attribute rows → binary
cross-entropy, rows with −1 left out), Adam 1e-3, ``STEPS`` minibatches of 128, seed 0; it is cached
in ``cache_dir()/classifier/`` under the sha256 of the images and labels and the recipe.
"""
from __future__ import annotations

import itertools
import os

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.files import load_tensors
from ..settings import cache_dir
from ..training import Training, fit
from .frechet import fingerprint

STEPS = 500
BATCH = 128


class SmallClassifier(nn.Module):
    def __init__(self, channels: int, outputs: int):
        super().__init__()
        layers, width = [], channels
        for out in (32, 64, 128):
            layers += [nn.Conv2d(width, out, 3, 2, 1), nn.BatchNorm2d(out), nn.ReLU()]
            width = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(128, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train(images: torch.Tensor, labels: torch.Tensor, device) -> SmallClassifier:
    multilabel = labels.dim() == 2
    if multilabel:
        keep = (labels >= 0).all(1)
        images, labels = images[keep], labels[keep].float()
    outputs = labels.shape[1] if multilabel else int(labels.max()) + 1
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = SmallClassifier(images.shape[1], outputs).to(device)
    loss_fn = F.binary_cross_entropy_with_logits if multilabel else F.cross_entropy
    batches = (torch.randint(len(images), (BATCH,), generator=generator) for _ in itertools.count())

    def loss(net, batch):
        return loss_fn(net(images[batch].to(device).float().div(255)), labels[batch].to(device)), {}

    fit(Training(net, torch.optim.Adam(net.parameters(), lr=1e-3), batches, STEPS, period=STEPS,
                 unit="step"), loss)
    return net.eval()


def classifier(images: torch.Tensor, labels: torch.Tensor, device) -> tuple[SmallClassifier, str]:
    """The trained network for this dataset (from the cache when there) and its cache key."""
    key = f"{fingerprint(images, labels)}-{STEPS}x{BATCH}"
    path = cache_dir() / "classifier" / f"{key}.pt"
    if path.exists():
        state = load_tensors(path, "cached classifier", device)
        net = SmallClassifier(images.shape[1], state["head.weight"].shape[0]).to(device)
        net.load_state_dict(state)
        return net.eval(), key
    net = train(images, labels, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(net.state_dict(), partial)
    partial.replace(path)
    return net, key
