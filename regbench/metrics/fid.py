"""FID (Heusel et al. 2017) with pytorch-fid's Inception network (pool3, 2048 features).

The weights (``pt_inception-2015-12-05-6726825d.pth``, the port of TensorFlow's FID Inception) cannot
be downloaded here, so they are read from a local file: the task's ``fid_weights`` parameter, else
``$REGBENCH_FID_WEIGHTS``. Without a file the metric is skipped and the record says why.
Images are uint8 (generated ones are quantised to 8 bits, as pytorch-fid's PNG files); grey images
are repeated to 3 channels and pytorch-fid resizes to 299×299 bilinearly. Reference statistics are
cached in ``cache_dir()/fid/`` under the reference's key and the weights' sha256.
"""
from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from ..datasets.files import file_digest, load_tensors
from ..errors import RegbenchError
from ..settings import cache_dir
from .frechet import embed_all, fingerprint, gaussian

WEIGHTS_ENV = "REGBENCH_FID_WEIGHTS"
BATCH = 50


def weights_file(setting: str = "") -> Path | None:
    """The weights file from the setting or the environment; an error if it names no file."""
    path = setting or os.environ.get(WEIGHTS_ENV, "")
    if not path:
        return None
    if not Path(path).expanduser().is_file():
        raise RegbenchError(f"FID weights file {path} does not exist (pytorch-fid's "
                            f"pt_inception-2015-12-05-6726825d.pth)")
    return Path(path).expanduser()


def inception(weights: Path, device) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3`` (pool3 block) with the FID weights read from ``weights``
    (pytorch-fid loads them only from its download URL, so its loader is pointed at the file)."""
    from pytorch_fid import inception as fid_inception
    state = load_tensors(weights, "FID weights file")
    with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: state):
        return fid_inception.InceptionV3([3]).to(device).eval()


class FID:
    """Inception features of uint8 images and their Gaussian statistics."""

    def __init__(self, weights: Path, device):
        self.weights_sha256 = file_digest(weights, "sha256")
        self.network = inception(weights, device)
        self.device = device

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.network(x)[0].flatten(1)

    def statistics(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        return gaussian(embed_all(self.embed, images, BATCH, self.device))

    def reference(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Statistics of reference images, cached under the images' and the weights' hashes."""
        path = cache_dir() / "fid" / f"{fingerprint(images)}-{self.weights_sha256[:16]}.npz"
        if path.exists():
            stats = np.load(path)
            return stats["mu"], stats["sigma"]
        mu, sigma = self.statistics(images)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, mu=mu, sigma=sigma)
        partial.replace(path)
        return mu, sigma
