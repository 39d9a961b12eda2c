"""``mnist_cnn``: a narrow CNN-9 (:mod:`regbench.models.cnn9`, the network of the CIFAR experiments
of Liu et al., "Learning with Hyperspherical Uniformity", AISTATS 2021, arXiv:2103.01649, with
``width`` times its channels) classifying MNIST (LeCun, Bottou, Bengio, Haffner, "Gradient-based
learning applied to document recognition", Proc. IEEE 1998) padded to 32×32, for the weight
regularizers at CPU scale (see :mod:`regbench.tasks._classifier`).

``train_size`` training images (a fixed subset), ``val_size`` of the others held out as the
validation set, ``test_size`` of the test images (fixed subsets); pixels in [0, 1], standardised
with MNIST's mean and standard deviation inside the network; 5 epochs.
"""
from torch import nn

from ..datasets.augment import Normalize
from ..datasets.mnist import FILES, load_mnist, mnist_files
from ..models.cnn9 import cnn9
from ..params import Param
from ..registry import register_task
from ..training import fixed_subset
from ._autoencoder import Split, default
from ._classifier import ClassifierTask

MEAN, STD = (0.1307,), (0.3081,)


@register_task("mnist_cnn")
class MnistCNN(ClassifierTask):
    """CNN-9 with ``width`` × (64, 128, 256) channels on MNIST padded to 32×32."""

    input_shape = (1, 32, 32)

    epochs = default(ClassifierTask.epochs, 5)
    width = Param(0.125, "channels of each stage as a fraction of CNN-9's 64, 128, 256", gt=0, le=1)
    train_size = Param(5000, "training images (a fixed subset; 0 = all but the validation ones)", ge=0)
    val_size = Param(1000, "other training images held out as the validation set", ge=1, lt=60000)
    test_size = Param(2000, "test images (a fixed subset; 0 = all)", ge=0)

    def check_data(self):
        mnist_files()

    def data_checksums(self):
        return {f"MNIST/raw/{name}": f"md5:{md5}" for name, md5 in FILES.items()}  # checked on load

    def load(self) -> Split:
        x, y, x_test, y_test = load_mnist()
        n = len(x) - self.val_size
        test = fixed_subset(len(x_test), self.test_size)
        return Split(x[:n], y[:n], x[n:], y[n:], x_test[test], y_test[test])

    def network(self):
        widths = tuple(max(1, round(w * self.width)) for w in (64, 128, 256))
        return nn.Sequential(Normalize(MEAN, STD), cnn9(10, 1, widths))
