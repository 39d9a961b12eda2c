"""Helpers of the contract tests: synthetic stand-ins for every dataset a built-in task reads.

``synthetic_datasets(root)`` writes tiny files in each loader's on-disk layout under ``root/data``
(MNIST IDX ``.gz`` files, a CelebA folder of JPEGs, CIFAR-100 pickles, Planetoid raw files for
Cora, CiteSeer and PubMed) and returns the checksums the MNIST and CIFAR-100 loaders must expect
for the made-up files (the real md5s cannot match). ``synthetic_environment`` points
``$REGBENCH_DATA`` / ``$REGBENCH_CACHE`` at them for the duration of a ``with`` block, puts those
checksums in place, blocks downloads and shortens the FCD classifier's training.
The MNIST, CelebA and CIFAR-100 writers are those of ``tests/test_datasets.py`` and
``tests/test_cifar100.py``; the Planetoid writer is here (no other test writes Planetoid files).
"""
from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from regbench.datasets import cifar100, mnist
from regbench.datasets.files import file_digest
from regbench.datasets.planetoid import PARTS

from test_cifar100 import write_cifar  # noqa: E402  (tests/ is on sys.path under pytest)
from test_datasets import make_celeba, write_idx  # noqa: E402

PLANETOID = ("Cora", "CiteSeer", "PubMed")
MNIST_TRAIN = 120  # training images of the synthetic MNIST
CELEBA = (20, 2)  # training images, and validation / test images each, all with attribute rows:
# celeba_ae's attribute metrics need at least 20 attributed training images


def offline():
    raise OSError("no network (contract tests use synthetic data)")


def write_mnist(root: Path, n_train: int = MNIST_TRAIN, n_test: int = 40) -> dict[str, str]:
    """The four IDX ``.gz`` files of random digits under ``root/MNIST/raw``; their md5s."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10}
    raw = root / "MNIST" / "raw"
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return {name: file_digest(raw / name) for name in arrays}


def write_planetoid(root: Path, name: str, n_labelled: int = 20, n_other: int = 540,
                    n_test: int = 60, features: int = 24, classes: int = 3, edges: int = 1200,
                    seed: int = 0) -> Path:
    """The eight ``ind.<name>.*`` raw files of a random graph, as kimiyoung/planetoid's.

    ``allx`` holds ``n_other`` nodes (the first ``n_labelled`` are ``x``, the 500 after them the
    public validation nodes, so ``n_other`` ≥ ``n_labelled`` + 500), ``tx`` the ``n_test`` test nodes
    (indices right after ``allx``); features are sparse binary, labels one-hot, the graph an
    adjacency dict."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    total = n_other + n_test
    x_all = sp.csr_matrix((rng.random((total, features)) < 0.2).astype(np.float32))
    labels = np.eye(classes, dtype=np.int64)[rng.integers(0, classes, total)]
    graph: dict[int, list[int]] = {i: [] for i in range(total)}
    for i, j in rng.integers(0, total, (edges, 2)):
        if i != j:
            graph[int(i)].append(int(j))
            graph[int(j)].append(int(i))
    for i in range(total):  # no isolated node
        if not graph[i]:
            graph[i].append((i + 1) % total)
            graph[(i + 1) % total].append(i)
    parts = {"x": x_all[:n_labelled], "tx": x_all[n_other:], "allx": x_all[:n_other],
             "y": labels[:n_labelled], "ty": labels[n_other:], "ally": labels[:n_other],
             "graph": graph}
    raw = root / "planetoid" / name / "raw"
    raw.mkdir(parents=True)
    for part, value in parts.items():
        with open(raw / f"ind.{name.lower()}.{part}", "wb") as f:
            pickle.dump(value, f)
    (raw / f"ind.{name.lower()}.test.index").write_text(
        "".join(f"{i}\n" for i in range(n_other, total)))
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"ind.{name.lower()}.{p}" for p in PARTS)
    return raw


def synthetic_datasets(root: Path) -> dict[str, dict[str, str]]:
    """Every dataset under ``root``; ``{"mnist": md5s, "cifar100": md5s}`` of the made-up files."""
    root.mkdir(parents=True, exist_ok=True)
    checksums = {"mnist": write_mnist(root)}
    folder = make_celeba(root, n=CELEBA[0] + 2 * CELEBA[1], with_attributes=CELEBA[0] + 2 * CELEBA[1])
    names = sorted(p.name for p in (folder / "img_align_celeba").iterdir())
    parts = [0] * CELEBA[0] + [1] * CELEBA[1] + [2] * CELEBA[1]
    (folder / "list_eval_partition.txt").write_text("".join(f"{m} {p}\r\n" for m, p in zip(names, parts)))
    written = write_cifar(root, sizes=(("train", 48), ("test", 16)))
    checksums["cifar100"] = {name: file_digest(root / cifar100.FOLDER / name) for name in written}
    for name in PLANETOID:
        write_planetoid(root, name, seed=PLANETOID.index(name))
    return checksums


@contextlib.contextmanager
def synthetic_environment(root: Path, classifier_steps: int = 2):
    """``$REGBENCH_DATA`` at synthetic datasets under ``root``, an empty cache, no downloads and no
    Inception weights; the FCD classifier trains ``classifier_steps`` steps."""
    from regbench.metrics import classifier

    checksums = synthetic_datasets(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REGBENCH_DATA", str(root / "data"))
        patch.setenv("REGBENCH_CACHE", str(root / "cache"))
        patch.delenv("REGBENCH_FID_WEIGHTS", raising=False)
        patch.setattr(mnist, "FILES", checksums["mnist"])
        patch.setattr(mnist, "download", offline)
        patch.setattr(cifar100, "FILES", checksums["cifar100"])
        patch.setattr(cifar100, "download", offline)
        patch.setattr(classifier, "STEPS", classifier_steps)
        yield root / "data"
