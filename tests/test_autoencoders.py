"""The shared autoencoder pipeline: digits_ae end to end, mnist_ae and celeba_ae on tiny stand-in data."""
import math

import pytest
import torch

from regbench import create_regularizer, create_task
from regbench.datasets.celeba import CelebA
from regbench.errors import RegbenchError
from regbench.metrics import classifier as classifier_module
from regbench.metrics.alignment import angle_aligned_deg, angle_raw_deg
from regbench.models.ae_celeba import celeba_decoder, celeba_encoder
from regbench.cli import main
from regbench.models.ae_mnist import mnist_decoder, mnist_encoder
from regbench.record import staging_dir
from regbench.runner import execute, prepare
from regbench.store import ResultsStore
from regbench.tasks import celeba_ae, mnist_ae
from regbench.tasks._base import RunContext
from regbench.training import Term, Training, fit

QUICK = {"gen_samples": 0, "align_samples": 0, "figures": False, "layer_geometry": False}


@pytest.fixture(autouse=True)
def quick_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REGBENCH_FID_WEIGHTS", raising=False)
    monkeypatch.setattr(classifier_module, "STEPS", 5)


@pytest.fixture
def tiny_mnist(monkeypatch):
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 256, (260, 1, 28, 28), generator=g, dtype=torch.uint8)
    x = torch.nn.functional.pad(digits, [2] * 4)
    y = torch.arange(260) % 10
    monkeypatch.setattr(mnist_ae, "load_mnist", lambda: (x[:200], y[:200], x[200:], y[200:]))


@pytest.fixture
def tiny_celeba(monkeypatch):
    g = torch.Generator().manual_seed(0)
    attributes = torch.randint(0, 2, (40, 40), generator=g, dtype=torch.int8)
    attributes[32:] = -1  # like the offline subset: no attribute rows outside the training split
    data = CelebA(torch.randint(0, 256, (40, 3, 64, 64), generator=g, dtype=torch.uint8),
                  torch.tensor([0] * 32 + [1] * 4 + [2] * 4), attributes, [f"A{i}" for i in range(40)],
                  {"celeba/list_eval_partition.txt": "md5:test"})
    monkeypatch.setattr(celeba_ae, "load_celeba", lambda: data)


def run(task, reg, ctx=None, **params):
    return create_task(task, **params).run(create_regularizer(reg), ctx or RunContext(seed=0, quiet=True))


def test_paper_architectures_shapes():
    x = torch.rand(3, 1, 32, 32)
    assert mnist_encoder(8)(x).shape == (3, 8)
    out = mnist_decoder(8).eval()(torch.randn(3, 8))
    assert out.shape == (3, 1, 32, 32) and out[..., :2, :].abs().max() == 0 and out[..., 2:30, 2:30].min() > 0
    assert celeba_encoder(128)(torch.rand(2, 3, 64, 64)).shape == (2, 128)
    assert celeba_decoder(64).eval()(torch.randn(2, 64)).shape == (2, 3, 64, 64)


def test_digits_run_records_figures_alignment_and_generation(tmp_path):
    config = prepare("digits_ae", "eccentric", {"epochs": 2, "gen_samples": 200}, seed=0)
    record = execute(config, results_dir=tmp_path)
    assert record["status"] == "ok", record["error"]
    metrics = record["metrics"]
    staged = tmp_path / staging_dir(config.run_key, record["id"]) / "figures"
    for name in metrics["figures"]:  # staged until the record is appended
        assert (staged / name).stat().st_size > 1000
    assert len(metrics["latent.spectrum"]) == 8 and metrics["eccentricity"] >= 0
    metrics_spectrum = list(metrics["latent.spectrum"])
    assert math.isfinite(metrics["fcd"]) and math.isfinite(metrics["fcd_normal"])
    assert metrics["fcd_setup"]["samples"] == 200 and "FID skipped" in record["info"]["fid_note"]
    assert "fid" not in metrics
    other = execute(prepare("digits_ae", "eccentric", {"epochs": 2, **QUICK, "align_samples": 1000}, seed=1))
    records = [record, other]
    assert 0 <= angle_aligned_deg(records) <= angle_raw_deg(records) <= 180
    store = ResultsStore(tmp_path)
    for r in records:
        store.append(r)
    stored = next(store.records())
    assert all((tmp_path / "figures" / record["id"] / name).is_file() for name in metrics["figures"])
    assert not (tmp_path / "staging").exists()
    assert stored["artifacts"][f"figures/{record['id']}/spectrum.png"].startswith("sha256:")
    assert "latent.spectrum" not in stored["metrics"]
    assert store.load([1])[0]["metrics"]["latent.spectrum"] == metrics_spectrum
    out = tmp_path / "board" / "digits.md"
    assert main(["leaderboard", "--results", str(tmp_path), "--out", str(out)]) == 0
    assert (out.parent / "digits_digits_ae_fcd_vs_eccentricity.png").stat().st_size > 1000
    assert not (tmp_path / "figures" / "digits_ae_fcd_vs_eccentricity.png").exists()  # store only read
    text = out.read_text()
    assert "## Figures: digits_ae" in text and "(digits_digits_ae_fcd_vs_eccentricity.png)" in text
    assert f"[spectrum](../figures/{record['id']}/spectrum.png)" in text


