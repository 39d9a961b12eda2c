"""``convention="authors"`` of mhs, mhp, mhc and mgd against a float64 port of the authors' code.

The regularizers are those of Liu et al., "Learning with Hyperspherical Uniformity", AISTATS 2021,
arXiv:2103.01649; the authors' code is wy1iu/Sphere-Uniformity (TensorFlow), folders ``mhs``,
``mhp``, ``mhc``, ``mgd``, files ``architecture.py`` and ``train.py``. The port below follows its
graph op by op, in its layout: a conv filter is ``[k, k, c_in, c_out]`` reshaped to
``[k·k·c_in, c_out]``, one filter per column (regbench's rows are ``[c_out, c_in·k·k]``), and the
poles live in that layout too. Gradients are those of the ported graph (autograd, as TensorFlow's),
the pole optimiser is TensorFlow's ``MomentumOptimizer`` rule written out. Layers: CNN-9's first
two convolutions (64×3×3×3, 64×64×3×3) and its final layer (100×256, a 1×1 convolution), at the
authors' initialisation, with some filters of the first layer shrunk to |w|² ≈ 2e-4, where the
double normalisation matters.
"""
import math

import pytest
import torch
from torch import nn

from regbench.errors import RegbenchError
from regbench.record import changed_params
from regbench.registry import REGULARIZERS, create_regularizer
from regbench.regularizers._base import WeightLayer
from regbench.regularizers._energy import unit_rows
from regbench.weights import weight_layers


NAMES = ["mhs", "mhp", "mhc", "mgd"]
WD = 5e-4  # self.wd, e.g. mhp/architecture.py l. 132
GAMMA = 10.0  # self.gamma, mhc/architecture.py l. 138
# λ of the hidden ("thomson_loss") and final ("thomson_final") layers, hard-coded in architecture.py:
# mhs l. 96 / l. 110, mhp l. 89 / l. 102, mhc l. 91 / l. 107, mgd l. 88 / l. 102
LAMBDAS = {"mhs": (0.1, 1.0), "mhp": (1.0, 10.0), "mhc": (0.01, 0.1), "mgd": (0.01, 0.1)}


# ---- the port (float64, TensorFlow layout: filters are columns) ------------------------------

def norm(filt):
    """``norm()``, mhs/architecture.py l. 31–33 (the same in mhp/mhc l. 30–32, mgd l. 36–38)."""
    return filt / torch.sqrt((filt * filt).sum(0, keepdim=True) + 1e-4)


def cal(filt):
    """``cal()``, mhs/architecture.py l. 24–29 (mgd l. 30–34): cosines, divided by the norms again."""
    filt_norm = torch.sqrt((filt * filt).sum(0, keepdim=True) + 1e-4)
    return (filt.T @ filt) / (filt_norm.T @ filt_norm)


def cal_pole(filt, v):
    """``cal(filt, v)``, mhp/architecture.py l. 34–39 (mhc the same): cosines with the pole."""
    filt_norm = torch.sqrt((filt * filt).sum(0, keepdim=True) + 1e-4)
    v_norm = torch.sqrt((v * v).sum() + 1e-4)
    return (v @ filt) / (v_norm * filt_norm)


def mirror_exact(cosines, first):
    """``cal()`` of ``[f, −f]`` is ``[[C, −C], [−C, C]]`` with C symmetric; a matrix product gives
    its mirror entries with last bits that differ between CPU kernels, where TensorFlow on the
    authors' machine (whose ``tf.equal`` counts both mirrors) is taken to give them equal: the
    port makes them so, from C's upper triangle."""
    n = len(cosines) // 2 if first else len(cosines)
    c = torch.triu(cosines[:n, :n]) + torch.triu(cosines[:n, :n], 1).T
    return torch.cat([torch.cat([c, -c], 1), torch.cat([-c, c], 1)]) if first else c


def half_space(filt):
    """``tf.concat((filt, -filt), axis=1)``, e.g. mhs/architecture.py l. 83–86."""
    return torch.cat([filt, -filt], 1)


