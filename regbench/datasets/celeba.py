"""CelebA aligned faces (Liu et al. 2015) as uint8 tensors, centre-cropped then resized.

Read from ``<data dir>/celeba/`` (torchvision's layout): through ``torchvision.datasets.CelebA``,
which md5-checks the annotation files, when the full dataset is there (bbox, landmark and identity
files present); otherwise from a folder with ``img_align_celeba/``, ``list_eval_partition.txt`` and,
when present, ``list_attr_celeba.txt``, joined by file name. Attributes are kept for the images that
have a row (the offline subset has rows only for ids ≤ 020000); the others get −1. When
``img_align_celeba.md5`` lists image checksums, every image is checked while it is decoded.

Preprocessing is the WAE's "closecrop" (``tolstikhin/wae`` datahandler): the central 140×140
square, resized to 64×64 with Lanczos. Decoding is slow, so the decoded tensor is cached in
``cache_dir()/celeba/`` under a key of the file names, file sizes and preprocessing.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import RegbenchError
from ..settings import cache_dir
from .files import file_digest, find, load_tensors, missing

FULL_ONLY = ("list_bbox_celeba.txt", "list_landmarks_align_celeba.txt", "identity_CelebA.txt")
SPLITS = ("train", "valid", "test")


@dataclass
class CelebA:
    images: torch.Tensor  # uint8 n×3×size×size
    partition: torch.Tensor  # int64: 0 train, 1 valid, 2 test
    attributes: torch.Tensor  # int8 n×40: 1 / 0, −1 for images without an attribute row
    attribute_names: list[str]
    checksums: dict[str, str]  # {file: "md5:…"}; the images by their names and sizes


def celeba_folder() -> Path:
    """The folder holding the dataset, downloading it into the cache when it is absent."""
    found = find("celeba/list_eval_partition.txt")
    if found:
        return found.parent
    try:
        from torchvision.datasets import CelebA as TorchvisionCelebA
        TorchvisionCelebA(str(cache_dir()), split="all", download=True)
    except Exception as exc:  # offline, or torchvision unusable
        raise missing("celeba/list_eval_partition.txt", "CelebA",
                      f"download failed: {type(exc).__name__}: {exc}") from None
    return cache_dir() / "celeba"


def torchvision_index(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    from torchvision.datasets import CelebA as TorchvisionCelebA
    try:
        parts = [TorchvisionCelebA(str(folder.parent), split=s, target_type="attr") for s in SPLITS]
    except RuntimeError as exc:
        raise RegbenchError(f"CelebA in {folder}: {exc}") from None
    files = [name for part in parts for name in part.filename]
    partition = np.concatenate([np.full(len(part.filename), i) for i, part in enumerate(parts)])
    attributes = torch.cat([part.attr for part in parts]).numpy().astype(np.int8)
    return files, partition, attributes, list(parts[0].attr_names)


def folder_index(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    rows = [line.split() for line in (folder / "list_eval_partition.txt").read_text().splitlines()]
    files = [row[0] for row in rows if row]
    partition = np.array([int(row[1]) for row in rows if row])
    names, attributes = [], np.full((len(files), 40), -1, np.int8)
    attr_file = folder / "list_attr_celeba.txt"
    if attr_file.exists():
        lines = attr_file.read_text().splitlines()
        names = lines[1].split()
        position = {name: i for i, name in enumerate(files)}
        for line in lines[2:]:
            name, *values = line.split()
            if name in position:
                attributes[position[name]] = (np.array(values, dtype=np.int8) + 1) // 2
    return files, partition, attributes, names


def decode(path: Path, crop: int, size: int, expected_md5: str | None) -> np.ndarray:
    raw = path.read_bytes()
    if expected_md5 and hashlib.md5(raw).hexdigest() != expected_md5:
        raise RegbenchError(f"{path} is corrupt (md5 mismatch with img_align_celeba.md5); "
                            f"replace it with a fresh copy")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image = image.convert("RGB")
            left, top = (image.width - crop) // 2, (image.height - crop) // 2
            image = image.crop((left, top, left + crop, top + crop)).resize((size, size), Image.LANCZOS)
    except OSError as exc:
        raise RegbenchError(f"{path} cannot be decoded ({exc}); replace it with a fresh copy") from None
    return np.asarray(image).transpose(2, 0, 1)


def image_list_key(paths: list[Path], crop: int, size: int) -> str:
    """sha256 of the image names, their sizes and the preprocessing: the decoded cache's key."""
    return hashlib.sha256(json.dumps([[p.name for p in paths], [p.stat().st_size for p in paths],
                                      crop, size]).encode()).hexdigest()


def decoded_images(folder: Path, files: list[str], crop: int, size: int) -> torch.Tensor:
    """uint8 n×3×size×size, from the cache when this file list was decoded before."""
    image_dir = folder / "img_align_celeba"
    if not image_dir.is_dir():
        raise missing("celeba/img_align_celeba/", "CelebA", "the image folder is absent")
    paths = [image_dir / name for name in files]
    absent = next((p for p in paths if not p.exists()), None)
    if absent:
        raise missing(f"celeba/img_align_celeba/{absent.name}", "CelebA",
                      "listed in list_eval_partition.txt")
    cached = cache_dir() / "celeba" / f"images-{size}-{image_list_key(paths, crop, size)[:16]}.pt"
    if cached.exists():
        return load_tensors(cached, "cached CelebA images")
    md5_list = folder / "img_align_celeba.md5"
    md5s = dict(line.split()[::-1] for line in md5_list.read_text().splitlines() if line.strip()) \
        if md5_list.exists() else {}
    images = torch.from_numpy(np.stack([decode(p, crop, size, md5s.get(p.name)) for p in paths]))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    torch.save(images, partial)
    partial.replace(cached)
    return images


def load_celeba(size: int = 64, crop: int = 140) -> CelebA:
    folder = celeba_folder()
    index = folder_index
    if all((folder / name).exists() for name in FULL_ONLY):
        try:
            import torchvision.datasets  # noqa: F401
            index = torchvision_index
        except Exception:  # torchvision unusable: the folder reader gives the same index
            pass
    files, partition, attributes, names = index(folder)
    images = decoded_images(folder, files, crop, size)
    checksums = {f"celeba/{name}": f"md5:{file_digest(folder / name)}"
                 for name in ("list_eval_partition.txt", "list_attr_celeba.txt")
                 if (folder / name).exists()}
    key = image_list_key([folder / "img_align_celeba" / name for name in files], crop, size)
    checksums[f"celeba/img_align_celeba ({len(files)} images: names, sizes, crop {crop}, size {size})"] \
        = f"sha256:{key}"
    return CelebA(images, torch.from_numpy(partition), torch.from_numpy(attributes), names, checksums)
