"""``digits_ae``: a small MLP autoencoder on scikit-learn's bundled 8×8 digits (no download).

Pixels scaled to [0, 1]; a fixed stratified split (test 20%, validation 15% of the rest),
independent of the seed, so that seeds vary only the model. Loss = mean squared reconstruction error
+ the regularizer's term (see :mod:`regbench.tasks._autoencoder`). Metrics follow §4 of Li & Blair (IJCNN 2022, arXiv:2104.11610): test MSE,
latent covariance trace / d, eccentricity ε, and the test error of a KNN classifier on the codes.
"""
import torch
from torch import nn

from ..models.mlp import mlp
from ..params import Param
from ..registry import register_task
from ._autoencoder import AutoencoderTask, Split


def load_digits_split() -> Split:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    rest, test = train_test_split(range(len(x)), test_size=0.2, random_state=0, stratify=digits.target)
    train, val = train_test_split(rest, test_size=0.15, random_state=0, stratify=digits.target[rest])
    return Split(x[train], y[train], x[val], y[val], x[test], y[test])


@register_task("digits_ae")
class DigitsAE(AutoencoderTask):
    """MLP autoencoder 64 → 128 → 64 → d → 64 → 128 → 64 (sigmoid) on sklearn digits."""

    image_shape = (1, 8, 8)

    metrics = ("test_mse", "val_mse", "cov_trace_per_d", "eccentricity", "knn_error")

    knn_k = Param(5, "neighbours of the KNN classifier", ge=1)

    def load(self, ctx) -> Split:
        return load_digits_split()

    def networks(self, head_size: int):
        return mlp([64, 128, 64, head_size]), mlp([self.d, 64, 128, 64], final=nn.Sigmoid())

    def downstream(self, z, data):
        from sklearn.neighbors import KNeighborsClassifier
        knn = KNeighborsClassifier(self.knn_k).fit(z["train"].numpy(), data.y_train.cpu().numpy())
        error = (knn.predict(z["test"].numpy()) != data.y_test.cpu().numpy()).mean()
        return {"knn_error": float(error)}
