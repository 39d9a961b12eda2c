"""``cora_link``, ``citeseer_link``, ``pubmed_link``: (V)GAE link prediction (seed 003).

Kipf & Welling, "Variational Graph Auto-Encoders" (2016), and its hyperspherical variant S-VGAE
(Davidson et al., UAI 2018). A GCN encoder on the raw node features (32 hidden, ReLU, then a
linear GCN layer, no dropout; tkipf/gae) and an inner-product decoder σ(z_i·z_j) scored on node
pairs only, never on the N×N matrix.
The encoder head follows the regularizer's target:

- codes: GAE, deterministic codes z; loss = recon + (lam/N) · regularizer(z), the regularizer
  seeing at most ``reg_nodes`` random nodes per step (bounds the O(n²) ones on PubMed);
- posterior: the second layer outputs the regularizer's head h (``kl_gauss``: VGAE, ``vmf``:
  S-VGAE); z = sample(h) in training, mode(h) in evaluation; loss = recon + (lam/N) · kl(h).
  With lam = 1 this is VGAE's weighting of the mean KL per node by 1/N;
- weights: loss = recon + regularizer.weight_penalty(the two GCN layers).

recon is the binary cross-entropy of the training edges plus that of as many uniformly drawn
non-edges of the training graph, redrawn every epoch (torch_geometric's GAE; held-out edges may be
drawn, as they count as non-edges in GAE's full-adjacency loss). Adam lr 0.01,
200 full-batch epochs; the model of the epoch with the best validation AUC is evaluated.

The split follows GAE's ``mask_test_edges``: of the undirected edges, ⌊5%⌋ validation, ⌊10%⌋
test, the rest train (and form the encoder's graph); validation and test get as many non-edges of
the full graph. It depends only on the dataset and the seed (``split_sha`` records it), so every
regularizer is compared on the same splits. Metrics: AUC and AP (scikit-learn) on test and
validation pairs, geometry of the node codes (``latent.``) and of the layers' weights.
"""
import copy
import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import describe, describe_layers
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, POSTERIOR, WEIGHTS
from ..training import check_finite
from ..weights import weight_layers
from ._autoencoder import Autoencoder
from ..datasets.planetoid import load_planetoid
from ._planetoid import PlanetoidTask


def pair_codes(pairs: torch.Tensor, n: int) -> torch.Tensor:
    """Node pairs ``[2, k]`` with i < j as integers i·n + j."""
    return pairs[0] * n + pairs[1]


