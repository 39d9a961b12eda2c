"""The weight regularizers mhe (Liu et al., "Learning towards Minimum Hyperspherical Energy", NeurIPS 2018,
arXiv:1805.09298); mhs, mhp, mhc, r_mhp, mgd and orthogonal (Liu et al., "Learning with Hyperspherical
Uniformity", AISTATS 2021, arXiv:2103.01649); srip (Bansal et al., "Can We Gain More from Orthogonality
Regularizations in Training Deep CNNs?", NeurIPS 2018, arXiv:1810.09102).

Each is checked against an independent float64 computation with explicit loops, by gradcheck, at
degenerate inputs, and for the geometric effect it claims when minimised alone.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from regbench.errors import RegbenchError
from regbench.registry import create_regularizer
from regbench.regularizers import mgd
from regbench.regularizers._base import WeightLayer
from regbench.regularizers._energy import unit_rows
from regbench.weights import weight_layers

NAMES = ["mhe", "mhs", "mhp", "mhc", "r_mhp", "mgd", "orthogonal", "srip"]
MHE_KERNELS = ["s0", "s1", "s2", "a0", "a1", "a2"]
# every configuration under test: (name, hyperparameters)
CONFIGS = [("mhe", {"kernel": k}) for k in MHE_KERNELS] + [("mhe", {"half_space": True})] + [
    (name, {}) for name in NAMES[1:]]
HALF_SPACE = {"mhe", "mhs", "mhp", "mhc", "mgd"}


def ids(configs):
    return [name + "".join(f"-{v}" for v in params.values()) for name, params in configs]


# ---- independent float64 references, explicit loops --------------------------------------

def unit(w):
    return [np.array(r, dtype=np.float64) / math.sqrt(float(np.dot(r, r)) + 1e-4) for r in w]


def cos(a, b):
    return min(max(float(np.dot(a, b)), -1 + 1e-6), 1 - 1e-6)


def mhe_kernel(c, kernel):
    rho = math.acos(c) / math.pi + 1e-4
    return {"s0": -math.log(2 - 2 * c), "s1": (2 - 2 * c) ** -0.5, "s2": 1 / (2 - 2 * c),
            "a0": -math.log(rho), "a1": 1 / rho, "a2": rho ** -2}[kernel]


def pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def ref_layer(name, params, rows, pole):
    u = unit(rows)
    n = len(u)
    if name == "mhe":
        kernel = params.get("kernel", "s0")
        return sum(mhe_kernel(cos(u[i], u[j]), kernel) for i, j in pairs(n)) / len(pairs(n))
    if name == "mhs":
        return -min(2 - 2 * cos(u[i], u[j]) for i, j in pairs(n))
    if name in ("mhp", "mhc"):
        v = pole / np.linalg.norm(pole)
        chord = [2 - 2 * cos(ui, v) for ui in u]
        if name == "mhp":
            return -sum(1 / x for x in chord) / n
        return -math.log(sum(math.exp(-10 * x) for x in chord) / n) / 10
    if name == "r_mhp":
        return float(np.linalg.norm(sum(np.array(r) for r in rows)))
    if name == "mgd":
        k = np.array([[math.exp(-(2 - 2 * float(np.dot(u[i], u[j])))) for j in range(n)] for i in range(n)])
        return -np.linalg.slogdet(k + 1e-6 * np.eye(n))[1]
    gram, size = ref_smaller_gram(rows)
    a = [[gram[i][j] - (i == j) for j in range(size)] for i in range(size)]
    if name == "orthogonal":
        return sum(a[i][j] ** 2 for i in range(size) for j in range(size))
    b = torch.rand(size, dtype=torch.float64).numpy()  # srip: same draws as the regularizer
    ab = [sum(a[i][j] * b[j] for j in range(size)) for i in range(size)]
    v = [x / math.sqrt(sum(y * y for y in ab)) for x in ab]
    return sum(sum(a[i][j] * v[j] for j in range(size)) ** 2 for i in range(size))


def ref_smaller_gram(rows):
    w = [[float(x) for x in r] for r in rows]
    n, d = len(w), len(w[0])
    if n <= d:
        return [[sum(w[i][k] * w[j][k] for k in range(d)) for j in range(n)] for i in range(n)], n
    return [[sum(w[k][i] * w[k][j] for k in range(n)) for j in range(d)] for i in range(d)], d


def ref_penalty(name, params, reg, layers):
    total = 0.0
    for layer in layers:
        rows = layer.rows.detach().numpy()
        if reg.hparams.get("half_space") and not layer.final:
            rows = np.concatenate([rows, -rows])
        pole = reg.poles[layer.name].numpy() if name in ("mhp", "mhc") else None
        lam = reg.lam_final if layer.final else reg.lam_hidden
        total += lam * ref_layer(name, params, rows, pole)
    return total


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 5),
                         nn.Linear(5, 3)).double()


def free_layers(*shapes, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [WeightLayer(f"l{i}", torch.randn(*s, generator=gen, dtype=dtype), i == len(shapes) - 1)
            for i, s in enumerate(shapes)]


# ---- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,params", CONFIGS, ids=ids(CONFIGS))
def test_value_matches_loop_reference(name, params):
    reg = create_regularizer(name, **params)
    layers = weight_layers(small_model()) + free_layers((5, 4), (3, 4), seed=1)
    layers = [layer._replace(final=False) for layer in layers[:-1]] + layers[-1:]
    torch.manual_seed(123)
    value = reg.weight_penalty(layers).item()
    torch.manual_seed(123)
    assert value == pytest.approx(ref_penalty(name, params, reg, layers), rel=1e-8, abs=1e-12)


def test_default_coefficients_follow_reference():
    expected = {"mhs": (0.1, 1.0), "mhp": (1.0, 10.0), "mhc": (0.01, 0.1), "r_mhp": (0.01, 0.1),
                "mgd": (0.01, 0.1), "orthogonal": (1e-4, 1e-4), "srip": (0.01, 0.01)}
    for name, lams in expected.items():
        reg = create_regularizer(name)
        assert (reg.lam_hidden, reg.lam_final) == lams
        assert reg.hparams.get("half_space", False) == (name in HALF_SPACE)
    for kernel in MHE_KERNELS:
        reg = create_regularizer("mhe", kernel=kernel)
        assert (reg.lam_hidden, reg.lam_final) == ((0.1, 1.0) if kernel in ("a1", "a2") else (1.0, 10.0))
        assert not reg.half_space
    hparams = create_regularizer("mhe", kernel="a1", lam_hidden=0, lam_final="2").hparams
    assert {k: hparams[k] for k in ("lam_hidden", "lam_final", "kernel", "half_space")} == {
        "lam_hidden": 0.0, "lam_final": 2.0, "kernel": "a1", "half_space": False}
    assert create_regularizer("mhe", kernel="a1", lam_final=2).lam_hidden == 0.1  # the other stays the paper's
    for bad in ({"lam_hidden": -2}, {"kernel": "s3"}):
        with pytest.raises(RegbenchError):
            create_regularizer("mhe", **bad)
    with pytest.raises(RegbenchError):
        create_regularizer("mgd", lam_final=-1)


def test_mhe_on_codes_equals_one_final_layer_of_the_same_rows():
    z = torch.randn(7, 5)
    for kernel in MHE_KERNELS:
        reg = create_regularizer("mhe", kernel=kernel, lam_final=1.0)
        assert float(reg(z)) == pytest.approx(float(reg.weight_penalty([WeightLayer("z", z, True)])))


@pytest.mark.parametrize("name", sorted(HALF_SPACE))
def test_half_space_is_the_plain_penalty_of_w_and_minus_w_on_hidden_layers_only(name):
    extra = {"inner_steps": 0} if name in ("mhp", "mhc") else {}
    layers = free_layers((5, 4), (3, 4), (4, 4))
    half = create_regularizer(name, half_space=True, **extra)
    plain = create_regularizer(name, half_space=False, **extra)
    value = half.weight_penalty(layers)
    doubled = [layer if layer.final else layer._replace(rows=torch.cat([layer.rows, -layer.rows]))
               for layer in layers]
    if extra:
        plain.poles = dict(half.poles)
    assert float(value) == pytest.approx(float(plain.weight_penalty(doubled)), rel=1e-12)
    assert float(value) != pytest.approx(float(plain.weight_penalty(layers)), rel=1e-6)


def test_srip_is_at_most_the_squared_spectral_norm():
    torch.manual_seed(0)
    reg = create_regularizer("srip", lam_hidden=1.0, lam_final=1.0)
    for rows in (torch.randn(5, 8, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64)):
        a = (rows @ rows.T if len(rows) <= rows.shape[1] else rows.T @ rows)
        sigma = torch.linalg.matrix_norm(a - torch.eye(len(a), dtype=a.dtype), 2)
        values = [float(reg.weight_penalty([WeightLayer("w", rows, True)])) for _ in range(20)]
        assert max(values) <= float(sigma) ** 2 * (1 + 1e-12)
        assert np.mean(values) > 0.5 * float(sigma) ** 2


# ---- gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,params", CONFIGS, ids=ids(CONFIGS))
def test_gradcheck(name, params):
    if name in ("mhp", "mhc"):
        params = {**params, "inner_steps": 0}  # the network-side penalty against a fixed pole
    reg = create_regularizer(name, **params)
    weights = [layer.rows.requires_grad_() for layer in free_layers((5, 4), (3, 4), seed=2)]

    def penalty(*ws):
        torch.manual_seed(0)  # srip: the same random vector b at every evaluation
        return reg.weight_penalty([WeightLayer(f"l{i}", w, i == 1) for i, w in enumerate(ws)])

    assert torch.autograd.gradcheck(penalty, weights)


def degenerate_layers():
    """Duplicate filters, a zero filter, an all-zero layer, near-±1 cosines, tiny and huge filters."""
    torch.manual_seed(3)
    w = torch.randn(4, 6)
    near = torch.stack([w[0], w[0] + 1e-9, -w[0] + 1e-9, w[1]])
    return {
        "duplicates": [WeightLayer("h", torch.cat([w, w[:2]]), False), WeightLayer("f", w[[0, 0, 1]], True)],
        "zero filter": [WeightLayer("h", torch.cat([w, torch.zeros(1, 6)]), False),
                        WeightLayer("f", torch.zeros(3, 6), True)],
        "near ±1": [WeightLayer("h", near, False), WeightLayer("f", near, True)],
        "all equal": [WeightLayer("h", w[:1].expand(8, 6), False),
                      WeightLayer("f", w[:1].expand(8, 6), True)],
        "tiny filters": [WeightLayer("h", w * 1e-12, False), WeightLayer("f", w * 1e-12, True)],
        "huge filters": [WeightLayer("h", w * 1e4, False), WeightLayer("f", w * 1e4, True)],
    }


DEGENERATE = CONFIGS + [(name, {"convention": "authors"}) for name in ("mhs", "mhp", "mhc", "mgd")]


@pytest.mark.parametrize("name,params", DEGENERATE, ids=ids(DEGENERATE))
@pytest.mark.parametrize("lam", [1e-12, 1.0, 1e6])
def test_finite_values_and_gradients_at_degenerate_inputs(name, params, lam):
    reg = create_regularizer(name, **params, lam_hidden=lam, lam_final=lam)
    for case, layers in degenerate_layers().items():
        for _ in range(2):  # the second call moves the poles (with momentum under "authors")
            rows = [layer.rows.clone().requires_grad_() for layer in layers]
            value = reg.weight_penalty([layer._replace(rows=r) for layer, r in zip(layers, rows)])
            value.backward()
            assert torch.isfinite(value), (case, float(value))
            for r in rows:
                assert torch.isfinite(r.grad).all(), case
        for pole in getattr(reg, "poles", {}).values():
            assert torch.isfinite(pole).all(), case


# ---- mgd: near-singular kernels --------------------------------------------------------------

def test_mgd_recomputes_in_float64_for_near_duplicate_filters():
    torch.manual_seed(0)
    w = (torch.randn(1, 16) + 1e-4 * torch.randn(40, 16)).requires_grad_()
    k32 = mgd.gaussian_kernel(unit_rows(w.detach()))
    assert torch.linalg.cholesky_ex(k32 + 1e-6 * torch.eye(40))[1] != 0  # float32 fails
    value = create_regularizer("mgd").weight_penalty([WeightLayer("f", w, True)])
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value) and torch.isfinite(w.grad).all()
    rows = w.detach().double().numpy()
    u = unit(rows)
    k = np.array([[math.exp(-(2 - 2 * float(np.dot(a, b)))) for b in u] for a in u])
    assert value.item() == pytest.approx(-0.1 * np.linalg.slogdet(k + 1e-6 * np.eye(40))[1], rel=1e-5)


def test_mgd_raises_the_jitter_until_cholesky_succeeds(monkeypatch):
    def indefinite(unit):  # eigenvalues 5 − 1e-3 and −1e-3: needs a jitter of 1e-2
        return torch.ones(5, 5, dtype=unit.dtype) - 1e-3 * torch.eye(5, dtype=unit.dtype)

    monkeypatch.setattr(mgd, "gaussian_kernel", indefinite)
    eye = torch.eye(5, dtype=torch.float64)
    expected = torch.logdet(indefinite(eye) + 1e-2 * eye)
    value = mgd.kernel_logdet(torch.zeros(5, 3))
    assert value.dtype == torch.float32 and float(value) == pytest.approx(float(expected))


# ---- mhp / mhc poles -------------------------------------------------------------------------

def payoff_with_pole(reg, layer):
    return float(reg.payoff(reg.pole_cosines(layer.rows, reg.poles[layer.name])))


@pytest.mark.parametrize("name", ["mhp", "mhc"])
def test_inner_steps_move_the_pole_against_the_network(name):
    layer = free_layers((12, 5))[0]
    reg = create_regularizer(name, inner_steps=0)
    reg.weight_penalty([layer])
    before = payoff_with_pole(reg, layer)
    pole = reg.poles[layer.name].clone()
    with torch.no_grad():
        reg.weight_penalty([layer])
    assert torch.equal(reg.poles[layer.name], pole)  # no ascent without autograd
    stepping = create_regularizer(name)
    stepping.poles = dict(reg.poles)
    value = stepping.weight_penalty([layer])
    after = payoff_with_pole(stepping, layer)
    # the pole ascends the payoff: mhp's E = −payoff decreases, mhc's soft-min chord increases
    assert after > before
    assert float(value) == pytest.approx(stepping.lam_final * after)
    assert float(stepping.poles[layer.name].norm()) == pytest.approx(1.0)


def test_poles_are_per_layer_lazy_and_not_parameters():
    reg = create_regularizer("mhc")
    assert reg.poles == {} and list(reg.parameters()) == []
    reg.weight_penalty(free_layers((5, 4), (3, 6)))
    assert {name: tuple(p.shape) for name, p in reg.poles.items()} == {"l0": (4,), "l1": (6,)}


# ---- the claims, minimised alone ---------------------------------------------------------------

def min_angle_and_energy(w):
    u = w.detach().double()
    u = u / u.norm(dim=1, keepdim=True)
    c = (u @ u.T).clamp(-1, 1)
    i, j = torch.triu_indices(len(u), len(u), offset=1)
    return math.degrees(float(torch.acos(c[i, j]).min())), float((2 - 2 * c[i, j]).rsqrt().mean())


def minimise(name, params, n, d, steps, lr=0.01, seed=0):
    torch.manual_seed(seed)
    w = torch.randn(n, d).requires_grad_()
    start = w.detach().clone()
    reg = create_regularizer(name, **params)
    opt = torch.optim.Adam([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        reg.weight_penalty([WeightLayer("w", w, True)]).backward()
        opt.step()
    return start, w.detach()


UNIFORMITY = [("mhe", {"kernel": k}) for k in MHE_KERNELS] + [
    ("mhs", {}), ("mhp", {}), ("mhc", {}), ("mgd", {})]


@pytest.mark.parametrize("name,params", UNIFORMITY, ids=ids(UNIFORMITY))
def test_uniformity_regularizers_spread_30_rows_in_r8(name, params):
    # the pole games converge slowly ("inherently difficult to optimize", Liu et al., AISTATS 2021)
    steps = 1000 if name == "mhc" else 300
    start, end = minimise(name, {**params, "lam_final": 1.0}, n=30, d=8, steps=steps)
    angle0, energy0 = min_angle_and_energy(start)
    angle1, energy1 = min_angle_and_energy(end)
    assert angle1 > angle0 + 5 and energy1 < energy0


@pytest.mark.parametrize("name", ["orthogonal", "srip"])
def test_orthogonality_regularizers_make_6_rows_in_r8_orthonormal(name):
    # srip pushes only the top singular direction at each step: slower
    start, end = minimise(name, {"lam_final": 1.0}, n=6, d=8, steps=1500 if name == "srip" else 500, lr=0.03)
    assert min_angle_and_energy(end)[0] > 89 > min_angle_and_energy(start)[0] + 10
    assert torch.allclose(end @ end.T, torch.eye(6), atol=0.02)


def test_r_mhp_drives_the_resultant_to_zero():
    # not a uniformity objective by itself (Liu et al., AISTATS 2021): its claim is Σ w_i → 0
    start, end = minimise("r_mhp", {"lam_final": 1.0}, n=30, d=8, steps=300)
    assert float(end.sum(0).norm()) < 0.05 * float(start.sum(0).norm())
