"""Every metric's facts, declared once as a :class:`Metric`: its direction (``min``: lower is
better, ``max``, ``target1``: closer to 1 is better, ``""``: descriptive), whether it is a rate (a
fraction, shown in percent) and what it is. Tasks list the metrics they record by name; everything
that ranks, tunes, selects a model, stops early or renders a number reads them here
(:func:`metric`), never from the metric's name. A plugin declares its own with :func:`declare`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RegbenchError

DIRECTIONS = ("min", "max", "target1", "")


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str
    doc: str = ""
    rate: bool = False  # a fraction in [0, 1] (an error, an accuracy, an AUC): shown in percent

    @property
    def ranked(self) -> bool:
        """Whether it has a direction, so that one value can be better than another."""
        return self.direction != ""

    def oriented(self, values) -> np.ndarray:
        """``values`` turned so that lower is better (``max``: negated, ``target1``: the distance
        to 1); an error for a descriptive metric."""
        values = np.asarray(values, dtype=float)
        if not self.ranked:
            raise RegbenchError(f"metric '{self.name}' has no direction, so no value of it is better")
        return {"min": values, "max": -values, "target1": np.abs(values - 1)}[self.direction]

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than``."""
        ours, theirs = self.oriented([value, than])
        return bool(ours < theirs)

    def best(self, values) -> int | None:
        """The position of the best of ``values`` (NaN never best; ``None`` when all are NaN)."""
        oriented = self.oriented(values)
        return None if np.isnan(oriented).all() else int(np.nanargmin(oriented))


METRICS: dict[str, Metric] = {}


def declare(name: str, direction: str, doc: str = "", rate: bool = False) -> str:
    """Declare ``name`` with its direction; declaring it again with another direction is an error."""
    if direction not in DIRECTIONS:
        raise RegbenchError(f"metric '{name}': direction {direction!r} is not one of "
                            f"{', '.join(map(repr, DIRECTIONS))}")
    known = METRICS.get(name)
    if known is not None and known.direction != direction:
        raise RegbenchError(f"metric '{name}' is declared '{known.direction}' and again '{direction}'")
    METRICS[name] = Metric(name, direction, doc or (known.doc if known else ""), rate)
    return name


def metric(name: str, direction: str | None = None) -> Metric:
    """The declared metric ``name``; one that is not declared (a plugin's not loaded) with the
    ``direction`` a record gives for it, and no more."""
    known = METRICS.get(name)
    return known if known is not None else Metric(name, direction or "")


def direction(name: str) -> str:
    """The declared direction of ``name`` (``""`` for an undeclared metric)."""
    return metric(name).direction


RATE = True  # for the declarations below
for _name, _direction, _doc, *_rate in [
    ("test_mse", "min", "mean squared reconstruction error per pixel on the test split"),
    ("val_mse", "min", "mean squared reconstruction error per pixel on the validation split"),
    ("train_loss", "min", "the task's training loss (mean over the last check period)"),
    ("cov_trace_per_d", "target1", "trace of the latent covariance / d (1: unit variance per axis)"),
    ("eccentricity", "", "eccentricity ε of the latent covariance (Li & Blair, IJCNN 2022)"),
    ("knn_error", "min", "test error of a KNN classifier on the codes", RATE),
    *[(f"knn_error_{n}", "min", f"KNN test error with {n} labelled training codes", RATE)
      for n in (10, 100, 600, 1000, 10000, 60000)],
    ("fcd", "min", "Fréchet classifier distance of decoded fitted-Gaussian codes to test images"),
    ("fcd_normal", "min", "Fréchet classifier distance of decoded N(0, I) codes to test images"),
    ("fid", "min", "FID of decoded fitted-Gaussian codes to the test images"),
    ("fid_normal", "min", "FID of decoded N(0, I) codes to the test images"),
    ("angle_raw_deg", "min", "principal angle between the codes of different seeds, raw"),
    ("angle_aligned_deg", "min", "principal angle between the codes of different seeds, aligned"),
    ("attr_error_dt1", "min", "attribute error of depth-1 trees on the codes, mean over attributes", RATE),
    ("attr_error_dt8", "min", "attribute error of depth-8 trees on the codes, mean over attributes", RATE),
    ("attr_error_knn20", "min", "attribute error of KNN(20) on the codes, mean over attributes", RATE),
    ("attr_error_majority", "", "attribute error of the majority class (a reference)", RATE),
    ("test_error", "min", "top-1 classification error on the test split", RATE),
    ("val_error", "min", "top-1 classification error on the validation split", RATE),
    ("test_acc", "max", "classification accuracy on the test nodes", RATE),
    ("val_acc", "max", "classification accuracy on the validation nodes", RATE),
    ("test_auc", "max", "ROC AUC of held-out test edges against non-edges", RATE),
    ("test_ap", "max", "average precision of held-out test edges against non-edges", RATE),
    ("val_auc", "max", "ROC AUC of validation edges against non-edges", RATE),
    ("val_ap", "max", "average precision of validation edges against non-edges", RATE),
    ("test_ll", "max", "test log-likelihood per item (nats), by importance sampling or a density estimate"),
    ("test_ll_fitted", "max", "test log-likelihood per item (KDE) of codes drawn from the Gaussian fitted to the training codes, decoded"),
    ("val_ll", "max", "validation log-likelihood per item (nats) by the density estimate of test_ll"),
    ("test_ll_data", "", "mean log-density of the test items under the data's true distribution (a reference)"),
    ("circle_recovery", "max", "recovery of the data's latent angle by the codes' angle, up to rotation and reflection (1: exact)"),
    ("test_elbo", "max", "evidence lower bound per test item (nats): test_re − test_kl"),
    ("test_re", "max", "expected log-likelihood of the test items under the decoder, E_q[log p(x | z)]"),
    ("test_kl", "", "KL divergence of the posterior to the prior per test item (nats)"),
    ("val_elbo", "max", "evidence lower bound per validation item (nats), one sample per item"),
    ("val_re", "max", "log-likelihood of the validation items under the decoder at their codes"),
    ("norm_mean_over_sqrt_d", "target1", "mean norm of the points / √d"),
    ("norm_std", "min", "standard deviation of the points' norms"),
    ("loss_per_d", "", "the regularizer's final value / d"),
    ("min_angle_deg", "max", "smallest angle between two points"),
    ("mean_angle_deg", "max", "mean angle between two points"),
    ("energy_s1", "min", "Riesz s = 1 energy of the normalised points"),
]:
    declare(_name, _direction, _doc, bool(_rate))
