"""The variational autoencoder tasks: a posterior (or deterministic codes), a decoder likelihood,
the ELBO, and the test log-likelihood by importance sampling (Diederik P. Kingma, Max Welling,
"Auto-Encoding Variational Bayes", ICLR 2014, arXiv:1312.6114).

A subclass supplies its data (:meth:`load`), its networks (:meth:`networks`), the decoder's
log-likelihood log p(x | z) per item (:meth:`log_likelihood`), the model inputs of a batch of
stored training items (:meth:`training_input`, e.g. dynamic binarisation) and of all of them
(:meth:`inputs`), and its own metrics (:meth:`downstream`). This class does the rest:

- the encoder head follows the regularizer: a posterior (``kl_gauss``, ``vmf``,
  ``power_spherical``: codes sampled in training, the mode in evaluation) or deterministic codes
  (an autoencoder under a code regularizer, or under none);
- loss = −log p(x | z), mean over the batch, + λ · the term, its weight rising linearly from 0 over
  the first ``warmup`` epochs (KL warm-up); Adam; the model of the epoch with the best validation
  value is kept (``val_elbo``, the single-sample ELBO per item; for codes ``val_re``, log p(x | z)
  at the code, also recorded for a posterior) and training stops after ``patience`` epochs without a better one;
- test metrics per item, in nats: ``test_ll``, log p(x) by importance sampling with ``iw_samples``
  codes from q(z | x) (:mod:`regbench.metrics.likelihood`), ``test_re`` = E_q[log p(x | z)] over
  the same codes, ``test_kl`` (closed form) and ``test_elbo`` = RE − KL; for codes ``test_re`` at
  the code; the geometry of the test codes (``latent.``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..geometry import describe
from ..metrics.likelihood import importance_sampled
from ..params import Param
from ..regularizers._base import CODES, POSTERIOR
from ..training import Training, epochs, fixed_subset
from ._autoencoder import Autoencoder
from ._base import Task

IS_ROWS = 1 << 14  # decoded codes per chunk of the importance-sampled likelihood


@dataclass
class VAEData:
    """Stored training items (``training_input`` makes model inputs of them) and labels; the model
    inputs of the validation and test items, and the test labels."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


