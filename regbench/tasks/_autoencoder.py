"""The autoencoder tasks' data, model, loss and metric pipeline (Li & Blair, "Eccentric
Regularization: Minimizing Hyperspherical Energy without explicit projection", IJCNN 2022,
arXiv:2104.11610, §4).

A subclass supplies its data (:meth:`load`), its networks (:meth:`networks`), its image shape and
its downstream metrics (:meth:`downstream`); this class builds the encoder head the regularizer
needs, and the one training loop (:mod:`regbench.training`) trains on loss = recon + the
regularizer's term:

- codes: deterministic codes z, exposed to the regularizer (λ · R(z));
- posterior: the encoder outputs the regularizer's head h; z = sample(h) while training, mode(h)
  for evaluation; the term is λ · kl(h) (β-VAE / S-VAE with β = λ);
- weights: every conv/linear layer (the regularizer's own hidden/final coefficients weight it).

Adam with the task's lr / weight decay on minibatches drawn by indexing uint8 tensors held on the
device (no per-item work in the epoch loop), optionally channels-last and bf16 autocast for the
networks (losses in float32). A non-finite loss stops the run as ``diverged`` at its epoch.

Every run records:
- test (and validation) reconstruction MSE per pixel;
- the latent covariance spectrum of the training codes, trace / d, eccentricity ε and the
  geometry diagnostics of the codes and (``layer_geometry``) of every layer's filters;
- generation (``gen_samples`` > 0): codes drawn from the Gaussian fitted to the training codes
  (Li & Blair §4.3, Table 1: ``fid``, ``fcd``) and from N(0, I) (``fid_normal``, ``fcd_normal``) are
  decoded and compared with the test images by FCD (:mod:`~regbench.metrics.classifier`, offline)
  and by FID (:mod:`~regbench.metrics.fid`) when Inception weights are given, each with its setup;
- the task's downstream metrics;
- principal-axis codes of fixed training and test images for the cross-run alignment angles
  (:mod:`~regbench.metrics.alignment`), exposed as ``cross_run_metrics``;
- figures (Figures 3, 5, 6–7 of Li & Blair) when the runner gives an artifacts directory.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import torch
from torch import nn

from ..geometry import describe, describe_layers
from ..metrics.alignment import CROSS_RUN, KEY, principal_axes, record_codes
from ..metrics.classifier import classifier
from ..metrics.fid import FID, weights_file
from ..metrics.frechet import embed_all, frechet_distance, gaussian
from ..params import Param
from ..regularizers._base import CODES, POSTERIOR, WEIGHTS
from ..training import Training, epochs, fixed_subset
from ..weights import weight_layers
from ._base import FLOAT32, TRAINED, MemoryNeed, Task, forward_bytes
from ._speed import SpeedOptions

SUFFIX = {"fitted": "", "normal": "_normal"}  # the fitted Gaussian is Table 1's protocol: plain names
FID_WEIGHTS_NOTE = ("FID skipped: no Inception weights; set fid_weights=PATH or $REGBENCH_FID_WEIGHTS "
                    "to pytorch-fid's pt_inception-2015-12-05-6726825d.pth")


@dataclass
class Split:
    """Inputs (float in [0, 1] or uint8) and labels of train, validation (may be empty) and test."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device) -> "Split":
        return Split(*(t.to(device) for t in vars(self).values()))


def default(param: Param, value) -> Param:
    """``param`` with another default, for a task whose recipe differs."""
    changed = copy.copy(param)
    changed.default = value
    return changed


