"""Graph tasks on the real Planetoid files (under ``$REGBENCH_DATA``; marked ``data``, skipped
without them): the GCN and GAE recipes reproduce, every regularizer sees the same edge split, and
bad input fails clearly before training."""
import hashlib
import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from regbench import create_regularizer, create_task
from regbench.errors import RegbenchError
from regbench.runner import execute, prepare
from regbench.tasks._base import RunContext
from regbench.tasks.graph_link import InnerProduct, full_adjacency_loss, sample_non_edges

DATA = Path(os.environ.get("REGBENCH_DATA")
            or Path(__file__).resolve().parents[2] / "shared" / "data")
RAW = DATA / "planetoid"


def needs_cora(test):
    """The test reads the real Cora files: marked ``data``, skipped when they are absent."""
    skip = pytest.mark.skipif(not (RAW / "Cora" / "raw" / "ind.cora.graph").exists(),
                              reason=f"Cora raw files not in {RAW / 'Cora' / 'raw'}")
    return pytest.mark.data(skip(test))


@pytest.fixture(scope="module", autouse=True)
def planetoid_env(tmp_path_factory):
    """The real data and one processed cache for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REGBENCH_DATA", str(DATA))
        patch.setenv("REGBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def run(task: str, reg: str, seed: int = 0, **params) -> dict:
    ctx = RunContext(seed=seed, quiet=True)
    return create_task(task, **params).run(create_regularizer(reg), ctx)


@pytest.fixture
def synthetic_cora(tmp_path, monkeypatch):
    """A random graph written as Cora's raw files (``_contract.write_planetoid``), for the tests
    that need no real data; its raw folder."""
    from _contract import write_planetoid
    raw = write_planetoid(tmp_path / "data", "Cora")
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    return raw


@needs_cora
def test_gcn_reaches_kipf_accuracy_on_cora():
    metrics = run("cora_node", "none")
    assert metrics["test_acc"] >= 0.79
    assert "target" not in metrics  # none acts on nothing
    assert {"val_acc", "weights.energy_s0", "latent.eccentricity"} <= set(metrics)


@needs_cora
def test_gae_reaches_auc_on_cora():
    """Mean over three edge splits: one split's AUC varies by about ±0.015."""
    aucs = [run("cora_link", "none", seed)["test_auc"] for seed in range(3)]
    assert sum(aucs) / 3 >= 0.89


def test_same_seed_gives_the_same_split_for_every_regularizer(synthetic_cora):
    a = run("cora_link", "none", seed=3, epochs=2)
    b = run("cora_link", "kl_gauss", seed=3, epochs=2)
    c = run("cora_link", "none", seed=4, epochs=2)
    assert a["split_sha"] == b["split_sha"] != c["split_sha"]
    fixed = [run("cora_link", "none", seed=seed, epochs=2, split_seed=3) for seed in (0, 4)]
    assert fixed[0]["split_sha"] == fixed[1]["split_sha"] == a["split_sha"]
    assert fixed[0]["test_auc"] != fixed[1]["test_auc"]  # another initialisation


@needs_cora
def test_mhe_on_gcn_weights_trains_and_the_record_has_the_raw_files_checksums():
    record = execute(prepare("cora_node", "mhe", {"epochs": 5}))
    assert record["info"]["target"] == "weights" and record["metrics"]["test_acc"] > 0.2  # chance: 1/7
    raw = RAW / "Cora" / "raw" / "ind.cora.graph"
    assert record["data"]["planetoid/Cora/raw/ind.cora.graph"] == \
        f"md5:{hashlib.md5(raw.read_bytes()).hexdigest()}"


@needs_cora
@pytest.mark.parametrize("reg", ["kl_gauss", "vmf"])
def test_posterior_heads_train_on_cora_links(reg):
    metrics = run("cora_link", reg, epochs=5)
    assert metrics["target"] == "posterior" and metrics["test_auc"] > 0.6  # chance: 0.5


@needs_cora
def test_svgae_with_the_full_adjacency_loss_and_g_cor_trains_on_cora_links():
    metrics = run("cora_link", "vmf", epochs=3, recon="full")
    assert metrics["test_auc"] > 0.65  # chance: 0.5
    ctx = RunContext(seed=0, quiet=True)
    corrected = create_task("cora_link", epochs=3).run(create_regularizer("vmf", g_cor=True), ctx)
    assert corrected["test_auc"] > 0.65


