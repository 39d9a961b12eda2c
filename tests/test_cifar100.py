"""CIFAR-100 tasks on small synthetic pickles in torchvision's on-disk layout.

The module's data fixture writes ``cifar-100-python/{train,test}`` (64 and 32 random images) into a
temporary data directory and puts the files' own md5s in :data:`regbench.datasets.cifar100.FILES`
(the real checksums cannot match made-up files); ``download`` is replaced by one that fails, as
offline. One thread: the networks are small and the machine is shared.
"""
import functools
import itertools
import math
import pickle
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regbench import create_regularizer, create_task
from regbench.datasets import cifar100
from regbench.datasets.augment import Normalize, crop_flip, random_crop_flip
from regbench.datasets.files import file_digest
from regbench.errors import RegbenchError
from regbench.models.resnet18 import ResNet18
from regbench.registry import TASKS
from regbench.runner import execute, prepare
from regbench.settings import data_dir
from regbench.tasks._base import RunContext
from regbench.training import Term, Training, fit, fractions_schedule
from regbench.tasks.cifar100 import milestones
from regbench.weights import weight_layers

SMALL = {"iterations": 3, "batch_size": 16, "check_every": 2}


def offline():
    raise OSError("no network (test)")


def write_cifar(root, sizes=(("train", 64), ("test", 32))) -> dict:
    """Pickles with ``data`` (n × 3072 uint8, R, G, B planes) and ``fine_labels``, as the originals."""
    folder = root / cifar100.FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for name, n in sizes:
        rows, labels = rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 100, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rows, b"fine_labels": labels, b"coarse_labels": [0] * n}, f)
        written[name] = (rows, labels)
    return written


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    written = write_cifar(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REGBENCH_DATA", str(root / "data"))
        patch.setenv("REGBENCH_CACHE", str(root / "cache"))
        patch.setattr(cifar100, "FILES", {name: file_digest(root / "data" / cifar100.FOLDER / name)
                                          for name in written})
        patch.setattr(cifar100, "download", offline)
        yield written


@functools.cache
def trained(task: str, reg: str, **options) -> dict:
    return create_task(task, **SMALL, **options).run(create_regularizer(reg), RunContext(seed=0, quiet=True))


def test_pickles_load_as_uint8_images_and_int64_labels(cifar):
    x, y, x_test, y_test = cifar100.load_cifar100()
    assert x.shape == (64, 3, 32, 32) and x_test.shape == (32, 3, 32, 32)
    assert x.dtype == torch.uint8 and y.dtype == torch.int64
    rows, labels = cifar["train"]
    assert torch.equal(x[5, 1], torch.from_numpy(rows[5, 1024:2048].reshape(32, 32)))  # green plane
    assert y.tolist() == labels and y_test.tolist() == cifar["test"][1]


def test_missing_file_is_named_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar100, "download", offline)
    prepare("cifar100_resnet18", "mhe", check_data=False)  # leaderboards need no data
    where = re.escape(str(tmp_path / "data" / "cifar-100-python" / "train"))
    with pytest.raises(RegbenchError, match=f"cifar-100-python/train not found .*no network .*put it at "
                                            f"{where}"):
        prepare("cifar100_resnet18", "mhe", check_data=True)


def test_corrupt_file_is_reported(cifar, tmp_path, monkeypatch):
    shutil.copytree(data_dir(), tmp_path / "data")
    test_file = tmp_path / "data" / cifar100.FOLDER / "test"
    raw = bytearray(test_file.read_bytes())
    raw[-100] ^= 0xFF
    test_file.write_bytes(bytes(raw))
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "data"))
    with pytest.raises(RegbenchError, match=r"cifar-100-python/test is corrupt \(md5"):
        prepare("cifar100_cnn9", "none", check_data=True)


