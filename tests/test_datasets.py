"""Dataset loaders on tiny files the tests make, and on the real files under $REGBENCH_DATA when present
(marked ``data``)."""
import gzip
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from regbench.datasets import celeba, mnist
from regbench.errors import RegbenchError

SHARED = Path(os.environ.get("REGBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty data and cache directories; downloads impossible (torchvision blocked)."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("REGBENCH_DATA", str(data))
    monkeypatch.setenv("REGBENCH_CACHE", str(cache))
    monkeypatch.setitem(sys.modules, "torchvision", None)
    return data, cache


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "x.gz", images)
    write_idx(tmp_path / "y.gz", np.arange(5))
    assert np.array_equal(mnist.read_idx(tmp_path / "x.gz"), images)
    assert np.array_equal(mnist.read_idx(tmp_path / "y.gz"), np.arange(5))


def test_mnist_missing_file_offline_names_file_and_place(dirs):
    with pytest.raises(RegbenchError, match=r"MNIST/raw/train-images-idx3-ubyte.gz not found.*put it at"):
        mnist.load_mnist()


def test_mnist_checksum_mismatch(dirs):
    data, _ = dirs
    for name in mnist.FILES:
        write_idx(data / "MNIST" / "raw" / name, np.zeros((2, 28, 28)) if "images" in name else np.zeros(2))
    with pytest.raises(RegbenchError, match="corrupt"):
        mnist.load_mnist()


def make_celeba(root: Path, n: int = 6, with_attributes: int = 3) -> Path:
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        picture = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(picture).save(folder / "img_align_celeba" / name)
    (folder / "list_eval_partition.txt").write_text("".join(f"{m} {i % 3}\r\n" for i, m in enumerate(names)))
    attributes = [f"A{j}" for j in range(40)]
    rows = [f"{m} " + " ".join(rng.choice(["-1", " 1"], 40)) for m in names[:with_attributes]]
    lines = [str(with_attributes), " ".join(attributes), *rows]
    (folder / "list_attr_celeba.txt").write_text("\r\n".join(lines))
    return folder


def test_celeba_folder_loader_and_cache(dirs, monkeypatch):
    data, cache = dirs
    make_celeba(data)
    before = sorted(p for p in data.rglob("*"))
    loaded = celeba.load_celeba()
    assert loaded.images.shape == (6, 3, 64, 64) and loaded.images.dtype == torch.uint8
    assert loaded.partition.tolist() == [0, 1, 2, 0, 1, 2]
    assert (loaded.attributes[:3] >= 0).all() and (loaded.attributes[3:] == -1).all()
    assert len(loaded.attribute_names) == 40
    partition_md5 = hashlib.md5((data / "celeba" / "list_eval_partition.txt").read_bytes()).hexdigest()
    assert loaded.checksums["celeba/list_eval_partition.txt"] == f"md5:{partition_md5}"
    assert any(k.startswith("celeba/img_align_celeba (6 images") for k in loaded.checksums)
    assert sorted(p for p in data.rglob("*")) == before  # nothing written into the data directory
    assert len(list((cache / "celeba").glob("*.pt"))) == 1
    monkeypatch.setattr(celeba, "decode", lambda *a: pytest.fail("decoded again"))
    assert torch.equal(celeba.load_celeba().images, loaded.images)


def test_celeba_centre_crop_then_resize(dirs):
    data, _ = dirs
    folder = make_celeba(data, n=1)
    picture = np.zeros((218, 178, 3), np.uint8)
    picture[39:179, 19:159] = 255  # the central 140×140 square
    Image.fromarray(picture).save(folder / "img_align_celeba" / "000001.jpg", quality=100)
    assert celeba.load_celeba().images.float().mean() > 250


def test_celeba_checksum_mismatch_and_missing_image(dirs):
    data, _ = dirs
    folder = make_celeba(data)
    listed = hashlib.md5((folder / "img_align_celeba" / "000001.jpg").read_bytes()).hexdigest()
    (folder / "img_align_celeba.md5").write_text(f"{listed}  000002.jpg\n")
    with pytest.raises(RegbenchError, match="000002.jpg is corrupt"):
        celeba.load_celeba()
    (folder / "img_align_celeba.md5").unlink()
    (folder / "img_align_celeba" / "000004.jpg").unlink()
    with pytest.raises(RegbenchError, match="000004.jpg not found"):
        celeba.load_celeba()


def test_full_celeba_goes_through_torchvision_and_its_checksums(tmp_path, monkeypatch):
    try:
        import torchvision.datasets  # noqa: F401
    except Exception as exc:  # absent, or not matching this torch build
        pytest.skip(f"torchvision is not usable here: {type(exc).__name__}")
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path))
    folder = make_celeba(tmp_path)
    for name in celeba.FULL_ONLY:
        (folder / name).write_text("not the original file\n")
    with pytest.raises(RegbenchError, match="CelebA in .*corrupted"):
        celeba.load_celeba()


def test_celeba_absent_offline(dirs):
    with pytest.raises(RegbenchError, match="celeba/list_eval_partition.txt not found"):
        celeba.load_celeba()


@pytest.mark.data
@pytest.mark.skipif(not (SHARED / "MNIST" / "raw").is_dir(), reason="no real MNIST in $REGBENCH_DATA")
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("REGBENCH_DATA", str(SHARED))
    x, y, x_test, y_test = mnist.load_mnist()
    assert x.shape == (60000, 1, 32, 32) and x_test.shape == (10000, 1, 32, 32)
    assert x[:, :, :2].max() == 0 and x.dtype == torch.uint8
    assert y.bincount().tolist()[:3] == [5923, 6742, 5958] and len(y_test) == 10000


@pytest.mark.data
@pytest.mark.skipif(not (SHARED / "celeba").is_dir(), reason="no real CelebA subset in $REGBENCH_DATA")
def test_real_celeba_subset_index_and_images():
    folder = SHARED / "celeba"
    files, partition, attributes, names = celeba.folder_index(folder)
    assert np.bincount(partition).tolist() == [4559, 4535, 4640]
    assert (attributes >= 0).all(1).sum() == 4559 and len(names) == 40
    image = celeba.decode(folder / "img_align_celeba" / files[0], 140, 64, None)
    assert image.shape == (3, 64, 64) and image.dtype == np.uint8