def sample_non_edges(known: torch.Tensor, n: int, k: int, generator: torch.Generator):
    """``k`` distinct node pairs i < j, uniformly among those whose code is not in ``known``."""
    found = torch.empty(0, dtype=torch.long)
    while len(found) < k:
        i, j = torch.randint(n, (2, 2 * k), generator=generator)
        codes = torch.minimum(i, j) * n + torch.maximum(i, j)
        found = torch.cat([found, codes[(i != j) & ~torch.isin(codes, known)]]).unique()
    found = found[torch.randperm(len(found), generator=generator)[:k]]
    return torch.stack([found // n, found % n])


@dataclass
class LinkSplit:
    """Undirected node pairs ``[2, k]`` (i < j) of each part of an edge split."""
    train: torch.Tensor
    val: torch.Tensor
    val_neg: torch.Tensor
    test: torch.Tensor
    test_neg: torch.Tensor

    def sha(self) -> str:
        digest = hashlib.sha256()
        for pairs in vars(self).values():
            digest.update(pairs.numpy().tobytes())
        return digest.hexdigest()[:16]


def split_edges(edge_index: torch.Tensor, n: int, seed: int) -> LinkSplit:
    """The 85/5/10 split of the undirected edges, with as many non-edges; a function of ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    edges = edge_index[:, edge_index[0] < edge_index[1]]
    edges = edges[:, torch.randperm(edges.size(1), generator=generator)]
    n_val, n_test = edges.size(1) // 20, edges.size(1) // 10
    negatives = sample_non_edges(pair_codes(edges, n), n, n_val + n_test, generator)
    return LinkSplit(train=edges[:, n_val + n_test:], val=edges[:, :n_val],
                     val_neg=negatives[:, :n_val], test=edges[:, n_val:n_val + n_test],
                     test_neg=negatives[:, n_val:])


class InnerProduct(nn.Module):
    """The decoder's logits z_i·z_j (edge probability σ(z_i·z_j)) of the given pairs only."""

    def forward(self, z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return (z[pairs[0]] * z[pairs[1]]).sum(1)


@torch.no_grad()
def link_scores(model: Autoencoder, x: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor):
    """(labels, decoder logits) of the positive and negative pairs, from the deterministic codes."""
    model.eval()
    z = model.encode(x, sample=False)[0]
    scores = torch.cat([model.decoder(z, pos), model.decoder(z, neg)]).cpu().numpy()
    return [1] * pos.size(1) + [0] * neg.size(1), scores


class GraphLinkTask(PlanetoidTask):
    """(V)GAE link prediction on a Planetoid graph (``dataset`` is set by each registered task)."""

    supports = (CODES, POSTERIOR, WEIGHTS)
    metrics = {"test_auc": "max", "test_ap": "max", "val_auc": "max", "val_ap": "max"}

    d = Param(16, "latent dimension", check=lambda v: v >= 2, rule="d ≥ 2")
    hidden = Param(32, "hidden units of the GCN encoder", check=lambda v: v >= 1, rule="≥ 1")
    lam = Param(1.0, "weight λ of a latent or posterior regularizer, divided by the number of "
                "nodes N (λ = 1: VGAE's KL weighting)", check=lambda v: v >= 0, rule="λ ≥ 0")
    reg_nodes = Param(1024, "random nodes per step seen by a latent-code regularizer",
                      check=lambda v: v >= 2, rule="≥ 2")
    epochs = Param(200, "full-batch training epochs", check=lambda v: v >= 1, rule="≥ 1")
    lr = Param(0.01, "Adam learning rate", check=lambda v: v > 0, rule="> 0")

    def run(self, regularizer, ctx):
        from sklearn.metrics import average_precision_score, roc_auc_score
        from ..models.gcn import GCN

        torch.manual_seed(ctx.seed)
        target = self.target_for(type(regularizer))
        data = load_planetoid(self.dataset, normalize=False)
        n = data.num_nodes
        split = split_edges(data.edge_index, n, ctx.seed)
        known = pair_codes(split.train, n)
        parts = {name: pairs.to(ctx.device) for name, pairs in vars(split).items()}
        x = data.x.to(ctx.device)
        head = regularizer.head_size(self.d) if target == POSTERIOR else self.d
        encoder = GCN(torch.cat([split.train, split.train.flip(0)], 1), data.num_features,
                      self.hidden, head)
        model = Autoencoder(encoder, InnerProduct(), regularizer, target).to(ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        generator = torch.Generator().manual_seed(ctx.seed)
        best_auc, best_state = -1.0, None
        for epoch in ctx.progress(range(self.epochs), desc=self.registered_name):
            model.train()
            z, h = model.encode(x, sample=True)
            negatives = sample_non_edges(known, n, split.train.size(1), generator).to(ctx.device)
            pos, neg = model.decoder(z, parts["train"]), model.decoder(z, negatives)
            loss = (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
                    + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))
            if target == CODES:
                nodes = torch.randperm(n, generator=generator)[:self.reg_nodes].to(ctx.device)
                loss = loss + self.lam / n * regularizer(z[nodes])
            elif target == POSTERIOR:
                loss = loss + self.lam / n * regularizer.kl(h)
            else:
                loss = loss + regularizer.weight_penalty(weight_layers(model))
            check_finite(loss, epoch, "epoch")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_auc = float(roc_auc_score(*link_scores(model, x, parts["val"], parts["val_neg"])))
            ctx.report(epoch, {"val_auc": val_auc})
            if val_auc > best_auc:
                best_auc, best_state = val_auc, copy.deepcopy(model.state_dict())
        model.load_state_dict(best_state)
        metrics = {}
        for part in ("test", "val"):
            labels, scores = link_scores(model, x, parts[part], parts[f"{part}_neg"])
            metrics[f"{part}_auc"] = float(roc_auc_score(labels, scores))
            metrics[f"{part}_ap"] = float(average_precision_score(labels, scores))
        with torch.no_grad():
            z = model.encode(x, sample=False)[0]
        return {**metrics, "split_sha": split.sha(), "target": target,
                **{f"latent.{k}": v for k, v in describe(z).items()},
                **describe_layers(weight_layers(model))}


@register_task("cora_link")
class CoraLink(GraphLinkTask):
    """(V)GAE link prediction on Cora (85/5/10 edge split; Kipf & Welling 2016)."""
    dataset = "Cora"


@register_task("citeseer_link")
class CiteSeerLink(GraphLinkTask):
    """(V)GAE link prediction on CiteSeer (85/5/10 edge split; Kipf & Welling 2016)."""
    dataset = "CiteSeer"


@register_task("pubmed_link")
class PubMedLink(GraphLinkTask):
    """(V)GAE link prediction on PubMed (85/5/10 edge split; Kipf & Welling 2016)."""
    dataset = "PubMed"
