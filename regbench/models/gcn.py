"""The two-layer graph convolutional network of Thomas N. Kipf and Max Welling, "Semi-Supervised
Classification with Graph Convolutional Networks", ICLR 2017, arXiv:1609.02907; sparse.

dropout → GCNConv → ReLU → dropout → GCNConv on a fixed graph, with torch_geometric's ``GCNConv``
(symmetric normalisation with self-loops, cached). The input features are a sparse COO tensor and
the input dropout acts on its stored values, which is dense dropout (a dropped zero stays zero) at a
fraction of the cost, as Kipf's ``sparse_dropout``. Used for node classification (16 hidden,
classes out, dropout 0.5) and as the (V)GAE encoder (32 hidden, the latent head out, no dropout;
Kipf & Welling, "Variational Graph Auto-Encoders", NIPS Bayesian Deep Learning Workshop 2016,
arXiv:1611.07308).
"""
import torch
from torch import nn


class GCN(nn.Module):
    def __init__(self, edge_index: torch.Tensor, in_features: int, hidden: int, out_features: int,
                 dropout: float = 0.0):
        from torch_geometric.nn import GCNConv
        super().__init__()
        self.register_buffer("edge_index", edge_index, persistent=False)
        self.conv1 = GCNConv(in_features, hidden, cached=True)
        self.conv2 = GCNConv(hidden, out_features, cached=True)
        self.dropout = nn.Dropout(dropout)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden node representations (after the ReLU) of sparse COO features ``x``."""
        x = torch.sparse_coo_tensor(x.indices(), self.dropout(x.values()), x.shape,
                                    is_coalesced=True, check_invariants=False)
        return self.conv1(x, self.edge_index).relu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.dropout(self.embed(x)), self.edge_index)