def thomson(name, filt, first, v=None):
    """One layer's ``_add_thomson_first`` (hidden, ``first``) or ``_add_thomson_final`` term."""
    lam = LAMBDAS[name][0 if first else 1]
    if first:
        filt = half_space(filt)
    n = filt.shape[1]
    filt = norm(filt)
    if name == "mhs":  # mhs/architecture.py l. 88–96, 102–110; argmin_2d l. 35–44
        final = 2.0 - 2.0 * mirror_exact(cal(filt), first)
        final = final - torch.tril(final)  # final -= tf.matrix_band_part(final, -1, 0)
        target = final[final != 0].min()  # argmin_2d skips the zeros
        return lam * -final[final == target].sum()  # tf.boolean_mask(final, tf.equal(final, target))
    if name == "mgd":  # mgd/architecture.py l. 83–88, 97–102
        final = torch.exp(-1 * (2.0 - 2.0 * cal(filt))) + torch.diag(torch.full((n,), 1e-6, dtype=filt.dtype))
        return -lam * torch.logdet(final)
    cross_terms = 2.0 - 2.0 * cal_pole(filt, v)
    if name == "mhp":  # mhp/architecture.py l. 85–89, 98–102
        return lam * torch.pow(cross_terms, -1.0).sum() / n
    # mhc/architecture.py l. 85–91, 101–107
    return -lam * torch.log(torch.exp(-GAMMA * cross_terms).sum() / n) / GAMMA


def network_term(name, filts, poles=None):
    """The regularizer's part of the network's ``loss_op``: ``+thom_loss + thom_final``
    (mhs/mgd/mhc train.py l. 63–66 / l. 66–69), ``−thom_loss − thom_final`` for mhp (l. 66–69)."""
    total = sum(thomson(name, f, i < len(filts) - 1, None if poles is None else poles[i])
                for i, f in enumerate(filts))
    return -total if name == "mhp" else total


def pole_steps(name, filts, poles, accums, lr, iters=10):
    """``for t in range(iters): sess.run(updatev_op)``, mhp/train.py l. 124–125: ``MomentumOptimizer
    (lr_, 0.9)`` (l. 79) on ``vloss_op`` = ``thom_loss + thom_final`` (mhp; ``−thom_loss −
    thom_final`` for mhc, its train.py l. 71) plus the poles' ``l2_regularizer(5e-4)`` (l. 58–73,
    architecture.py ``get_v`` l. 15–20): accum ← 0.9·accum + g, v ← v − lr·accum."""
    sign = 1.0 if name == "mhp" else -1.0
    for _ in range(iters):
        vs = [v.detach().requires_grad_() for v in poles]
        vloss = sum(sign * thomson(name, f.detach(), i < len(filts) - 1, vs[i]) for i, f in enumerate(filts))
        vloss = vloss + sum(WD * (v * v).sum() / 2 for v in vs)  # tf.nn.l2_loss = Σ v² / 2
        grads = torch.autograd.grad(vloss, vs)
        for k, g in enumerate(grads):
            accums[k] = 0.9 * accums[k] + g
            poles[k] = vs[k].detach() - lr * accums[k]
    return poles, accums


# ---- layouts ----------------------------------------------------------------------------------

def to_tf(weight):
    """A torch conv weight ``[c_out, c_in, k, k]`` as the authors' reshaped filter ``[k·k·c_in, c_out]``."""
    return weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[0])


def grad_from_tf(grad, weight):
    """The gradient of a ``[k·k·c_in, c_out]`` filter back in regbench's rows ``[c_out, c_in·k·k]``."""
    c_out, c_in, k, _ = weight.shape
    return grad.reshape(k, k, c_in, c_out).permute(3, 2, 0, 1).reshape(c_out, -1)


def pole_to_tf(pole, weight):
    """A pole over regbench's row coordinates ``(c_in, k, k)`` in the authors' ``(k, k, c_in)``."""
    _, c_in, k, _ = weight.shape
    return pole.reshape(c_in, k, k).permute(1, 2, 0).reshape(1, -1)


