"""``digits_mlp``: an MLP classifier on scikit-learn's bundled 8×8 digits (no download; E. Alpaydin
and C. Kaynak, UCI optical recognition of handwritten digits, 1998), for the weight regularizers of
Liu et al., "Learning towards Minimum Hyperspherical Energy", NeurIPS 2018, arXiv:1805.09298 (see
:mod:`regbench.tasks._classifier`).

The split of ``digits_ae`` (test 20 %, validation 15 % of the rest, fixed and stratified), pixels
in [0, 1], MLP 64 → ``hidden`` → ``hidden`` → 10 with ReLU, 30 epochs.
"""
from torch import nn

from ..models.mlp import mlp
from ..params import Param
from ..registry import register_task
from ._autoencoder import default
from ._classifier import ClassifierTask
from .digits_ae import load_digits_split


@register_task("digits_mlp")
class DigitsMLP(ClassifierTask):
    """MLP 64 → h → h → 10 on sklearn digits."""

    input_shape = (64,)

    epochs = default(ClassifierTask.epochs, 30)
    hidden = Param(64, "units of each hidden layer", ge=1)

    def load(self):
        return load_digits_split()

    def network(self):
        return mlp([64, self.hidden, self.hidden, 10], activation=nn.ReLU)
