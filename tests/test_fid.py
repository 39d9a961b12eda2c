"""Fréchet distance, the FID feature pipeline (random Inception weights) and the offline FCD network."""
from unittest import mock

import numpy as np
import pytest
import torch
from scipy import linalg

from regbench.errors import RegbenchError
from regbench.metrics import classifier as classifier_module
from regbench.metrics.fid import FID, weights_file
from regbench.metrics.frechet import embed_all, frechet_distance, gaussian


def random_spd(d, rng):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_matches_scipy_on_known_gaussians():
    rng = np.random.default_rng(0)
    for d in (1, 3, 16):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = random_spd(d, rng), random_spd(d, rng)
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_closed_forms():
    # commuting covariances: |μ1 − μ2|² + Σ (σ1 − σ2)²
    distance = frechet_distance([0, 0], np.diag([4.0, 1.0]), [3, 4], np.diag([1.0, 9.0]))
    assert distance == pytest.approx(25 + (2 - 1) ** 2 + (1 - 3) ** 2)
    s = random_spd(5, np.random.default_rng(1))
    assert frechet_distance(np.ones(5), s, np.ones(5), s) == pytest.approx(0, abs=1e-9)


def test_gaussian_of_samples_converges():
    rng = np.random.default_rng(2)
    x = rng.multivariate_normal([1, -1], [[2, 0.5], [0.5, 1]], size=20000)
    mu, sigma = gaussian(x)
    assert np.allclose(mu, [1, -1], atol=0.05) and np.allclose(sigma, [[2, 0.5], [0.5, 1]], atol=0.05)


def test_weights_file_setting_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("REGBENCH_FID_WEIGHTS", raising=False)
    assert weights_file("") is None
    with pytest.raises(RegbenchError, match="does not exist"):
        weights_file(str(tmp_path / "missing.pth"))
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    monkeypatch.setenv("REGBENCH_FID_WEIGHTS", str(path))
    assert weights_file("") == path


def pytorch_fid_inception():
    try:
        from pytorch_fid import inception
    except Exception as exc:  # torchvision absent or not matching this torch build
        pytest.skip(f"pytorch-fid is not usable here: {type(exc).__name__}: {exc}")
    return inception


def test_fid_feature_pipeline_with_random_weights(tmp_path, monkeypatch):
    inception = pytorch_fid_inception()
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    with mock.patch.object(inception, "load_state_dict_from_url", return_value={}), \
            mock.patch("torch.nn.Module.load_state_dict"):
        state = inception.fid_inception_v3().state_dict()
    weights = tmp_path / "random_inception.pth"
    torch.save(state, weights)
    fid = FID(weights, torch.device("cpu"))
    images = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)  # grey, repeated to RGB
    features = embed_all(fid.embed, images, 2, "cpu")
    assert features.shape == (4, 2048) and np.isfinite(features).all()
    mu, sigma = fid.reference(images)
    assert np.allclose(mu, features.mean(0), atol=1e-5) and sigma.shape == (2048, 2048)
    assert len(list((tmp_path / "cache" / "fid").glob("*.npz"))) == 1
    assert np.array_equal(fid.reference(images)[0], mu)  # from the cache


def test_classifier_is_trained_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(classifier_module, "STEPS", 5)
    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8)
    labels = torch.arange(40) % 3
    net, key = classifier_module.classifier(images, labels, "cpu")
    again, same_key = classifier_module.classifier(images, labels, "cpu")
    assert key == same_key and (tmp_path / "classifier" / f"{key}.pt").exists()
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    stats = gaussian(embed_all(net.features, images, 16, "cpu"))
    assert frechet_distance(*stats, *stats) == pytest.approx(0, abs=1e-6)


def test_classifier_multilabel_skips_rows_without_attributes(tmp_path, monkeypatch):
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(classifier_module, "STEPS", 3)
    images = torch.randint(0, 256, (30, 3, 16, 16), dtype=torch.uint8)
    attributes = torch.randint(0, 2, (30, 4), dtype=torch.int8)
    attributes[::2] = -1
    net, _ = classifier_module.classifier(images, attributes, "cpu")
    assert net.head.out_features == 4