def cnn9_layers(seed=0):
    """CNN-9's first two convolutions and final layer, at the authors' initialisation
    (``stddev = sqrt(2 / (k·k·c_in))``, mhs/architecture.py l. 122), float64; filters 0–7 of the
    first layer shrunk ×0.01 (|w|² ≈ 2e-4)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.Conv2d(64, 64, 3, bias=False),
                          nn.Conv2d(256, 100, 1, bias=False)).double()
    with torch.no_grad():
        for conv in model:
            k, c_in = conv.kernel_size[0], conv.in_channels
            conv.weight.normal_(0, math.sqrt(2.0 / (k * k * c_in)))
        model[0].weight[:8] *= 0.01
    return model


def perturb(model, seed):
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        for conv in model:
            conv.weight += 0.05 * torch.randn(conv.weight.shape, generator=gen, dtype=torch.float64)


def assert_close(actual, expected):
    tol = 1e-10 * max(float(expected.abs().max()), 1e-300)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=tol)


def regbench_value_and_grads(reg, model):
    model.zero_grad()
    value = reg.weight_penalty(weight_layers(model))
    value.backward()
    return value.detach(), [conv.weight.grad.flatten(1).clone() for conv in model]


def port_value_and_grads(name, model, poles=None):
    filts = [to_tf(conv.weight.detach()).requires_grad_() for conv in model]
    value = network_term(name, filts, poles)
    grads = torch.autograd.grad(value, filts)
    return value.detach(), [grad_from_tf(g, conv.weight) for g, conv in zip(grads, model)]


# ---- the tests --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mhs", "mgd"])
def test_value_and_gradient_equal_the_authors_code(name):
    model = cnn9_layers()
    reg = create_regularizer(name, convention="authors")
    value, grads = regbench_value_and_grads(reg, model)
    expected, expected_grads = port_value_and_grads(name, model)
    assert_close(value, expected)
    for g, e in zip(grads, expected_grads):
        assert_close(g, e)
    with torch.no_grad():
        paper = create_regularizer(name).weight_penalty(weight_layers(model))
    assert abs(float(paper) - float(value)) > 1e-3 * abs(float(value))  # the conventions differ


@pytest.mark.parametrize("name", ["mhp", "mhc"])
def test_value_gradient_and_poles_over_steps_equal_the_authors_code(name):
    """Four network steps (the weights moved between them) of a 5-step schedule, whose learning
    rate drops ×0.1 at steps 2, 3 and 4 (as ``if i == 30000: lr *= 0.1`` ... at 30000, 50000,
    65000 of 75000, mhp/train.py l. 116–121); a ``no_grad`` evaluation after each step must
    neither move the poles nor count as a step."""
    model = cnn9_layers()
    reg = create_regularizer(name, convention="authors", pole_lr_steps=5)
    torch.manual_seed(7)
    initial = [torch.randn(conv.weight[0].numel()).double() for conv in model]  # get_v: N(0, 1)
    poles = [pole_to_tf(p, conv.weight) for p, conv in zip(initial, model)]
    accums = [torch.zeros_like(v) for v in poles]
    lr = 0.1  # --base_lr, mhp/train.py l. 163
    torch.manual_seed(7)
    for step in range(4):
        if step in (2, 3, 4):
            lr *= 0.1
        filts = [to_tf(conv.weight.detach()) for conv in model]
        poles, accums = pole_steps(name, filts, poles, accums, lr)  # before the network's step (l. 127)
        value, grads = regbench_value_and_grads(reg, model)
        expected, expected_grads = port_value_and_grads(name, model, poles)
        assert_close(value, expected)
        for g, e in zip(grads, expected_grads):
            assert_close(g, e)
        for (layer, pole), v, conv in zip(reg.poles.items(), poles, model):
            assert_close(pole_to_tf(pole, conv.weight), v)
        with torch.no_grad():
            reg.weight_penalty(weight_layers(model))
        assert reg.network_steps == step + 1
        perturb(model, step)


def test_mhs_authors_sum_each_minimum_and_its_mirror():
    """With the normalisation made the paper's, only the tie counting differs: on a half-space
    hidden layer with a unique minimum pair the authors' penalty and gradient are twice the
    paper's (the pair and its mirror); on the final layer they are the paper's."""
    rows = torch.randn(64, 27, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    authors = create_regularizer("mhs", convention="authors", lam_hidden=1.0)
    authors.unit = unit_rows
    paper = create_regularizer("mhs", lam_hidden=1.0)
    for final, factor in ((False, 2.0), (True, 1.0)):
        values, grads = [], []
        for reg in (authors, paper):
            w = rows.clone().requires_grad_()
            value = reg.weight_penalty([WeightLayer("l", w, final)])
            value.backward()
            values.append(value.item())
            grads.append(w.grad)
        assert values[0] == pytest.approx(factor * values[1], rel=1e-14)
        torch.testing.assert_close(grads[0], factor * grads[1], rtol=1e-12, atol=1e-15)
    u = unit_rows(unit_rows(torch.cat([rows, -rows])))
    x = 2 - 2 * (u @ u.T)
    i, j = torch.triu_indices(128, 128, offset=1)
    assert int((x[i, j] == x[i, j].min()).sum()) == 2  # exactly the minimum pair and its mirror


def test_defaults_and_validation():
    for name in NAMES:
        param = REGULARIZERS.get(name).params()["convention"]
        assert param.default == "paper" and param.choices == ("paper", "authors")
        assert create_regularizer(name).convention == "paper"
        with pytest.raises(RegbenchError):
            create_regularizer(name, convention="tf")
    for name in ("mhp", "mhc"):
        paper, authors = create_regularizer(name), create_regularizer(name, convention="authors")
        pole_params = ("inner_steps", "pole_lr", "pole_momentum", "pole_weight_decay", "pole_lr_steps")
        assert [paper.hparams[k] for k in pole_params] == [10, 0.1, 0.0, 0.0, 0]
        assert [authors.hparams[k] for k in pole_params] == [10, 0.1, 0.9, 5e-4, 75000]
        # derived defaults are not changes: only the convention identifies the run
        assert changed_params(type(authors), authors.hparams) == {"convention": "authors"}
        with pytest.raises(RegbenchError):
            create_regularizer(name, convention="authors", pole_lr_steps=-1)
        # mhp/train.py l. 116–121: lr ×0.1 at iterations 30000, 50000, 65000 (counted from 0)
        for step, lr in ((0, 0.1), (29999, 0.1), (30000, 0.01), (49999, 0.01), (50000, 1e-3),
                         (64999, 1e-3), (65000, 1e-4), (74999, 1e-4)):
            authors.network_steps = paper.network_steps = step
            assert authors.scheduled_pole_lr() == pytest.approx(lr, rel=1e-12)
            assert paper.scheduled_pole_lr() == 0.1


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    params = {"inner_steps": 0} if name in ("mhp", "mhc") else {}
    reg = create_regularizer(name, convention="authors", **params)
    gen = torch.Generator().manual_seed(2)
    weights = [torch.randn(5, 4, generator=gen, dtype=torch.float64).requires_grad_(),
               torch.randn(3, 4, generator=gen, dtype=torch.float64).requires_grad_()]

    def penalty(*ws):
        return reg.weight_penalty([WeightLayer(f"l{i}", w, i == 1) for i, w in enumerate(ws)])

    assert torch.autograd.gradcheck(penalty, weights)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mhs_authors_counts_both_mirrors_on_every_hidden_layer(dtype):
    """On a half-space hidden layer the minimum has a mirror of exactly the same value, so the
    authors' sum of tied pairs is twice the minimum, on every layer, not only where a matrix
    product's last bits happen to agree (it was half, on 14 of 40 such layers, on some CPUs); on
    the final layer it is the minimum. 200 random layers of many shapes, against the minimum found
    by a float64 loop over the pairs."""
    reg = create_regularizer("mhs", convention="authors", lam_hidden=1.0, lam_final=1.0)
    gen = torch.Generator().manual_seed(0)
    for trial in range(200):
        n, d = int(torch.randint(2, 24, (), generator=gen)), int(torch.randint(2, 40, (), generator=gen))
        rows = torch.randn(n, d, generator=gen, dtype=dtype)
        u = reg.unit(rows).double()
        half = torch.cat([u, -u])
        smallest = min(float(2 - 2 * half[i] @ half[j]) for i in range(2 * n) for j in range(i + 1, 2 * n))
        for final, count in ((False, 2), (True, 1)):
            value = float(reg.weight_penalty([WeightLayer("l", rows, final)]))
            if final:
                smallest = min(float(2 - 2 * u[i] @ u[j]) for i in range(n) for j in range(i + 1, n))
            tolerance = {"rel": 1e-5, "abs": 2e-6} if dtype == torch.float32 else {"rel": 1e-12}
            assert value == pytest.approx(-count * smallest, **tolerance), (trial, n, d, final)
