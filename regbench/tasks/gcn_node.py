"""``cora_node``, ``citeseer_node``, ``pubmed_node``: GCN node classification, as in the GCN table of
Liu, Lin, Liu, Xiong, Schölkopf & Weller, "Learning with Hyperspherical Uniformity",
AISTATS 2021, arXiv:2103.01649.

The recipe of Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks"
(ICLR 2017, arXiv:1609.02907) on the public Planetoid split (20 labels per class,
500 validation, 1000 test nodes): a two-layer GCN (16 hidden, dropout 0.5), Adam lr 0.01 with
weight decay 5e-4 on the first layer only, 200 full-batch epochs. The model of the epoch with the
best validation accuracy (the first, on ties) is the one evaluated. Weight regularizers act on the
two GCN layers (the second is the final, classifier layer), as in Liu et al. A latent-code
regularizer acts on the hidden node representations (after the ReLU: what the classifier layer
sees), of at most ``reg_nodes`` random nodes per step, loss = cross-entropy + λ · R(codes), as
DeCov acts on a classifier's hidden activations (Cogswell, Ahmed, Girshick, Zitnick, Batra,
"Reducing Overfitting in Deep Networks by Decorrelating Representations", ICLR 2016,
arXiv:1511.06068); a posterior regularizer is refused before training. Accuracies are fractions in
[0, 1]; the geometry diagnostics describe the layers' weights and (``latent.``) the hidden node
representations.
"""
import itertools

import torch
import torch.nn.functional as F

from ..geometry import describe, describe_layers
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, WEIGHTS
from ..training import Training
from ._base import DENSE_COPIES, FLOAT32, TRAINED, MemoryNeed, weight_penalty_bytes
from ..weights import weight_layers
from ..datasets.planetoid import load_planetoid
from ._planetoid import PlanetoidTask

SIZES = {"Cora": (2708, 1433, 7), "CiteSeer": (3327, 3703, 6), "PubMed": (19717, 500, 3)}
"""Nodes, features and classes of each Planetoid graph (for the memory estimate, without loading it)."""
ACTIVATION_COPIES = 4  # nodes × hidden float32 tensors of a forward pass (outputs, ReLU, dropout, mask)


def accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    return float((logits[mask].argmax(1) == y[mask]).float().mean())


class GCNNodeTask(PlanetoidTask):
    """GCN node classification on a Planetoid graph (``dataset`` is set by each registered task)."""

    supports = (WEIGHTS, CODES)
    metrics = ("test_acc", "val_acc")
    term_defaults = {"lam": 1e-2}

    hidden = Param(16, "hidden units", ge=1)
    dropout = Param(0.5, "dropout rate on the input and hidden features",
                    ge=0, lt=1)
    epochs = Param(200, "full-batch training epochs", ge=1)
    lr = Param(0.01, "Adam learning rate", gt=0)
    weight_decay = Param(5e-4, "weight decay on the first layer", ge=0)
    reg_nodes = Param(1024, "random nodes per step seen by a latent-code regularizer", ge=2)

    def setup(self, regularizer, target, ctx):
        from ..models.gcn import GCN

        torch.manual_seed(ctx.seed)
        self.target = target
        self.generator = torch.Generator().manual_seed(ctx.seed)  # the nodes a code term sees
        self.data = load_planetoid(self.dataset, normalize=True).to(ctx.device)
        classes = int(self.data.y.max()) + 1
        model = GCN(self.data.edge_index, self.data.num_features, self.hidden, classes, self.dropout)
        model = model.to(ctx.device)
        optimizer = torch.optim.Adam([
            {"params": model.conv1.parameters(), "weight_decay": self.weight_decay},
            {"params": model.conv2.parameters(), "weight_decay": 0.0}], lr=self.lr)
        return Training(model, optimizer, itertools.repeat(self.data), self.epochs, select="val_acc")

    def memory_needs(self, regularizer, reg_params):
        """The first layer (features × hidden) with Adam's state, the nodes' hidden activations,
        and the regularizer's matrices (of the two layers, or of the codes it sees)."""
        nodes, features, classes = SIZES[self.dataset]
        target = self.target_for(regularizer, reg_params.get("target", "auto"))
        term = (weight_penalty_bytes(regularizer, reg_params, self.hidden, features)
                + weight_penalty_bytes(regularizer, reg_params, classes, self.hidden, hidden=False)
                if target == WEIGHTS else DENSE_COPIES * FLOAT32 * min(nodes, self.reg_nodes) ** 2
                if target == CODES else 0)
        return [MemoryNeed("the first layer and its optimizer state",
                           TRAINED * FLOAT32 * features * self.hidden, "hidden"),
                MemoryNeed("the hidden activations",
                           ACTIVATION_COPIES * FLOAT32 * nodes * self.hidden, "hidden"),
                MemoryNeed("the regularizer's pairwise matrices", term, "hidden")]

    def loss(self, model, data):
        hidden = model.embed(data.x)
        logits = model.conv2(model.dropout(hidden), model.edge_index)
        loss = F.cross_entropy(logits[data.train_mask], data.y[data.train_mask])
        if self.target != CODES:
            return loss, {}
        nodes = torch.randperm(len(hidden), generator=self.generator)[:self.reg_nodes]
        return loss, {CODES: hidden[nodes.to(hidden.device)]}

    def validate(self, model):
        return {"val_acc": accuracy(self.predict(model), self.data.y, self.data.val_mask)}

    def evaluate(self, model, summary, ctx):
        data = self.data
        logits = self.predict(model)
        with torch.no_grad():
            hidden = model.embed(data.x)
        return {"test_acc": accuracy(logits, data.y, data.test_mask),
                "val_acc": accuracy(logits, data.y, data.val_mask),
                **{f"latent.{k}": v for k, v in describe(hidden).items()},
                **describe_layers(weight_layers(model))}

    @torch.no_grad()
    def predict(self, model) -> torch.Tensor:
        model.eval()
        return model(self.data.x)


@register_task("cora_node")
class CoraNode(GCNNodeTask):
    """GCN node classification on Cora (public split; Kipf & Welling 2017)."""
    dataset = "Cora"


@register_task("citeseer_node")
class CiteSeerNode(GCNNodeTask):
    """GCN node classification on CiteSeer (public split; Kipf & Welling 2017)."""
    dataset = "CiteSeer"


@register_task("pubmed_node")
class PubMedNode(GCNNodeTask):
    """GCN node classification on PubMed (public split; Kipf & Welling 2017)."""
    dataset = "PubMed"
