"""``cora_link``, ``citeseer_link``, ``pubmed_link``: (V)GAE link prediction.

Kipf & Welling, "Variational Graph Auto-Encoders" (NIPS Bayesian Deep Learning Workshop 2016,
arXiv:1611.07308), and its hyperspherical variant S-VGAE of Davidson, Falorsi, De Cao, Kipf &
Tomczak, "Hyperspherical Variational Auto-Encoders" (UAI 2018, arXiv:1804.00891). A GCN encoder
on the raw node features (32 hidden, ReLU, then a linear GCN layer; ``dropout`` on the input and
hidden layer in training, 0 as in tkipf/gae) and an inner-product decoder σ(s·z_i·z_j) scored on
node pairs only, never on the N×N matrix. Both papers' decoder has s = 1 (``logit_scale``); with
codes on the unit sphere (S-VGAE) the logits are then bounded by ±1, edge probabilities by
σ(±1) = 0.27 … 0.73, and s > 1 (a temperature 1/s) lets the loss tell near pairs from far ones.
The encoder head follows the regularizer's target:

- codes: GAE, deterministic codes z; loss = recon + (λ/N) · regularizer(z), the regularizer
  seeing at most ``reg_nodes`` random nodes per step (bounds the O(n²) ones on PubMed);
- posterior: the second layer outputs the regularizer's head h (``kl_gauss``: VGAE, ``vmf``:
  S-VGAE); z = sample(h) in training, mode(h) in evaluation; loss = recon + (λ/N) · kl(h).
  With λ = 1 (the default here) this is VGAE's weighting of the mean KL per node by 1/N;
- weights: loss = recon + regularizer.weight_penalty(the two GCN layers).

recon (``recon``): ``sampled``, the binary cross-entropy of the training edges plus that of as many
uniformly drawn non-edges of the training graph, redrawn every epoch (torch_geometric's GAE;
held-out edges may be drawn, as they count as non-edges in GAE's full-adjacency loss); or ``full``,
tkipf/gae's loss on all N² entries of the training adjacency with self-loops, A + I, positives
weighted by pos_weight = (N² − ΣA)/ΣA and the mean scaled by N²/(2(N² − ΣA)) — about half the
sampled loss, so λ = 2 there is gae's KL weight; summed over blocks of rows, recomputed in
backward (``full_adjacency_loss``), it never holds an N × N matrix: a few MiB beside the edge list,
PubMed included, for N² terms of time per epoch. Adam lr 0.01, 200 full-batch epochs; the model of
the epoch with the best validation AUC is evaluated. A posterior whose sampler has an estimator
correction (``vmf`` with ``g_cor``) gets each node's share of recon (the terms of the pairs it is
in) as its objective.

The split follows GAE's ``mask_test_edges``: of the undirected edges, ⌊5%⌋ validation, ⌊10%⌋
test, the rest train (and form the encoder's graph); validation and test get as many non-edges of
the full graph. It depends only on the dataset and the seed (``split_sha`` records it), so every
regularizer is compared on the same splits; ``split_seed`` ≥ 0 fixes one split for every seed, the
protocol of Kipf & Welling's Table 1 (random initialisations on a fixed split). Metrics: AUC and
AP (scikit-learn) on test and validation pairs, geometry of the node codes (``latent.``) and of
the layers' weights.
"""
import itertools
import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ..geometry import describe, describe_layers
from ..params import Param
from ..registry import register_task
from ..regularizers._base import CODES, POSTERIOR, WEIGHTS
from ..regularizers._pairwise import CHUNK_PAIRS
from ..training import Training
from ..weights import weight_layers
from ._autoencoder import Autoencoder
from ..datasets.planetoid import load_planetoid
from ._planetoid import PlanetoidTask
from ._base import FLOAT32, TRAINED, MemoryNeed, weight_penalty_bytes
from .gcn_node import ACTIVATION_COPIES, SIZES

FULL_BLOCK_PAIRS = 2 * CHUNK_PAIRS
"""Logits per block of rows of the full loss: 2 MiB of float32, PubMed's 19,717 nodes in blocks
of 26 rows (1 and 2 MiB took the same time on one CPU thread, 4 MiB longer)."""
FULL_COPIES = 3  # block-sized float32 tensors of the full loss at once (logits, log σ(|l|), relu)


def pair_codes(pairs: torch.Tensor, n: int) -> torch.Tensor:
    """Node pairs ``[2, k]`` with i < j as integers i·n + j."""
    return pairs[0] * n + pairs[1]


def sample_non_edges(known: torch.Tensor, n: int, k: int, generator: torch.Generator):
    """``k`` distinct node pairs i < j, uniformly among those whose code is not in ``known``.

    The distribution of ``torch_geometric.utils.negative_sampling`` (undirected), which is not
    used here: it draws from the process's global random state, not the run's generator, so the
    negatives would depend on whatever drew before them, and it returns about k pairs, not k. With
    it only the random stream would change (the tests compare the two samplers), and with the
    stream every committed number of the link tasks."""
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
    """The decoder's logits s·z_i·z_j (edge probability σ(s·z_i·z_j)) of the given pairs only."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def forward(self, z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return self.scale * (z[pairs[0]] * z[pairs[1]]).sum(1)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + eˣ) = max(x, 0) − log σ(|x|), stable and vectorised on a CPU (log1p is not: 10×)."""
    return x.clamp_min(0).sub_(x.abs().sigmoid_().log_())