def test_full_adjacency_loss_matches_gae_by_loops():
    """tkipf/gae's loss: norm · mean over all N² entries of A + I of the weighted cross-entropy of
    the logits s·z_i·z_j, pos_weight = (N² − ΣA)/ΣA, norm = N²/(2(N² − ΣA)); a node's share is
    every entry in its row or column (float64 loops)."""
    n, scale = 5, 2.5
    task = create_task("cora_link", recon="full")
    task.n = n
    task.adjacency = torch.tensor([[0, 1, 3], [1, 2, 4]])
    a = dense_adjacency(task.adjacency, n).tolist()
    z = torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss, shares = task.full_loss(SimpleNamespace(decoder=InnerProduct(scale)), z)
    edges = sum(map(sum, a))
    pos_weight, norm = (n * n - edges) / edges, n * n / (2 * (n * n - edges))
    term = [[norm / n ** 2 * -(pos_weight * a[i][j] * math.log(sigmoid(scale * z[i] @ z[j]))
                               + (1 - a[i][j]) * math.log(1 - sigmoid(scale * z[i] @ z[j])))
             for j in range(n)] for i in range(n)]
    assert loss.item() == pytest.approx(sum(map(sum, term)), rel=1e-12)
    expected = [sum(term[i][j] for i in range(n) for j in range(n) if node in (i, j))
                for node in range(n)]
    assert shares().tolist() == pytest.approx(expected, rel=1e-12)


def sigmoid(x: torch.Tensor) -> float:
    return 1 / (1 + math.exp(-float(x)))


def dense_adjacency(pairs: torch.Tensor, n: int) -> torch.Tensor:
    """A + I (float64) of undirected ``pairs`` ``[2, k]``."""
    adjacency = torch.eye(n, dtype=torch.float64)
    adjacency[pairs[0], pairs[1]] = adjacency[pairs[1], pairs[0]] = 1
    return adjacency


def dense_full_loss(z: torch.Tensor, pairs: torch.Tensor, scale: float):
    """The full loss on N × N matrices, as tkipf/gae writes it: (loss, each node's share)."""
    adjacency = dense_adjacency(pairs, len(z)).to(z.dtype)
    n2, ones = len(z) ** 2, adjacency.sum()
    terms = F.binary_cross_entropy_with_logits(scale * z @ z.T, adjacency, reduction="none",
                                               pos_weight=(n2 - ones) / ones)
    norm = n2 / (2 * (n2 - ones))
    return norm * terms.mean(), norm / n2 * (terms.sum(0) + terms.sum(1) - terms.diagonal())


def random_graph(n: int, density: float, generator: torch.Generator) -> torch.Tensor:
    """Distinct undirected pairs i < j, each of the n(n − 1)/2 kept with probability ``density``."""
    i, j = torch.triu_indices(n, n, 1)
    keep = torch.rand(len(i), generator=generator) < density
    return torch.stack([i[keep], j[keep]])


@pytest.mark.parametrize("n, chunk", [(2, 1), (17, 1), (17, 3), (17, 17), (17, 40), (64, 5),
                                      (200, 7), (200, None)])
