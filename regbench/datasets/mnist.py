"""MNIST (LeCun et al. 1998) as uint8 tensors, padded to 32×32 as in §4 of Xuefeng Li and Alan
Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit projection", IJCNN
2022, arXiv:2104.11610.

The four original ``.gz`` files are read from torchvision's layout ``<data dir>/MNIST/raw/`` with
gzip + numpy, so nothing is extracted into the (read-only) data directory, and md5-checked against
torchvision's checksums. When a file is missing, torchvision downloads the set into the cache
directory; offline, the error names the missing file and where to put it.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import RegbenchError
from ..settings import cache_dir
from .files import checked_files

FILES = {  # torchvision.datasets.MNIST.resources
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def download() -> None:
    """The set into the cache directory (needs torchvision and a network)."""
    from torchvision.datasets import MNIST
    MNIST(str(cache_dir()), download=True)


def mnist_files() -> dict[str, Path]:
    """The four checked ``.gz`` files, downloading them into the cache when any is missing."""
    return checked_files("MNIST/raw", FILES, "MNIST", download)


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (magic 2051: images n×28×28, 2049: labels n) from a gzip file."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise RegbenchError(f"{path} is not an MNIST IDX file (magic {magic})")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(magic - 2048)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load_mnist(pad: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): images uint8 n×1×(28+2·pad)², labels int64."""
    paths = mnist_files()

    def images(name):
        return F.pad(torch.from_numpy(read_idx(paths[name]).copy()).unsqueeze(1), [pad] * 4)

    def labels(name):
        return torch.from_numpy(read_idx(paths[name]).astype(np.int64))

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))