def test_crop_flip_is_a_window_of_the_zero_padded_image():
    x = torch.randint(1, 256, (4, 3, 8, 8), dtype=torch.uint8)
    dy, dx = torch.tensor([0, 4, 2, 4]), torch.tensor([0, 4, 1, 0])
    flip = torch.tensor([False, False, True, True])
    out = crop_flip(x, dy, dx, flip, 2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert (out[0, :, :2] == 0).all() and (out[0, :, :, :2] == 0).all()  # zeros shifted in
    assert torch.equal(out[0, :, 2:, 2:], x[0, :, :6, :6])
    assert (out[1, :, 6:] == 0).all() and torch.equal(out[1, :, :6, :6], x[1, :, 2:, 2:])
    for i in (2, 3):
        window = F.pad(x[i], [2] * 4)[:, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
        assert torch.equal(out[i], window.flip(-1))


def test_random_crop_flip_is_seeded_and_draws_every_shift_and_both_mirrors():
    x = torch.randint(1, 256, (500, 3, 6, 6), dtype=torch.uint8)
    out = random_crop_flip(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out, random_crop_flip(x, 2, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, random_crop_flip(x, 2, torch.Generator().manual_seed(1)))
    padded = F.pad(x, [2] * 4)
    windows = torch.stack([w for dy in range(5) for dx in range(5) for w in
                           (padded[..., dy:dy + 6, dx:dx + 6], padded[..., dy:dy + 6, dx:dx + 6].flip(-1))])
    matches = (windows == out).flatten(2).all(2)  # candidate × image
    assert (matches.sum(0) == 1).all()  # every output is exactly one shift / mirror of its input
    assert matches.any(1).all()  # and all 50 of them occur


def test_without_padding_the_augmentation_mirrors_about_half_the_images():
    x = torch.randint(0, 256, (400, 3, 5, 5), dtype=torch.uint8)
    out = random_crop_flip(x, 0, torch.Generator().manual_seed(0))
    same, mirrored = (out == x).flatten(1).all(1), (out == x.flip(-1)).flatten(1).all(1)
    assert (same ^ mirrored).all() and 150 < int(mirrored.sum()) < 250


def test_normalize_uses_the_channel_statistics_and_keeps_channels_last():
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    out = Normalize(cifar100.MEAN, cifar100.STD)(x)
    mean, std = torch.tensor(cifar100.MEAN).view(3, 1, 1), torch.tensor(cifar100.STD).view(3, 1, 1)
    expected = (x.float() / 255 - mean) / std
    assert torch.allclose(out, expected, atol=1e-5) and out.is_contiguous(memory_format=torch.channels_last)


def test_learning_rate_drops_tenfold_at_the_paper_milestones():
    assert milestones(75000) == [30000, 50000, 65000]
    task = create_task("cifar100_cnn9", iterations=75)
    optimizer, schedule = task.optimizer(nn.Linear(2, 2))
    lrs = []
    for _ in range(75):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    expected = [0.1] * 30 + [0.01] * 20 + [1e-3] * 15 + [1e-4] * 10
    assert lrs == pytest.approx(expected, rel=1e-9)


def test_srip_term_weight_drops_at_its_authors_epochs_rescaled_to_the_iterations(cifar):
    """×1e-3, 1e-4, 1e-6, 0 after epochs 20, 50, 70, 120 of 200: after 10, 25, 35, 60 % of the steps."""
    at = [7499, 7500, 18749, 18750, 26249, 26250, 44999, 45000, 74999]
    schedule = fractions_schedule(create_regularizer("srip").schedule, 75000)
    assert [schedule(step) for step in at] == [1, 1e-3, 1e-3, 1e-4, 1e-4, 1e-6, 1e-6, 0, 0]
    published = [1] * 2 + [1e-3] * 3 + [1e-4] * 2 + [1e-6] * 5 + [0] * 8  # from steps 2, 5, 7, 12
    assert [fractions_schedule(create_regularizer("srip").schedule, 20)(s) for s in range(20)] == published
    assert create_regularizer("srip", decay=False).schedule == create_regularizer("orthogonal").schedule == ()
    # the task's run applies it over its iterations. 3 iterations: milestones at steps 0, 1, 1, 2,
    # so multipliers 1e-3, 1e-6, 0; the last check period (check_every 2) is step 2 alone
    assert trained("cifar100_cnn9", "srip")["penalty"] == 0
    constant = create_task("cifar100_cnn9", **SMALL).run(create_regularizer("srip", decay=False),
                                                         RunContext(seed=0, quiet=True))
    assert constant["penalty"] > 0


@pytest.mark.parametrize("task, layers", [("cifar100_cnn9", 11), ("cifar100_resnet18", 21)])
@pytest.mark.parametrize("reg", ["none", "mhe"])
def test_a_few_steps_give_test_error_and_layer_geometry(cifar, task, layers, reg):
    metrics = trained(task, reg)
    wrong = metrics["test_error"] * 32  # a count of the 32 synthetic test images
    assert 0 <= wrong <= 32 and wrong == pytest.approx(round(wrong))
    assert math.isfinite(metrics["train_loss"]) and metrics.get("target") == (None if reg == "none" else "weights")
    assert (metrics["penalty"] == 0) == (reg == "none")
    assert len(metrics["layers"]) == layers
    for diagnostics in metrics["layers"].values():
        assert math.isfinite(diagnostics["energy_s0"]) and 0 < diagnostics["min_angle_deg"] <= 180
    assert math.isfinite(metrics["weights.energy_s0"]) and math.isfinite(metrics["weights.min_angle_deg"])


@pytest.mark.parametrize("task", ["cifar100_cnn9", "cifar100_resnet18"])
def test_mhe_ends_with_lower_filter_energy_than_none_from_the_same_start(cifar, task):
    assert trained(task, "mhe")["weights.energy_s0"] < trained(task, "none")["weights.energy_s0"]


def test_the_record_carries_the_checksums_of_the_files_read(cifar):
    record = execute(prepare("cifar100_cnn9", "r_mhp", SMALL))
    assert record["status"] == "ok", record["error"]
    assert record["data"] == {f"cifar-100-python/{name}": f"md5:{cifar100.FILES[name]}"
                              for name in ("train", "test")}


def test_absurd_learning_rate_is_recorded_as_diverged(cifar):
    record = execute(prepare("cifar100_cnn9", "none", {**SMALL, "lr": 1e12}))
    assert record["status"] == "diverged"
    assert re.fullmatch(r"non-finite loss \S+ at step [12]", record["error"])  # the check after the NaN


@pytest.mark.parametrize("reg", ["eccentric", "mmd_imq", "coulomb", "kl_gauss", "vmf"])
def test_latent_and_posterior_regularizers_are_refused_before_training(reg, tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path))  # no data: the pairing is checked first
    with pytest.raises(RegbenchError, match=f"'{reg}' acts on .* exposes only weights"):
        prepare("cifar100_cnn9", reg, check_data=True)


def test_resnet18_is_the_cifar_variant():
    net = ResNet18(100)
    stem = net.features[0]
    assert isinstance(stem, nn.Conv2d) and stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(11.22e6, rel=0.01)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    layers = weight_layers(net)
    assert len(layers) == 21 and [layer.final for layer in layers].index(True) == 20
    assert layers[-1].name == "classifier" and layers[-1].rows.shape == (100, 512)


def test_unknown_task_name_lists_the_cifar_tasks():
    with pytest.raises(RegbenchError, match="cifar100_foo.*cifar100_cnn9.*cifar100_resnet18"):
        TASKS.get("cifar100_foo")


def step_losses(**options) -> list[float]:
    """Cross-entropy at the first two training steps from the same weights, batch and crops."""
    task = create_task("cifar100_cnn9", lr=0.01, **options)
    torch.manual_seed(0)
    model = task.build(torch.device("cpu"))
    optimizer, _ = task.optimizer(model)
    task.forward, task.generator = model, torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=task.generator)
    y = torch.randint(0, 100, (16,), generator=task.generator)
    losses = []
    ctx = RunContext(seed=0, quiet=True, report=lambda step, metrics: losses.append(metrics["train_loss"]))
    fit(Training(model, optimizer, itertools.repeat((x, y)), steps=2, unit="step",
                 autocast=task.autocast), task.loss,
        Term(create_regularizer("mhe"), "weights"), ctx=ctx)
    return losses


def test_channels_last_and_bf16_autocast_match_float32():
    """Measured: channels-last 3e-7 at the start, 1.3e-4 after one step (round-off that flips a
    max-pool or ReLU choice moves a gradient entry); bf16 4e-4 and 7e-4."""
    reference, channels_last = step_losses(), step_losses(channels_last=True)
    assert channels_last[0] == pytest.approx(reference[0], rel=1e-5)
    assert channels_last == pytest.approx(reference, rel=1e-3)
    assert step_losses(autocast="bf16") == pytest.approx(reference, rel=1e-2)


@pytest.mark.slow  # torch.compile's first compilation
def test_compile_trains_like_eager(cifar, monkeypatch):
    """With the aot_eager backend (graph capture and compiled autograd, eager kernels): inductor's
    C++ code generation alone takes about a minute on two CPU cores."""
    try:
        torch.compile(lambda t: t + 1, backend="aot_eager")(torch.zeros(1))
    except Exception as exc:
        pytest.skip(f"torch.compile is not available here: {type(exc).__name__}: {exc}")
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    compiled, eager = trained("cifar100_cnn9", "mhe", compile=True), trained("cifar100_cnn9", "mhe")
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-4)
    assert compiled["weights.energy_s0"] == pytest.approx(eager["weights.energy_s0"], rel=1e-4)