class Autoencoder(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, regularizer, target: str):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.regularizer = regularizer
        self.stochastic = target == POSTERIOR

    def network(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return module(x).float()  # float32 under the training loop's autocast too

    def encode(self, x: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes, encoder output); for a stochastic head the codes are sampled or the mode."""
        h = self.network(self.encoder, x)
        if not self.stochastic:
            return h, h
        with torch.autocast(h.device.type, enabled=False):  # the head's sampling in float32
            return (self.regularizer.sample(h) if sample else self.regularizer.mode(h)), h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.network(self.decoder, z)


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255) if x.dtype == torch.uint8 else x


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.uint8 else x.clamp(0, 1).mul(255).round().to(torch.uint8)


def input_shape(network: nn.Module, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one input of ``network``: flat when its first layer is linear."""
    first = next(module for module in network.modules() if not list(module.children()))
    return (int(np.prod(image_shape)),) if isinstance(first, nn.Linear) else image_shape


def latent_samples(z_train: torch.Tensor, n: int, seed: int) -> dict[str, torch.Tensor]:
    """``n`` codes from N(0, I) and from N(mean, cov) of the training codes (same normal draws)."""
    z = z_train.double()
    eps = torch.randn(n, z.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    values, vectors = torch.linalg.eigh(torch.cov(z.T))
    fitted = z.mean(0) + eps @ (vectors * values.clamp_min(0).sqrt()).T
    return {"normal": eps.float(), "fitted": fitted.float()}


class AutoencoderTask(SpeedOptions, Task):
    supports = (CODES, WEIGHTS, POSTERIOR)
    image_shape: tuple[int, ...] = ()  # (C, H, W) of one input; figures and generation need it
    eval_batch = 1000
    cross_run_metrics = CROSS_RUN

    term_defaults = {"lam": 1e-3}
    data_items = 0  # items of the dataset held in memory (train, validation, test), for the estimate

    d = Param(8, "latent dimension", ge=2)
    epochs = Param(60, "training epochs", ge=1)
    batch_size = Param(100, "minibatch size", ge=2)
    lr = Param(1e-3, "Adam learning rate", gt=0)
    weight_decay = Param(1e-6, "Adam weight decay", ge=0)
    recon = Param("mse", "reconstruction loss: mse (mean over pixels), l2sq (sum of squared errors "
                  "per image, the WAE's and eccentric paper's), l2 (Euclidean distance per image)",
                  choices=("mse", "l2sq", "l2"))
    train_size = Param(0, "train on a fixed random subset of this many training items (0 = all)",
                       ge=0)
    eval_size = Param(0, "evaluate on fixed random subsets of this many validation and test items "
                      "(0 = all)", ge=0)
    code_size = Param(0, "describe, use downstream and generate from the codes of a fixed random "
                      "subset of this many training items (0 = all)", ge=0)
    gen_samples = Param(0, "codes decoded per latent distribution for FCD / FID (0 = no generation "
                        "metrics)", ge=0)
    fid_weights = Param("", "pytorch-fid Inception weights file; empty = $REGBENCH_FID_WEIGHTS; "
                        "without one FID is skipped", identity=False)
    align_samples = Param(1000, "training and test items whose principal-axis codes are recorded "
                          "for the cross-run alignment angles (0 = none)", ge=0)
    figures = Param(True, "write the run's figures (when the runner gives a directory)", identity=False)
    layer_geometry = Param(True, "geometry diagnostics of every layer's filters (about half a minute "
                           "on a CPU for the CelebA networks)", identity=False)

    @classmethod
    def check_params(cls, hparams):
        weights_file(hparams["fid_weights"])

    def memory_needs(self, regularizer, reg_params):
        """The networks with Adam's state and the activations of a batch (from a forward pass on
        the meta device), the dataset and the codes of all its items, the generated samples."""
        target = self.target_for(regularizer, reg_params.get("target", "auto"))
        head = regularizer(**reg_params).head_size(self.d) if target == POSTERIOR else self.d
        size = int(np.prod(self.image_shape))
        parts = [forward_bytes((type(self), part, self.d, head), lambda: self.networks(head)[part], shape)
                 for part, shape in ((0, lambda network: input_shape(network, self.image_shape)),
                                     (1, (self.d,)))]
        parameters, saved = (sum(values) for values in list(zip(*parts))[:2])
        return [MemoryNeed("the networks and their optimizer state", TRAINED * FLOAT32 * parameters, "d"),
                MemoryNeed("the activations of a batch", self.batch_size * saved, "batch_size"),
                MemoryNeed("the dataset", self.data_items * size),
                MemoryNeed("the codes of every item", self.data_items * FLOAT32 * self.d, "d"),
                MemoryNeed("the generated samples", 2 * self.gen_samples * (size + 16 * self.d),
                           "gen_samples")]

    def load(self, ctx) -> Split:
        raise NotImplementedError

    def networks(self, head_size: int) -> tuple[nn.Module, nn.Module]:
        """(encoder to ``head_size`` features, decoder from ``d`` codes to inputs)."""
        raise NotImplementedError

    def downstream(self, z: dict[str, torch.Tensor], data: Split) -> dict:
        """Task-specific metrics from the codes of each split (``z["train"]`` etc., on the CPU)."""
        return {}

    def reconstruction_loss(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.recon == "mse":
            return (x_hat - x).pow(2).mean()
        per_item = (x_hat - x).pow(2).flatten(1).sum(1)
        return per_item.mean() if self.recon == "l2sq" else per_item.add(1e-10).sqrt().mean()

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return self.layout(as_float(x))

    def build(self, regularizer, target: str, device) -> Autoencoder:
        head = regularizer.head_size(self.d) if target == POSTERIOR else self.d
        return self.place(Autoencoder(*self.networks(head), regularizer, target), device)

    def setup(self, regularizer, target, ctx):
        torch.manual_seed(ctx.seed)
        data = self.load(ctx)
        val = fixed_subset(len(data.x_val), self.eval_size)
        test = fixed_subset(len(data.x_test), self.eval_size)
        self.data = Split(data.x_train, data.y_train, data.x_val[val], data.y_val[val],
                          data.x_test[test], data.y_test[test]).to(ctx.device)
        model = self.build(regularizer, target, ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(ctx.seed)
        train = fixed_subset(len(self.data.x_train), self.train_size).to(ctx.device)
        batches = (self.data.x_train[train[b]] for b in
                   epochs(len(train), self.batch_size, generator, ctx.device))
        per_epoch = -(-len(train) // self.batch_size)
        return Training(model, optimizer, batches, self.epochs * per_epoch, period=per_epoch,
                        autocast=self.autocast)

    def loss(self, model, x):
        """Reconstruction loss of a batch (uint8 or float inputs on the device), and its codes or
        head. A posterior sampler with an estimator correction (``vmf`` with ``g_cor``) gets each
        item's share of the loss as its objective."""
        x = self.prepare(x)
        z, h = model.encode(x, sample=True)
        x_hat = model.decode(z)
        loss = self.reconstruction_loss(x_hat, x)
        if model.regularizer.corrects:
            loss = loss + model.regularizer.correction(self.item_losses(x_hat, x) / len(x))
        return loss, {CODES: z, POSTERIOR: h}

    def item_losses(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Each item's reconstruction loss, whose mean is :meth:`reconstruction_loss`."""
        per_item = (x_hat - x).pow(2).flatten(1)
        if self.recon == "mse":
            return per_item.mean(1)
        return per_item.sum(1) if self.recon == "l2sq" else per_item.sum(1).add(1e-10).sqrt()

    def validate(self, model):
        return {"val_mse": self.evaluate_mse(model, self.data.x_val)} if len(self.data.x_val) else {}

    @torch.no_grad()
    def encode_all(self, model, x: torch.Tensor) -> torch.Tensor:
        model.eval()
        codes = [model.encode(self.prepare(x[i:i + self.eval_batch]), sample=False)[0].cpu()
                 for i in range(0, len(x), self.eval_batch)]
        return torch.cat(codes) if codes else torch.zeros(0, self.d)

    @torch.no_grad()
    def decode_all(self, model, z: torch.Tensor, device) -> torch.Tensor:
        """uint8 images (n × C × H × W, on the CPU) decoded from codes ``z``."""
        model.eval()
        return torch.cat([as_uint8(model.decode(z[i:i + self.eval_batch].to(device))).cpu()
                          for i in range(0, len(z), self.eval_batch)]).reshape(-1, *self.image_shape)

    @torch.no_grad()
    def evaluate_mse(self, model, x: torch.Tensor) -> float:
        """Mean squared reconstruction error per pixel over ``x`` (deterministic codes)."""
        model.eval()
        total = 0.0
        for i in range(0, len(x), self.eval_batch):
            xb = self.prepare(x[i:i + self.eval_batch])
            total += float((model.decode(model.encode(xb, sample=False)[0]) - xb).pow(2).sum())
        return total / x.numel()

    def evaluate(self, model, summary, ctx) -> dict:
        data = self.data
        if self.code_size:
            keep = fixed_subset(len(data.x_train), self.code_size).to(data.x_train.device)
            data = Split(data.x_train[keep], data.y_train[keep], *list(vars(data).values())[2:])
        z = {name: self.encode_all(model, x) for name, x in
             (("train", data.x_train), ("val", data.x_val), ("test", data.x_test))}
        latent = describe(z["train"], spectrum=True)
        metrics = {"test_mse": self.evaluate_mse(model, data.x_test), **self.validate(model)}
        metrics.update({"cov_trace_per_d": latent["cov_trace"] / self.d,
                        "eccentricity": latent["eccentricity"],
                        **self.downstream(z, data),
                        **self.generation(model, data, z["train"], ctx),
                        **{f"latent.{k}": v for k, v in latent.items()},
                        **self.layer_diagnostics(model)})
        if self.align_samples:
            metrics[KEY] = record_codes(z["train"].numpy(), z["test"].numpy(), self.align_samples)
        if self.figures and ctx.artifacts_dir is not None and self.image_shape:
            metrics["figures"] = self.write_figures(model, z, data, ctx)
        return metrics

    def layer_diagnostics(self, model) -> dict:
        """Geometry of each layer's filters (layers of a single filter, where it is undefined, left out)."""
        if not self.layer_geometry:
            return {}
        return describe_layers([layer for layer in weight_layers(model) if len(layer.rows) > 1])

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs as uint8 images n × C × H × W on the CPU."""
        return as_uint8(x.cpu()).reshape(-1, *self.image_shape)

    def generation(self, model, data: Split, z_train: torch.Tensor, ctx) -> dict:
        """FCD (and FID with weights) of decoded N(0, I) and fitted-Gaussian codes vs test images."""
        if not self.gen_samples:
            return {}
        samples = {name: self.decode_all(model, z, ctx.device)
                   for name, z in latent_samples(z_train, self.gen_samples, ctx.seed).items()}
        reference = self.images(data.x_test)
        setup = {"samples": self.gen_samples, "reference": f"test split, {len(reference)} images"}
        net, key = classifier(self.images(data.x_train), data.y_train.cpu(), ctx.device)
        ref_stats = gaussian(embed_all(net.features, reference, self.eval_batch, ctx.device))
        out = {"fcd" + SUFFIX[name]: frechet_distance(
            *gaussian(embed_all(net.features, images, self.eval_batch, ctx.device)), *ref_stats)
            for name, images in samples.items()}
        out["fcd_setup"] = {**setup, "classifier": key}
        weights = weights_file(self.fid_weights)
        if weights is None:
            out["fid_note"] = FID_WEIGHTS_NOTE
            return out
        fid = FID(weights, ctx.device)
        ref_stats = fid.reference(reference)
        out.update({"fid" + SUFFIX[name]: frechet_distance(*fid.statistics(images), *ref_stats)
                    for name, images in samples.items()})
        out["fid_setup"] = {**setup, "weights_sha256": fid.weights_sha256,
                            "pytorch_fid": version("pytorch-fid")}
        return out

    def write_figures(self, model, z: dict, data: Split, ctx) -> list[str]:
        """Figures 3, 5 and 6–7 of Li & Blair (IJCNN 2022) into ``ctx.artifacts_dir``; returns the file names."""
        from .. import figures  # matplotlib only when figures are drawn
        out = ctx.artifacts_dir
        mean, values, axes = principal_axes(z["train"].numpy())
        test = (z["test"].numpy() - mean) @ axes
        labels = data.y_test.cpu().numpy() if data.y_test.dim() == 1 else None
        shown = min(10, self.d)
        steps = 2 * np.sqrt(values[:shown].clip(min=0))[:, None] * axes[:, :shown].T
        points = torch.tensor(np.concatenate([mean + steps, mean - steps]), dtype=torch.float32)
        pictures = self.decode_all(model, points, ctx.device).float().div(255).numpy()
        return [figures.latent_scatter(test[:2000, :2], None if labels is None else labels[:2000],
                                       out / "latent_scatter.png"),
                figures.spectrum(values, out / "spectrum.png"),
                figures.eigen_images(pictures.reshape(2, shown, *self.image_shape), out / "eigen_images.png")]