class VAETask(Task):
    supports = (POSTERIOR, CODES)
    term_defaults = {"lam": 1.0}
    eval_batch = 1000

    d = Param(2, "dimension of the codes (on the sphere S^{d−1} for vmf and power_spherical)", ge=2)
    epochs = Param(100, "at most this many training epochs", ge=1)
    patience = Param(0, "stop after this many epochs without a better validation value (0: never)",
                     ge=0)
    warmup = Param(0, "epochs over which the term's weight rises linearly from 0 (0: none)", ge=0)
    batch_size = Param(64, "minibatch size", ge=1)
    lr = Param(1e-3, "Adam learning rate", gt=0)
    eval_size = Param(0, "evaluate on fixed random subsets of this many validation and test items "
                      "(0 = all)", ge=0)
    iw_samples = Param(500, "importance samples per test item for test_ll", ge=1)

    def load(self, ctx) -> VAEData:
        raise NotImplementedError

    def networks(self, head_size: int) -> tuple[nn.Module, nn.Module]:
        """(encoder to ``head_size`` features, decoder from ``d`` codes)."""
        raise NotImplementedError

    def log_likelihood(self, model, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per item from the decoder's ``output`` for codes z."""
        raise NotImplementedError

    def training_input(self, x: torch.Tensor) -> torch.Tensor:
        """The model inputs of a batch of stored training items."""
        return x

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The model inputs of stored training items for evaluation (a fixed draw where
        ``training_input`` draws)."""
        return x

    def downstream(self, z_train: torch.Tensor, z_test: torch.Tensor, ctx) -> dict:
        """The task's own metrics from the codes (modes) of the training and test items (CPU)."""
        return {}

    def setup(self, regularizer, target, ctx):
        torch.manual_seed(ctx.seed)
        data = self.load(ctx)
        val, test = (fixed_subset(len(x), self.eval_size) for x in (data.x_val, data.x_test))
        self.test_items = test  # the test items evaluated, as indices of load()'s
        self.data = VAEData(data.x_train.to(ctx.device), data.y_train, data.x_val[val].to(ctx.device),
                            data.x_test[test].to(ctx.device), data.y_test[test])
        self.target = target
        head = regularizer.head_size(self.d) if target == POSTERIOR else self.d
        model = Autoencoder(*self.networks(head), regularizer, target).to(ctx.device)
        generator = torch.Generator().manual_seed(ctx.seed)
        n = len(self.data.x_train)
        batches = (self.training_input(self.data.x_train[b]) for b in
                   epochs(n, self.batch_size, generator, ctx.device))
        per_epoch, warmup = -(-n // self.batch_size), self.warmup
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr), batches,
                        self.epochs * per_epoch, period=per_epoch,
                        term_schedule=(lambda step: min(1.0, step // per_epoch / warmup)) if warmup else None,
                        select="val_elbo" if target == POSTERIOR else "val_re",
                        patience=self.patience or None)

    def loss(self, model, x):
        """−log p(x | z) of a batch, mean over its items; each item's share for a sampler's correction."""
        z, h = model.encode(x, sample=True)
        log_px = self.log_likelihood(model, model.decode(z), x)
        loss = -log_px.mean()
        if model.regularizer.corrects:
            loss = loss + model.regularizer.correction(-log_px / len(x))
        return loss, {CODES: z, POSTERIOR: h}

    def batched(self, x: torch.Tensor):
        return (x[i:i + self.eval_batch] for i in range(0, len(x), self.eval_batch))

    @torch.no_grad()
    def validate(self, model):
        """The single-sample ELBO per validation item and its reconstruction term (for codes:
        log p(x | z) at the code)."""
        model.eval()
        re, kl = 0.0, 0.0
        for x in self.batched(self.data.x_val):
            z, h = model.encode(x, sample=True)
            re += float(self.log_likelihood(model, model.decode(z), x).sum())
            if self.target == POSTERIOR:
                kl += float(model.regularizer.kl(h)) * len(x)
        n = len(self.data.x_val)
        return {"val_elbo": (re - kl) / n, "val_re": re / n} if self.target == POSTERIOR else {"val_re": re / n}

    @torch.no_grad()
    def codes(self, model, x: torch.Tensor) -> torch.Tensor:
        """The modes (posterior means) or codes of model inputs ``x``, on the CPU."""
        model.eval()
        return torch.cat([model.encode(chunk, sample=False)[0].cpu() for chunk in self.batched(x)])

    @torch.no_grad()
    def test_likelihood(self, model) -> dict:
        """``test_ll``, ``test_re``, ``test_kl``, ``test_elbo`` per item (importance sampling);
        for codes ``test_re`` at the code."""
        model.eval()
        x_all, regularizer, samples = self.data.x_test, model.regularizer, self.iw_samples
        if self.target != POSTERIOR:
            re = sum(float(self.log_likelihood(model, model.decode(model.encode(x, sample=False)[0]), x).sum())
                     for x in self.batched(x_all))
            return {"test_re": re / len(x_all)}
        totals = torch.zeros(3, dtype=torch.float64)
        chunk = max(1, IS_ROWS // samples)
        for i in range(0, len(x_all), chunk):
            x = x_all[i:i + chunk]
            head = model.network(model.encoder, x)
            estimate = importance_sampled(
                head, regularizer,
                lambda z, items: self.log_likelihood(model, model.decode(z), x[items]), samples)
            totals += torch.tensor([float(estimate["ll"].sum()), float(estimate["re"].sum()),
                                    float(regularizer.kl(head)) * len(x)], dtype=torch.float64)
        ll, re, kl = (totals / len(x_all)).tolist()
        return {"test_ll": ll, "test_re": re, "test_kl": kl, "test_elbo": re - kl}

    def evaluate(self, model, summary, ctx):
        z_train = self.codes(model, self.inputs(self.data.x_train))
        z_test = self.codes(model, self.data.x_test)
        return {**self.test_likelihood(model), **self.validate(model),
                **self.downstream(z_train, z_test, ctx),
                **{f"latent.{k}": v for k, v in describe(z_test).items()}}
