"""Every metric's direction, declared once: ``min`` (lower is better), ``max``, ``target1`` (closer to
1 is better) or ``""`` (descriptive, no direction). Tasks list the metrics they record by name; the
leaderboard, tuning's selection and the training loop's model selection read the direction here.
A plugin declares its own with :func:`declare` (or a task's ``metrics = {name: direction}``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import RegbenchError

DIRECTIONS = ("min", "max", "target1", "")


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str
    doc: str = ""


METRICS: dict[str, Metric] = {}


def declare(name: str, direction: str, doc: str = "") -> str:
    """Declare ``name`` with its direction; declaring it again with another direction is an error."""
    if direction not in DIRECTIONS:
        raise RegbenchError(f"metric '{name}': direction {direction!r} is not one of "
                            f"{', '.join(map(repr, DIRECTIONS))}")
    known = METRICS.get(name)
    if known is not None and known.direction != direction:
        raise RegbenchError(f"metric '{name}' is declared '{known.direction}' and again '{direction}'")
    METRICS[name] = Metric(name, direction, doc or (known.doc if known else ""))
    return name


def direction(name: str) -> str:
    """The declared direction of ``name`` (``""`` for an undeclared metric)."""
    known = METRICS.get(name)
    return known.direction if known else ""


def better(name: str, value: float, than: float) -> bool:
    """Whether ``value`` is strictly better than ``than`` for metric ``name``."""
    kind = direction(name)
    if kind == "min":
        return value < than
    if kind == "max":
        return value > than
    if kind == "target1":
        return abs(value - 1) < abs(than - 1)
    raise RegbenchError(f"metric '{name}' has no direction, so it cannot select a model")


for _name, _direction, _doc in [
    ("test_mse", "min", "mean squared reconstruction error per pixel on the test split"),
    ("val_mse", "min", "mean squared reconstruction error per pixel on the validation split"),
    ("train_loss", "min", "the task's training loss (mean over the last check period)"),
    ("cov_trace_per_d", "target1", "trace of the latent covariance / d (1: unit variance per axis)"),
    ("eccentricity", "", "eccentricity ε of the latent covariance (Li & Blair, IJCNN 2022)"),
    ("knn_error", "min", "test error of a KNN classifier on the codes"),
    *[(f"knn_error_{n}", "min", f"KNN test error with {n} labelled training codes")
      for n in (10, 100, 600, 1000, 10000, 60000)],
    ("fcd", "min", "Fréchet classifier distance of decoded fitted-Gaussian codes to test images"),
    ("fcd_normal", "min", "Fréchet classifier distance of decoded N(0, I) codes to test images"),
    ("fid", "min", "FID of decoded fitted-Gaussian codes to the test images"),
    ("fid_normal", "min", "FID of decoded N(0, I) codes to the test images"),
    ("angle_raw_deg", "min", "principal angle between the codes of different seeds, raw"),
    ("angle_aligned_deg", "min", "principal angle between the codes of different seeds, aligned"),
    ("attr_error_dt1", "min", "attribute error of depth-1 trees on the codes, mean over attributes"),
    ("attr_error_dt8", "min", "attribute error of depth-8 trees on the codes, mean over attributes"),
    ("attr_error_knn20", "min", "attribute error of KNN(20) on the codes, mean over attributes"),
    ("attr_error_majority", "", "attribute error of the majority class (a reference)"),
    ("test_error", "min", "top-1 classification error on the test split"),
    ("test_acc", "max", "classification accuracy on the test nodes"),
    ("val_acc", "max", "classification accuracy on the validation nodes"),
    ("test_auc", "max", "ROC AUC of held-out test edges against non-edges"),
    ("test_ap", "max", "average precision of held-out test edges against non-edges"),
    ("val_auc", "max", "ROC AUC of validation edges against non-edges"),
    ("val_ap", "max", "average precision of validation edges against non-edges"),
    ("test_ll", "max", "test log-likelihood per item (nats), by importance sampling or a density estimate"),
    ("test_ll_fitted", "max", "test log-likelihood per item (KDE) of codes drawn from the Gaussian fitted to the training codes, decoded"),
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
    declare(_name, _direction, _doc)