@pytest.mark.parametrize("reg, target", [("kl_gauss", "posterior"), ("vmf", "posterior"), ("mhe", "weights"),
                                         ("none", None)])
def test_encoder_head_follows_the_regularizer(reg, target):
    metrics = run("digits_ae", reg, epochs=1, **QUICK)
    assert metrics.get("target") == target and math.isfinite(metrics["test_mse"])


def test_nan_loss_is_recorded_as_diverged_with_epoch(monkeypatch):
    from regbench.regularizers.eccentric import Eccentric
    monkeypatch.setattr(Eccentric, "forward", lambda self, z: z.sum() * float("nan"))
    record = execute(prepare("digits_ae", "eccentric", {"epochs": 2, **QUICK}))
    assert record["status"] == "diverged" and "epoch 0" in record["error"]


def test_too_small_latent_dimension_fails_before_training():
    with pytest.raises(RegbenchError, match="d ≥ 2"):
        prepare("mnist_ae", "vmf", {"d": 1})


def test_mnist_ae_pipeline(tiny_mnist, tmp_path):
    ctx = RunContext(seed=0, quiet=True, artifacts_dir=tmp_path / "run")
    metrics = run("mnist_ae", "eccentric", ctx, epochs=1, train_size=100, gen_samples=50, knn_repeats=2,
                  channels_last=True)
    assert {"knn_error_10", "knn_error_100", "fcd", "fcd_normal"} <= set(metrics)
    assert "knn_error_1000" not in metrics  # larger than the 200 labelled codes
    assert 0 <= metrics["knn_error_100"] <= 1 and metrics["cov_trace_per_d"] > 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["eigen_images.png", "latent_scatter.png",
                                                                  "spectrum.png"]
    assert len(metrics["alignment_codes"]["test"]) == 60


def trained_mse(**options) -> float:
    """Reconstruction MSE after two training steps from the same initial weights."""
    task = create_task("mnist_ae", **options)
    torch.manual_seed(0)
    regularizer = create_regularizer("eccentric", lam=1e-3)
    model = task.build(regularizer, "codes", torch.device("cpu"))
    x = torch.randint(0, 256, (100, 1, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    fit(Training(model, torch.optim.Adam(model.parameters(), lr=1e-3), iter([x, x]), steps=2, period=2,
                 autocast=task.autocast),
        task.loss, Term(regularizer, "codes"))
    return task.evaluate_mse(model, x)


def test_channels_last_and_bf16_match_the_default():
    base = trained_mse()
    assert trained_mse(channels_last=True) == pytest.approx(base, rel=2e-3)
    assert trained_mse(autocast="bf16") == pytest.approx(base, rel=0.05)


def test_celeba_ae_pipeline_with_held_out_attributes(tiny_celeba):
    task = create_task("celeba_ae", d=8, epochs=1, train_size=4, batch_size=2, gen_samples=8,
                       align_samples=4, figures=False, layer_geometry=False)
    metrics = task.run(create_regularizer("eccentric"), RunContext(seed=0, quiet=True))
    assert metrics["attr_setup"] == {"fit": 24, "test": 8, "test_images": "held-out training images"}
    assert task.data_checksums() == {"celeba/list_eval_partition.txt": "md5:test"}
    for name in ("attr_error_dt1", "attr_error_dt8", "attr_error_knn20", "attr_error_majority"):
        assert 0 <= metrics[name] <= 1
    assert math.isfinite(metrics["fcd"]) and metrics["fcd_setup"]["reference"] == "test split, 4 images"
