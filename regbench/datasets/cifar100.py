"""CIFAR-100 (Krizhevsky 2009) as uint8 tensors, for the classification tasks of Weiyang Liu, Rongmei
Lin, Zhen Liu, Li Xiong, Bernhard Schölkopf, Adrian Weller, "Learning with Hyperspherical Uniformity",
AISTATS 2021, arXiv:2103.01649.

The python version in torchvision's layout, ``<data dir>/cifar-100-python/{train,test}``: pickles
holding ``data`` (uint8, n × 3072, the red, green and blue 32×32 planes of each image) and
``fine_labels`` (the 100 classes). Both files are md5-checked against :data:`FILES`, torchvision's
checksums (``torchvision.datasets.CIFAR100.train_list`` / ``test_list``). When a file is missing,
torchvision downloads the set into the cache directory; offline, the error names the missing file
and where to put it. (Tests write small files in this format and put their own checksums in
:data:`FILES`.)
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ..errors import RegbenchError
from ..settings import cache_dir
from .files import checked_files

FOLDER = "cifar-100-python"
FILES = {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"}
MEAN = (0.5071, 0.4865, 0.4409)  # per-channel statistics of the 50,000 training images
STD = (0.2673, 0.2564, 0.2762)


def download() -> None:
    """The archive into the cache directory, extracted (needs torchvision and a network)."""
    from torchvision.datasets import CIFAR100
    CIFAR100(str(cache_dir()), download=True)


def cifar100_files() -> dict[str, Path]:
    """The checked ``train`` and ``test`` files, downloading them into the cache when any is missing."""
    return checked_files(FOLDER, FILES, "CIFAR-100", download)


def read_split(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 n×3×32×32, fine labels int64 n) of one pickle."""
    with open(path, "rb") as f:
        entries = pickle.load(f, encoding="latin1")  # the originals are Python 2 pickles
    entries = {k.decode() if isinstance(k, bytes) else k: v for k, v in entries.items()}
    if "data" not in entries or "fine_labels" not in entries:
        raise RegbenchError(f"{path} is not a CIFAR-100 python pickle (no data / fine_labels)")
    images = np.asarray(entries["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return torch.from_numpy(images.copy()), torch.tensor(entries["fine_labels"], dtype=torch.int64)


def load_cifar100() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): images uint8 n×3×32×32, labels int64."""
    paths = cifar100_files()
    return (*read_split(paths["train"]), *read_split(paths["test"]))
