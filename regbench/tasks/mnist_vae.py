"""``mnist_vae``: the MLP VAE of the MNIST experiment of Tim R. Davidson, Luca Falorsi, Nicola De Cao,
Thomas Kipf, Jakub M. Tomczak, "Hyperspherical Variational Auto-Encoders", UAI 2018,
arXiv:1804.00891, §5.2 (Tables 1 and 2), after the authors' code ``nicola-decao/s-vae-pytorch``.

Data: MNIST's 28×28 images, pixels in [0, 1]; the last ``val_size`` (10,000) of the 60,000
training images are the validation set. Training images are binarised afresh at every step,
x ~ Bernoulli(pixels) (dynamic binarisation, as the authors' code); the validation and test images
once, by one fixed draw that every run shares, so that all runs are scored on the same binary data.

Model (the authors' code, ``H_DIM = 128``): encoder 784 → 2h → h → the head, decoder d → h → 2h →
784 Bernoulli logits, ReLU, h = ``hidden``; Adam, lr 1e-3, batches of 64 (see
:mod:`regbench.tasks._vae` for the loss, the posterior heads, model selection and the metrics). The
KL warm-up of 100 epochs and the early-stopping look-ahead of 50 are those of the first author's
later code (``trdavidson/increasing-expressivity-s-vae``); this paper's values, and its maximum
number of epochs, are unconfirmed. ``test_ll`` uses 500 importance samples per test image.

Table 2: a k-NN classifier (k = ``knn_k``; the paper's k is unconfirmed) fitted on the posterior
means (modes) of ``knn_repeats`` random labelled subsets of 100, 600 and 1,000 training images,
its error on the test images (``knn_error_<labels>``).

The paper's "d" of an S-VAE is the sphere S^d ⊂ R^{d+1} (the authors' code builds it with
``z_dim + 1``), against the N-VAE's R^d. Here ``d`` is always the dimension of the codes, so the
paper's S-VAE with d = 10 is ``vmf`` with d = 11.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.mnist import FILES, load_mnist, mnist_files
from ..metrics.downstream import knn_protocol
from ..models.mlp import mlp
from ..params import Param
from ..registry import register_task
from ..training import fixed_subset
from ._autoencoder import default
from ._base import FLOAT32, TRAINED, MemoryNeed
from ._vae import IS_ROWS, VAEData, VAETask

PIXELS = 28 * 28
IS_COPIES = 4  # float32 rows × pixels tensors of a chunk (images, logits, the terms, a temporary)
LABELS = (100, 600, 1000)


def binarised(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary images x ~ Bernoulli(pixels) from uint8 images."""
    return torch.bernoulli(x.float().div(255), generator=generator)


@register_task("mnist_vae")
class MnistVAE(VAETask):
    """The S-VAE paper's MLP VAE on dynamically binarised MNIST."""

    metrics = ("test_ll", "test_elbo", "test_re", "test_kl", "knn_error_100", "knn_error_600",
               "knn_error_1000", "val_elbo", "val_re")

    d = default(VAETask.d, 10)
    epochs = default(VAETask.epochs, 1000)
    patience = default(VAETask.patience, 50)
    warmup = default(VAETask.warmup, 100)
    hidden = Param(128, "width h: encoder 784 → 2h → h, decoder d → h → 2h → 784", ge=1)
    val_size = Param(10000, "training images held out as the validation set", ge=1, lt=60000)
    train_size = Param(0, "train on a fixed random subset of this many of the other training images "
                       "(0 = all)", ge=0)
    knn_k = Param(5, "neighbours of the k-NN classifier", ge=1)
    knn_repeats = Param(20, "random labelled subsets per number of labels", ge=1)

    def check_data(self):
        mnist_files()

    def data_checksums(self):
        return {f"MNIST/raw/{name}": f"md5:{md5}" for name, md5 in FILES.items()}  # checked on load

    def memory_needs(self, regularizer, reg_params):
        """The networks with Adam's state, the images and a chunk of the importance sampling."""
        h = self.hidden
        parameters = 2 * (PIXELS * 2 * h + 2 * h * h) + (3 * self.d + 1) * h
        return [MemoryNeed("the networks and their optimizer state", TRAINED * FLOAT32 * parameters,
                           "hidden"),
                MemoryNeed("the images, stored and binarised", 70000 * PIXELS * (1 + FLOAT32)),
                MemoryNeed("a chunk of the importance sampling",
                           IS_COPIES * FLOAT32 * max(IS_ROWS, self.iw_samples) * PIXELS, "iw_samples")]

    def load(self, ctx) -> VAEData:
        x, y, x_test, y_test = load_mnist(pad=0)
        x, x_test = x.flatten(1), x_test.flatten(1)
        n = len(x) - self.val_size
        train = fixed_subset(n, self.train_size)
        fixed = torch.Generator().manual_seed(0)
        return VAEData(x[train], y[train], binarised(x[n:], fixed), binarised(x_test, fixed), y_test)

    def networks(self, head_size):
        h = self.hidden
        return (mlp([PIXELS, 2 * h, h, head_size], activation=nn.ReLU),
                mlp([self.d, h, 2 * h, PIXELS], activation=nn.ReLU))

    def log_likelihood(self, model, output, x):
        """Bernoulli log-likelihood of binary images x under the logits ``output``, summed over pixels."""
        return -F.binary_cross_entropy_with_logits(output, x, reduction="none").sum(1)

    def training_input(self, x):
        return binarised(x)

    def inputs(self, x):
        return binarised(x, torch.Generator(x.device).manual_seed(1))

    def downstream(self, z_train, z_test, ctx):
        protocol = tuple((labels, self.knn_k) for labels in LABELS)
        return knn_protocol(z_train.numpy(), self.data.y_train.numpy(), z_test.numpy(),
                            self.data.y_test.numpy(), self.knn_repeats, protocol=protocol)