@pytest.mark.parametrize("scale", [0.5, 1.0, 30.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_blockwise_full_loss_matches_the_dense_loss(n, chunk, scale, seed):
    """Value, gradient in z and per-node shares of the blockwise loss against the N × N one
    (float64), for blocks of one row, blocks that do not divide N, and logits far past ±20."""
    generator = torch.Generator().manual_seed(seed)
    pairs = random_graph(n, 0.1 if n > 2 else 0.0, generator)
    z = torch.randn(n, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    loss, shares = full_adjacency_loss(z, pairs, scale, chunk)
    grad, = torch.autograd.grad(loss, z)
    expected, expected_shares = dense_full_loss(z, pairs, scale)
    expected_grad, = torch.autograd.grad(expected, z)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(shares, expected_shares.detach(), rtol=1e-10, atol=1e-14)
    assert not shares.requires_grad


def test_blockwise_full_loss_in_float32_is_within_round_off():
    """The float32 blockwise loss (log σ(|l|) for softplus) against the float64 N × N one."""
    generator = torch.Generator().manual_seed(0)
    pairs = random_graph(500, 0.01, generator)
    z = torch.randn(500, 16, generator=generator, requires_grad=True)
    loss, shares = full_adjacency_loss(z, pairs, 0.5, 37)
    expected, expected_shares = dense_full_loss(z.double(), pairs, 0.5)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    torch.testing.assert_close(torch.autograd.grad(loss, z)[0].double(),
                               torch.autograd.grad(expected, z)[0].double(), rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(shares.double(), expected_shares.detach(), rtol=1e-5, atol=0)


def test_full_loss_saves_no_tensor_larger_than_one_block():
    """Forward and backward with blocks of 16 rows of 512: nothing of N × N is kept for backward."""
    n, chunk = 512, 16
    generator = torch.Generator().manual_seed(0)
    pairs = random_graph(n, 0.004, generator)
    z = torch.randn(n, 8, generator=generator, requires_grad=True)
    largest = 0

    def pack(tensor):
        nonlocal largest
        largest = max(largest, tensor.numel())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss, shares = full_adjacency_loss(z, pairs, 1.0, chunk)
        loss.backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(shares).all()
    assert 0 < largest <= chunk * n


def test_missing_raw_file_is_named(synthetic_cora):
    (synthetic_cora / "ind.cora.tx").unlink()
    with pytest.raises(RegbenchError, match=r"ind\.cora\.tx is missing; put it at .*Cora/raw"):
        run("cora_node", "none", epochs=1)


def test_encoder_dropout_acts_in_training_only(synthetic_cora):
    task = create_task("cora_link", dropout=0.5)
    model = task.setup(create_regularizer("none"), "codes", RunContext(seed=0, quiet=True)).model
    model.train()
    codes = [model.encode(task.x, sample=True)[0] for _ in range(2)]
    assert not torch.equal(*codes)
    first, second = task.scores(model, "test")[1], task.scores(model, "test")[1]
    assert not model.training and (first == second).all()


@pytest.mark.data
@pytest.mark.skipif(not (RAW / "PubMed" / "raw" / "ind.pubmed.allx").exists(),
                    reason=f"ind.pubmed.allx is not in {RAW / 'PubMed' / 'raw'} "
                           "($REGBENCH_DATA/planetoid/PubMed/raw)")
def test_pubmed_loads_offline_with_its_public_split_and_its_tasks_run():
    from regbench.datasets.planetoid import load_planetoid
    data = load_planetoid("PubMed", normalize=True)
    assert (data.num_nodes, data.edge_index.size(1), data.num_features) == (19717, 88648, 500)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [60, 500, 1000]
    assert run("pubmed_node", "none", epochs=2)["test_acc"] > 0.45  # the largest class: 0.40
    assert run("pubmed_link", "eccentric", epochs=2)["test_auc"] > 0.75  # chance: 0.5
    assert run("pubmed_link", "vmf", epochs=1, recon="full")["test_auc"] > 0.6


def test_bad_input_fails_before_training():
    with pytest.raises(RegbenchError, match="unknown task 'cora_graph'"):
        prepare("cora_graph", "none")
    with pytest.raises(RegbenchError, match="d ≥ 2"):
        prepare("cora_link", "none", {"d": 1})
    with pytest.raises(RegbenchError, match="exposes only weights, codes"):
        prepare("cora_node", "vmf")
    with pytest.raises(RegbenchError, match="dropout"):
        prepare("cora_link", "vmf", {"dropout": 1.0})
    with pytest.raises(RegbenchError, match="logit_scale"):
        prepare("cora_link", "vmf", {"logit_scale": 0})


def test_a_code_regularizer_acts_on_hidden_nodes_of_the_node_classifier(synthetic_cora):
    task = create_task("cora_node", reg_nodes=50, epochs=1)
    training = task.setup(create_regularizer("decov"), "codes", RunContext(seed=0, quiet=True))
    loss, outputs = task.loss(training.model, task.data)
    assert outputs["codes"].shape == (50, task.hidden) and (outputs["codes"] >= 0).all()  # after ReLU
    plain = create_task("cora_node", epochs=1)
    weights = plain.setup(create_regularizer("orthogonal"), "weights", RunContext(seed=0, quiet=True))
    assert plain.loss(weights.model, plain.data)[1] == {}  # a weight regularizer finds the layers
    strong = execute(prepare("cora_node", "uniformity", {"lam": 10.0, "epochs": 20}, 0))["metrics"]
    none = execute(prepare("cora_node", "none", {"epochs": 20}, 0))["metrics"]
    assert strong["latent.mean_angle_deg"] > none["latent.mean_angle_deg"] + 5  # spread apart
    with pytest.raises(RegbenchError, match="exposes only weights, codes"):
        prepare("cora_node", "kl_gauss", {}, 0, check_data=False)


def test_non_edges_are_drawn_as_torch_geometric_draws_them():
    """Both samplers draw uniformly among the non-edges i < j (chi-square on every pair's count),
    ours exactly k distinct ones per draw, from the run's generator alone."""
    from scipy.stats import chisquare
    from torch_geometric.utils import negative_sampling
    n, k, draws = 12, 20, 1500
    generator = torch.Generator().manual_seed(0)
    i, j = torch.triu_indices(n, n, 1)[:, torch.randperm(n * (n - 1) // 2, generator=generator)[:25]]
    edges = torch.stack([i, j])
    codes = edges[0] * n + edges[1]
    non_edges = n * (n - 1) // 2 - 25
    ours, theirs = torch.zeros(n * n), torch.zeros(n * n)
    torch.manual_seed(0)
    for _ in range(draws):
        pairs = sample_non_edges(codes, n, k, generator)
        assert pairs.size(1) == k and bool((pairs[0] < pairs[1]).all())
        drawn = pairs[0] * n + pairs[1]
        assert len(drawn.unique()) == k and not torch.isin(drawn, codes).any()
        ours += torch.bincount(drawn, minlength=n * n)
        other = negative_sampling(torch.cat([edges, edges.flip(0)], 1), n, 2 * k, force_undirected=True)
        other = other[:, other[0] < other[1]]
        theirs += torch.bincount(other[0] * n + other[1], minlength=n * n)
    for counts in (ours, theirs):
        assert int((counts > 0).sum()) == non_edges  # every non-edge, and nothing else
        assert chisquare(counts[counts > 0].numpy()).pvalue > 1e-3
    again = sample_non_edges(codes, n, k, torch.Generator().manual_seed(5))
    torch.manual_seed(123)  # the global state plays no part
    assert torch.equal(again, sample_non_edges(codes, n, k, torch.Generator().manual_seed(5)))
