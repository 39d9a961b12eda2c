"""``mnist_ae``: the eccentric paper's MNIST autoencoder (§4 and appendix A.4 of Li & Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit
projection", IJCNN 2022, arXiv:2104.11610).

MNIST padded to 32×32 (:mod:`regbench.datasets.mnist`), the paper's encoder and decoder
(:mod:`regbench.models.ae_mnist`), latent dimension d (default 8). Defaults follow the paper: Adam
lr 1e-4, weight decay 1e-6, batch 100, 1000 epochs, loss = squared L2 distance per image + λ · the
regularizer (λ = 1e-3; μ = 1 is eccentric's default). The autoencoder trains on the 60,000
training images (``val_size`` holds out the last ones as a validation set).
Downstream (Table 2): KNN on labelled subsets of the codes of all training images, errors on the
10,000 test images. Generation: FCD, and FID with Inception weights, against the test images.
``test_mse`` is per pixel of the padded 32×32 images (the 2-pixel border is exact).
"""
import torch

from ..datasets.mnist import FILES, load_mnist, mnist_files
from ..metrics.downstream import knn_protocol
from ..models.ae_mnist import mnist_decoder, mnist_encoder
from ..params import Param
from ..registry import register_task
from ._autoencoder import AutoencoderTask, Split, default


@register_task("mnist_ae")
class MnistAE(AutoencoderTask):
    """The eccentric paper's conv autoencoder on MNIST padded to 32×32."""

    image_shape = (1, 32, 32)
    metrics = ("test_mse", "val_mse", "cov_trace_per_d", "eccentricity", "knn_error_10",
               "knn_error_100", "knn_error_1000", "knn_error_10000", "knn_error_60000", "fcd",
               "fcd_normal", "fid", "fid_normal", "angle_raw_deg", "angle_aligned_deg")

    lr = default(AutoencoderTask.lr, 1e-4)
    epochs = default(AutoencoderTask.epochs, 1000)
    recon = default(AutoencoderTask.recon, "l2sq")
    gen_samples = default(AutoencoderTask.gen_samples, 10000)
    val_size = Param(0, "training images held out as a validation set (0: none, as the paper)",
                     ge=0, lt=60000)
    knn_repeats = Param(20, "random labelled subsets per size in the KNN protocol",
                        ge=1)

    def check_data(self):
        mnist_files()

    def data_checksums(self):
        return {f"MNIST/raw/{name}": f"md5:{md5}" for name, md5 in FILES.items()}  # checked on load

    def load(self, ctx) -> Split:
        x, y, x_test, y_test = load_mnist()
        n = len(x) - self.val_size
        return Split(x[:n], y[:n], x[n:], y[n:], x_test, y_test)

    def networks(self, head_size: int):
        return mnist_encoder(head_size), mnist_decoder(self.d)

    def downstream(self, z, data):
        pool = torch.cat([z["train"], z["val"]]).numpy()
        labels = torch.cat([data.y_train, data.y_val]).cpu().numpy()
        return knn_protocol(pool, labels, z["test"].numpy(), data.y_test.cpu().numpy(), self.knn_repeats)