class _SoftplusRowSums(torch.autograd.Function):
    """Σ_ij softplus(l_ij), l = s·z zᵀ, and (not differentiable) each row's Σ_j softplus(l_ij), over
    blocks of ``chunk`` rows. Only z is saved; backward recomputes each block of σ(l), symmetric:
    ∂/∂z Σ_ij softplus(l_ij) = s·(σ(l) + σ(l)ᵀ) z = 2s·σ(l) z. Results go into tensors allocated
    before the loop: a small tensor made per block and kept would split the heap's freed blocks, and
    the resident memory grew by one block per block (1.4 GiB on PubMed)."""

    @staticmethod
    def forward(ctx, z, scale, chunk):
        ctx.save_for_backward(z)
        ctx.scale, ctx.chunk = scale, chunk
        rows = z.new_empty(len(z))
        for i in range(0, len(z), chunk):
            logits = torch.mm(z[i:i + chunk], z.T).mul_(scale)
            torch.sum(_softplus(logits), 1, out=rows[i:i + chunk])
        ctx.mark_non_differentiable(rows)
        return rows.sum(), rows

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _):
        z, = ctx.saved_tensors
        grad_z = torch.empty_like(z)
        for i in range(0, len(z), ctx.chunk):
            sigmoid = torch.mm(z[i:i + ctx.chunk], z.T).mul_(ctx.scale).sigmoid_()
            torch.mm(sigmoid, z, out=grad_z[i:i + ctx.chunk])
        return 2 * ctx.scale * grad * grad_z, None, None


