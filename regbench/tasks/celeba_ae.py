"""``celeba_ae``: the eccentric paper's CelebA autoencoder (§4 and appendix A.4 of Li & Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit
projection", IJCNN 2022, arXiv:2104.11610; the networks of Tolstikhin et al., "Wasserstein Auto-Encoders", ICLR 2018,
arXiv:1711.01558).

64×64 aligned faces, the central 140×140 square resized (:mod:`regbench.datasets.celeba`), the WAE
encoder and decoder (:mod:`regbench.models.ae_celeba`), d = 64, CelebA's train / valid / test
partition. Defaults follow the paper: Adam lr 1e-4, weight decay 1e-6, batch 100, 100 epochs, loss =
squared L2 distance per image + λ · the regularizer, λ = 1e-4 (the paper varies λ and μ).
Downstream (Table 3): DT(1), DT(8) and KNN(20) error averaged over the attributes, fitted on the
training images that have attribute rows and tested on the test images that have them; when the
test split has none (the offline subset), a fixed quarter of the attributed training images is held
out instead. Generation: FCD, and FID with Inception weights, against the test images.
"""
import numpy as np

from ..datasets.celeba import celeba_folder, load_celeba
from ..metrics.downstream import attribute_errors
from ..models.ae_celeba import celeba_decoder, celeba_encoder
from ..registry import register_task
from ._autoencoder import AutoencoderTask, Split, default


@register_task("celeba_ae")
class CelebaAE(AutoencoderTask):
    """The WAE conv autoencoder on 64×64 CelebA faces, as in the eccentric paper."""

    image_shape = (3, 64, 64)
    eval_batch = 200
    metrics = ("test_mse", "val_mse", "cov_trace_per_d", "eccentricity", "angle_raw_deg",
               "angle_aligned_deg", "fid", "fid_normal", "fcd", "fcd_normal", "attr_error_dt1",
               "attr_error_dt8", "attr_error_knn20")

    term_defaults = {"lam": 1e-4}

    d = default(AutoencoderTask.d, 64)
    lr = default(AutoencoderTask.lr, 1e-4)
    epochs = default(AutoencoderTask.epochs, 100)
    recon = default(AutoencoderTask.recon, "l2sq")
    gen_samples = default(AutoencoderTask.gen_samples, 10000)

    def check_data(self):
        celeba_folder()

    def load(self, ctx) -> Split:
        data = load_celeba()
        self.checksums = data.checksums
        parts = [(data.images[data.partition == i], data.attributes[data.partition == i]) for i in range(3)]
        return Split(*parts[0], *parts[1], *parts[2])

    def data_checksums(self):
        return self.checksums

    def networks(self, head_size: int):
        return celeba_encoder(head_size), celeba_decoder(self.d)

    def downstream(self, z, data):
        a_train, a_test = data.y_train.cpu().numpy(), data.y_test.cpu().numpy()
        fit, test = (a_train >= 0).all(1), (a_test >= 0).all(1)
        z_fit, a_fit = z["train"].numpy()[fit], a_train[fit]
        z_test, a_test = z["test"].numpy()[test], a_test[test]
        held_out = not len(a_test)
        if held_out:
            order = np.random.default_rng(0).permutation(len(a_fit))
            test, fit = order[:len(order) // 4], order[len(order) // 4:]
            z_fit, a_fit, z_test, a_test = z_fit[fit], a_fit[fit], z_fit[test], a_fit[test]
        if len(a_fit) < 20 or not len(a_test):
            return {"attr_note": "attribute metrics skipped: too few images with attribute rows"}
        return {**attribute_errors(z_fit, a_fit, z_test, a_test),
                "attr_setup": {"fit": len(a_fit), "test": len(a_test),
                               "test_images": "held-out training images" if held_out else "test split"}}
