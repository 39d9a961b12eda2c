"""weight_layers (model → rows) and the shared hyperspherical helpers of regularizers/energy.py."""
import math

import pytest
import torch
from torch import nn

from regbench.regularizers._energy import (KERNELS, cosines, half_space, hyperspherical_energy,
                                          smaller_gram, unit_rows)
from regbench.weights import weight_layers


def test_layers_in_module_order_last_is_final_rows_flattened():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Embedding(7, 3), nn.Linear(4, 5), nn.Sequential(nn.Linear(5, 3)))
    layers = weight_layers(model)
    assert [(layer.name, tuple(layer.rows.shape), layer.final) for layer in layers] == [
        ("0", (4, 18), False), ("5", (5, 4), False), ("6.0", (3, 5), True)]
    conv = model[0].weight
    for i in range(4):
        assert torch.equal(layers[0].rows[i], conv[i].flatten())
    assert torch.equal(layers[1].rows, model[5].weight)


def test_rows_carry_gradients_to_the_weights():
    model = nn.Sequential(nn.Conv1d(3, 2, 2), nn.Linear(4, 2))
    sum(layer.rows.pow(2).sum() for layer in weight_layers(model)).backward()
    assert torch.allclose(model[0].weight.grad, 2 * model[0].weight)
    assert torch.allclose(model[1].weight.grad, 2 * model[1].weight)


@pytest.mark.parametrize("groups", [1, 2])
def test_transposed_conv_gives_one_row_per_output_channel(groups):
    conv = nn.ConvTranspose2d(4, 6, 3, groups=groups)
    (layer,) = weight_layers(conv)
    assert layer.rows.shape == (6, 4 // groups * 9) and layer.final
    in_g, out_g = 4 // groups, 6 // groups
    for out in range(6):
        g, o = divmod(out, out_g)
        expected = torch.stack([conv.weight[g * in_g + c, o] for c in range(in_g)]).flatten()
        assert torch.equal(layer.rows[out], expected)


def test_torch_geometric_linear_inside_gcnconv_is_found():
    tg = pytest.importorskip("torch_geometric.nn")
    model = nn.ModuleList([tg.GCNConv(6, 4), tg.GCNConv(4, 3)])
    layers = weight_layers(model)
    assert [(layer.name, tuple(layer.rows.shape), layer.final) for layer in layers] == [
        ("0.lin", (4, 6), False), ("1.lin", (3, 4), True)]


def test_uninitialised_lazy_layers_and_layerless_models():
    assert weight_layers(nn.LazyLinear(3)) == []
    assert weight_layers(nn.Sequential(nn.ReLU(), nn.LayerNorm(3))) == []


def test_unit_rows_cosines_and_half_space():
    w = torch.tensor([[3.0, 4.0], [0.0, 0.0], [3.0, 4.0]])
    u = unit_rows(w)
    assert torch.allclose(u[0], w[0] / math.sqrt(25 + 1e-4)) and torch.equal(u[1], torch.zeros(2))
    c = cosines(u)
    assert c.max() <= 1 - 1e-6 and c[0, 2] == c.max()
    assert torch.equal(half_space(w), torch.cat([w, -w]))


def test_smaller_gram():
    assert smaller_gram(torch.randn(3, 5)).shape == (3, 3)
    assert smaller_gram(torch.randn(5, 3)).shape == (3, 3)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_energy_against_loops(kernel):
    w = torch.randn(6, 4, dtype=torch.float64)
    total, pairs = 0.0, 0
    for i in range(6):
        for j in range(i + 1, 6):
            ni, nj = (math.sqrt(float(w[k] @ w[k]) + 1e-4) for k in (i, j))
            c = float(w[i] @ w[j]) / (ni * nj)
            rho = math.acos(c) / math.pi + 1e-4
            total += {"s0": -math.log(2 - 2 * c), "s1": (2 - 2 * c) ** -0.5, "s2": 1 / (2 - 2 * c),
                      "a0": -math.log(rho), "a1": 1 / rho, "a2": rho ** -2}[kernel]
            pairs += 1
    assert float(hyperspherical_energy(unit_rows(w), kernel)) == pytest.approx(total / pairs, rel=1e-10)
    assert float(hyperspherical_energy(unit_rows(w[:1]), kernel)) == 0.0