def full_adjacency_loss(z: torch.Tensor, pairs: torch.Tensor, scale: float,
                        chunk: int | None = None):
    """tkipf/gae's loss norm/N² · Σ_ij ℓ_ij over the N² entries of A + I (A's distinct ``pairs``
    i < j, so ΣA = N + 2k), ℓ_ij = p·softplus(−l_ij) on its ones and softplus(l_ij) elsewhere,
    l = s·z zᵀ, p = (N² − ΣA)/ΣA, norm = N²/(2(N² − ΣA)); and each node's share, norm/N² times
    its row and column, 2 Σ_j ℓ_ij − ℓ_ii. Summed as Σ_ij softplus(l_ij) over blocks of ``chunk``
    rows (default ``FULL_BLOCK_PAIRS // N``; O(chunk·N) memory) plus, on the ones (the diagonal,
    and each pair twice), δ = p·softplus(−l) − softplus(l)."""
    n2, ones = len(z) ** 2, len(z) + 2 * pairs.size(1)
    pos_weight, norm = (n2 - ones) / ones, n2 / (2 * (n2 - ones))
    dense, rows = _SoftplusRowSums.apply(z, scale, chunk or max(1, FULL_BLOCK_PAIRS // len(z)))
    self_logits, (i, j) = scale * z.pow(2).sum(1), pairs
    self_delta, edge_delta = (F.logsigmoid(-logits) - pos_weight * F.logsigmoid(logits)
                              for logits in (self_logits, scale * (z[i] * z[j]).sum(1)))
    with torch.no_grad():  # Σ_j ℓ_ij, then minus ℓ_ii = −p·log σ(l_ii)
        rows = (rows + self_delta).index_add(0, i, edge_delta).index_add(0, j, edge_delta)
        shares = 2 * rows + pos_weight * F.logsigmoid(self_logits)
    total = dense + self_delta.sum() + 2 * edge_delta.sum()
    return norm / n2 * total, norm / n2 * shares


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
    metrics = ("test_auc", "test_ap", "val_auc", "val_ap")
    term_defaults = {"lam": 1.0}  # the term is divided by N: λ = 1 is VGAE's KL weighting

    d = Param(16, "latent dimension", ge=2)
    hidden = Param(32, "hidden units of the GCN encoder", ge=1)
    reg_nodes = Param(1024, "random nodes per step seen by a latent-code regularizer",
                      ge=2)
    epochs = Param(200, "full-batch training epochs", ge=1)
    lr = Param(0.01, "Adam learning rate", gt=0)
    logit_scale = Param(1.0, "scale s of the decoder's logits s·z_i·z_j (1: both papers' decoder)",
                        gt=0)
    dropout = Param(0.0, "dropout rate of the encoder's input and hidden layer (tkipf/gae: 0)",
                    ge=0, lt=1)
    split_seed = Param(-1, "seed of the edge split: -1, the run's seed (a new split per seed); "
                       "≥ 0, this one split for every seed", ge=-1)
    recon = Param("sampled", "reconstruction loss: sampled (training edges and as many random "
                  "non-edges, torch_geometric) or full (all N² pairs of A + I, weighted; tkipf/gae)",
                  choices=("sampled", "full"))

    def setup(self, regularizer, target, ctx):
        from ..models.gcn import GCN

        torch.manual_seed(ctx.seed)
        data = load_planetoid(self.dataset, normalize=False)
        self.n = n = data.num_nodes
        self.split = split = split_edges(data.edge_index, n,
                                         ctx.seed if self.split_seed < 0 else self.split_seed)
        self.known = pair_codes(split.train, n)
        self.parts = {name: pairs.to(ctx.device) for name, pairs in vars(split).items()}
        if self.recon == "full":  # A's distinct pairs i < j (training graph)
            codes = self.known.unique()
            self.adjacency = torch.stack([codes // n, codes % n]).to(ctx.device)
        self.x = data.x.to(ctx.device)
        self.target = target
        head = regularizer.head_size(self.d) if target == POSTERIOR else self.d
        encoder = GCN(torch.cat([split.train, split.train.flip(0)], 1), data.num_features,
                      self.hidden, head, self.dropout)
        decoder = InnerProduct(self.logit_scale)
        model = Autoencoder(encoder, decoder, regularizer, target).to(ctx.device)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        return Training(model, torch.optim.Adam(model.parameters(), lr=self.lr),
                        itertools.repeat(None), self.epochs, select="val_auc")

    def memory_needs(self, regularizer, reg_params):
        """The first layer (features × hidden) with Adam's state, the nodes' activations, the weight
        regularizer's matrices and, for the full loss, its blocks of rows."""
        nodes, features, _ = SIZES[self.dataset]
        target = self.target_for(regularizer, reg_params.get("target", "auto"))
        head = 2 * self.d + 1 if target == POSTERIOR else self.d  # at least the heads of kl_gauss, vmf
        term = (weight_penalty_bytes(regularizer, reg_params, self.hidden, features)
                + weight_penalty_bytes(regularizer, reg_params, head, self.hidden, hidden=False)
                if target == WEIGHTS else 0)
        return [MemoryNeed("the first layer and its optimizer state",
                           TRAINED * FLOAT32 * features * self.hidden, "hidden"),
                MemoryNeed("the nodes' activations",
                           ACTIVATION_COPIES * FLOAT32 * nodes * (self.hidden + head), "hidden"),
                MemoryNeed("the regularizer's pairwise matrices", term, "hidden"),
                MemoryNeed("the blocks of rows of the full loss",
                           FULL_COPIES * FLOAT32 * max(FULL_BLOCK_PAIRS, nodes)
                           if self.recon == "full" else 0,
                           "recon", "use recon=sampled")]

    def term_scale(self, target):
        return 1 / self.n if target in (CODES, POSTERIOR) else 1.0

    def loss(self, model, batch):
        """The reconstruction loss (``recon``); codes of random nodes for a code regularizer."""
        z, h = model.encode(self.x, sample=True)
        loss, per_node = (self.full_loss(model, z) if self.recon == "full"
                          else self.sampled_loss(model, z))
        if self.target == CODES:
            nodes = torch.randperm(self.n, generator=self.generator)[:self.reg_nodes]
            return loss, {CODES: z[nodes.to(z.device)]}
        if self.target == POSTERIOR and model.regularizer.corrects:
            loss = loss + model.regularizer.correction(per_node())
        return loss, {POSTERIOR: h}

    def sampled_loss(self, model, z):
        """Cross-entropy of the training edges and as many fresh non-edges; each node's share."""
        negatives = sample_non_edges(self.known, self.n, self.split.train.size(1), self.generator)
        parts = []
        for pairs, label in ((self.parts["train"], 1.0), (negatives.to(z.device), 0.0)):
            logits = model.decoder(z, pairs)
            parts.append((pairs, F.binary_cross_entropy_with_logits(
                logits, torch.full_like(logits, label), reduction="none")))

        def per_node():
            shares = z.new_zeros(self.n)
            for pairs, terms in parts:
                terms = terms.detach() / len(terms)
                shares = shares.index_add(0, pairs[0], terms).index_add(0, pairs[1], terms)
            return shares
        return parts[0][1].mean() + parts[1][1].mean(), per_node

    def full_loss(self, model, z):
        """tkipf/gae's weighted cross-entropy over all N² entries of A + I; each node's share."""
        loss, shares = full_adjacency_loss(z, self.adjacency, model.decoder.scale)
        return loss, lambda: shares

    def validate(self, model):
        from sklearn.metrics import roc_auc_score
        return {"val_auc": float(roc_auc_score(*self.scores(model, "val")))}

    def scores(self, model, part: str):
        return link_scores(model, self.x, self.parts[part], self.parts[f"{part}_neg"])

    def evaluate(self, model, summary, ctx):
        from sklearn.metrics import average_precision_score, roc_auc_score
        metrics = {}
        for part in ("test", "val"):
            labels, scores = self.scores(model, part)
            metrics[f"{part}_auc"] = float(roc_auc_score(labels, scores))
            metrics[f"{part}_ap"] = float(average_precision_score(labels, scores))
        with torch.no_grad():
            z = model.encode(self.x, sample=False)[0]
        return {**metrics, "split_sha": self.split.sha(),
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
