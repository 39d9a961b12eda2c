"""A plugin adding a new kind of target, a regularizer acting on it and a task exposing it, without
editing regbench (``regbench --plugin tests.plugins.embedding_rows run ...``).

- target ``embeddings``: the rows of every ``nn.Embedding`` / ``nn.EmbeddingBag`` of the model,
  found in ``expose`` (one :class:`~regbench.regularizers.WeightLayer` per table); the regularizer
  method is ``embedding_penalty``; its λ is ``lam``, a ``Param`` of the target, so every regularizer
  acting on it gets ``lam`` without declaring it.
- regularizer ``embedding_spread``: the mean over tables of the mean squared cosine between
  distinct rows (rows normalised as in MHE, ``w / sqrt(|w|² + 1e-4)``, so zero rows stay finite):
  0 when the rows are mutually orthogonal, a soft version of the orthogonality of Bansal et al.,
  "Can We Gain More from Orthogonality Regularizations in Training Deep CNNs?", NeurIPS 2018,
  arXiv:1810.09102, on the rows of an embedding table.
- task ``embedding_bag``: an embedding-bag classifier (mean of the token embeddings, then a linear
  layer) on random bags of tokens whose label is the first token's class, through the one training
  loop (``setup`` / ``loss`` / ``evaluate`` with :class:`~regbench.training.Training`). Metrics:
  ``test_error`` and ``embedding_abs_cos`` (mean |cos| between distinct rows, declared here).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from regbench import (Param, Regularizer, Target, Task, Training, WeightLayer, declare, epochs,
                      register_regularizer, register_target, register_task)

EMBEDDINGS = "embeddings"
NORM_EPS = 1e-4

declare("embedding_abs_cos", "min", "mean |cos| between distinct rows of the embedding tables")


def embedding_tables(model: nn.Module) -> list[WeightLayer]:
    """Every embedding table of ``model`` as rows, in module order."""
    return [WeightLayer(name, module.weight, False) for name, module in model.named_modules()
            if isinstance(module, (nn.Embedding, nn.EmbeddingBag))]


def row_cosines(rows: torch.Tensor) -> torch.Tensor:
    """The cosines of the distinct pairs i ≠ j (as an n × n matrix with a zero diagonal)."""
    unit = rows * torch.rsqrt(rows.pow(2).sum(1, keepdim=True) + NORM_EPS)
    c = unit @ unit.T
    return c - torch.diag_embed(torch.diagonal(c))


@register_target(EMBEDDINGS)
class Embeddings(Target):
    """The rows of the model's embedding tables."""

    method = "embedding_penalty"
    lam = Param(1.0, "weight λ of the term on the embedding rows (a task may set its own default)",
                ge=0)

    def expose(self, model, outputs):
        return outputs[EMBEDDINGS] if EMBEDDINGS in outputs else embedding_tables(model)

    def example(self, regularizer, n, d, generator, dtype=torch.float32):
        return [WeightLayer("table", torch.randn(n, d, generator=generator, dtype=dtype), False)]


@register_regularizer("embedding_spread")
class EmbeddingSpread(Regularizer):
    """Mean squared cosine between distinct rows of each embedding table."""

    targets = (EMBEDDINGS,)

    def embedding_penalty(self, tables: list[WeightLayer]) -> torch.Tensor:
        total = 0
        for table in tables:
            n = len(table.rows)
            total = total + row_cosines(table.rows).pow(2).sum() / max(n * (n - 1), 1)
        return total / max(len(tables), 1)


class BagClassifier(nn.Module):
    def __init__(self, vocab: int, dim: int, classes: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(tokens))


@register_task("embedding_bag")
class EmbeddingBagTask(Task):
    """Embedding-bag classifier on random bags of tokens; the regularizer acts on the embedding rows."""

    supports = (EMBEDDINGS,)
    metrics = ("test_error", "embedding_abs_cos")
    term_defaults = {"lam": 0.5}

    vocab = Param(12, "vocabulary size (≤ dim: the rows can be made orthogonal)", ge=2)
    dim = Param(16, "embedding dimension", ge=1)
    classes = Param(4, "number of classes", ge=2)
    bag = Param(3, "tokens per bag", ge=1)
    items = Param(400, "bags (a fixed quarter is the test set)", ge=8)
    steps = Param(60, "Adam steps", ge=1)
    batch_size = Param(50, "bags per step", ge=1)
    lr = Param(0.05, "Adam learning rate", gt=0)

    def setup(self, regularizer, target, ctx):
        data = torch.Generator().manual_seed(0)  # the data do not depend on the run's seed
        tokens = torch.randint(self.vocab, (self.items, self.bag), generator=data)
        labels = tokens[:, 0] % self.classes
        cut = self.items // 4
        self.test = tokens[:cut].to(ctx.device), labels[:cut].to(ctx.device)
        train_x, train_y = tokens[cut:].to(ctx.device), labels[cut:].to(ctx.device)
        torch.manual_seed(ctx.seed)
        model = BagClassifier(self.vocab, self.dim, self.classes).to(ctx.device)
        order = torch.Generator().manual_seed(ctx.seed)
        batches = ((train_x[i], train_y[i]) for i in epochs(len(train_x), self.batch_size, order, ctx.device))
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr), batches, self.steps,
                        period=self.steps, unit="step")

    def loss(self, model, batch):
        tokens, labels = batch
        return F.cross_entropy(model(tokens), labels), {}

    @torch.no_grad()
    def evaluate(self, model, summary, ctx):
        model.eval()
        tokens, labels = self.test
        error = float((model(tokens).argmax(1) != labels).float().mean())
        cosines = [row_cosines(t.rows).abs() for t in embedding_tables(model)]
        spread = sum(float(c.sum() / (len(c) * (len(c) - 1))) for c in cosines) / len(cosines)
        return {"test_error": error, "embedding_abs_cos": spread, "train_loss": summary.train_loss,
                "penalty": summary.penalty}
