"""``cora_node``, ``citeseer_node``, ``pubmed_node``: GCN node classification (seed 002).

The recipe of Kipf & Welling (ICLR 2017) on the public Planetoid split (20 labels per class,
500 validation, 1000 test nodes): a two-layer GCN (16 hidden, dropout 0.5), Adam lr 0.01 with
weight decay 5e-4 on the first layer only, 200 full-batch epochs. The model of the epoch with the
best validation accuracy (the first, on ties) is the one evaluated. Weight regularizers act on the
two GCN layers (the second is the final, classifier layer), as in seed 002; the task exposes
nothing else, so a latent-code or posterior regularizer is refused before training. Accuracies are
fractions in [0, 1]; the geometry diagnostics describe the layers' weights and (``latent.``) the
hidden node representations.
"""
import copy

import torch
import torch.nn.functional as F

from ..geometry import describe, describe_layers
from ..params import Param
from ..registry import register_task
from ..regularizers._base import WEIGHTS
from ..training import check_finite
from ..weights import weight_layers
from ..datasets.planetoid import load_planetoid
from ._planetoid import PlanetoidTask


def accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    return float((logits[mask].argmax(1) == y[mask]).float().mean())


class GCNNodeTask(PlanetoidTask):
    """GCN node classification on a Planetoid graph (``dataset`` is set by each registered task)."""

    supports = (WEIGHTS,)
    metrics = {"test_acc": "max", "val_acc": "max"}

    hidden = Param(16, "hidden units", check=lambda v: v >= 1, rule="≥ 1")
    dropout = Param(0.5, "dropout rate on the input and hidden features",
                    check=lambda v: 0 <= v < 1, rule="0 ≤ p < 1")
    epochs = Param(200, "full-batch training epochs", check=lambda v: v >= 1, rule="≥ 1")
    lr = Param(0.01, "Adam learning rate", check=lambda v: v > 0, rule="> 0")
    weight_decay = Param(5e-4, "weight decay on the first layer", check=lambda v: v >= 0,
                         rule="≥ 0")

    def run(self, regularizer, ctx):
        from ..models.gcn import GCN

        torch.manual_seed(ctx.seed)
        target = self.target_for(type(regularizer))
        data = load_planetoid(self.dataset, normalize=True).to(ctx.device)
        classes = int(data.y.max()) + 1
        model = GCN(data.edge_index, data.num_features, self.hidden, classes, self.dropout)
        model = model.to(ctx.device)
        optimizer = torch.optim.Adam([
            {"params": model.conv1.parameters(), "weight_decay": self.weight_decay},
            {"params": model.conv2.parameters(), "weight_decay": 0.0}], lr=self.lr)
        best_val, best_state = -1.0, None
        for epoch in ctx.progress(range(self.epochs), desc=self.registered_name):
            model.train()
            logits = model(data.x)
            loss = F.cross_entropy(logits[data.train_mask], data.y[data.train_mask])
            loss = loss + regularizer.weight_penalty(weight_layers(model))
            check_finite(loss, epoch, "epoch")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_acc = accuracy(self.predict(model, data), data.y, data.val_mask)
            ctx.report(epoch, {"val_acc": val_acc})
            if val_acc > best_val:
                best_val, best_state = val_acc, copy.deepcopy(model.state_dict())
        model.load_state_dict(best_state)
        logits = self.predict(model, data)
        with torch.no_grad():
            hidden = model.embed(data.x)
        return {"test_acc": accuracy(logits, data.y, data.test_mask),
                "val_acc": accuracy(logits, data.y, data.val_mask),
                "target": target,
                **{f"latent.{k}": v for k, v in describe(hidden).items()},
                **describe_layers(weight_layers(model))}

    @torch.no_grad()
    def predict(self, model, data) -> torch.Tensor:
        model.eval()
        return model(data.x)


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
