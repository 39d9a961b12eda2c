"""The contract of every registered regularizer, on every target it acts on.

Parametrised over ``REGULARIZERS.names()`` × the class's ``targets`` (ids ``<name>-<target>``), so a
new regularizer is tested without new test code. Each case takes the regularizer at its defaults
(a fresh instance per test: the pole regularizers keep state) and the target's own
``example(regularizer, n, d, generator, dtype)``:

- the value is a finite 0-dim tensor and its gradients are finite;
- ``torch.autograd.gradcheck`` in float64 (the RNG reseeded before every call, so that the
  stochastic ones, which draw a prior sample or a random vector, are one fixed function);
- no NaN/Inf in the value or the gradient at coincident points: all rows identical, two duplicate
  rows among random ones, and (codes, weights) an all-zero input;
- the invariances of its formula: those every penalty on a target has (``DERIVED_INVARIANCES``)
  and those declared per regularizer (``INVARIANCES``);
- on the posterior target, ``sample`` and ``mode`` too: shapes, seeded reproducibility, gradcheck,
  finiteness at coincident and zero heads; ``log_prob`` and ``prior_log_prob``: finite per row,
  gradcheck, and ``kl(h)`` equal to the Monte-Carlo mean of log q(z | h) − log p(z);
- ``prior_sample(n, d, generator)``: ``None``, or a finite (n, d) tensor, the same for the same seed;
- its module docstring cites its paper (a year, and arXiv or a venue).

The exceptions and invariances are declared once each, with their reasons: ``GRADCHECK_EXCEPTIONS``,
``SAMPLE_GRADCHECK_EXCEPTIONS``, ``NO_PAPER``, ``INVARIANCES``.
"""
from __future__ import annotations

import inspect
import math
import re
import sys
from typing import Callable

import pytest
import torch

from regbench.regularizers._base import WeightLayer
from regbench.registry import REGULARIZERS, TARGETS

N, D = 12, 5  # the example's size (n > d: the weight regularizers then use the d×d Gram Wᵀ W)
GRAD_N, GRAD_D = 6, 4  # smaller for gradcheck

CASES = [(name, target) for name in REGULARIZERS.names() for target in REGULARIZERS.get(name).targets]
IDS = [f"{name}-{target}" for name, target in CASES]

# ---- declarations: every exception and invariance, in one place each -------------------------

GRADCHECK_EXCEPTIONS: dict[str, tuple[str, dict]] = {
    # name: (why gradcheck cannot apply at the defaults, hyperparameters under which it does)
    "mhp": ("each call first moves the pole v by inner_steps ascent steps on the (detached) rows, "
            "then returns the penalty with v detached: the gradient is the network's side of the "
            "game, with v held fixed, while finite differences also see v move with the rows",
            {"inner_steps": 0}),
    "mhc": ("each call first moves the pole v by inner_steps ascent steps on the (detached) rows, "
            "then returns the penalty with v detached: the gradient is the network's side of the "
            "game, with v held fixed, while finite differences also see v move with the rows",
            {"inner_steps": 0}),
}

SAMPLE_GRADCHECK_EXCEPTIONS: dict[str, tuple[str, Callable[[int], slice]]] = {
    # name: (why a seeded sample's gradient is not its finite difference in every head feature,
    #        the head features, given the head's width, in which it is)
    "power_spherical": ("μ·z = 1 − 2s with s from torch's Beta.rsample, whose gradient in the concentration "
                        "is the implicit reparameterisation gradient −∂_α F(s)/p(s) (F the Beta CDF), not "
                        "the derivative of the seeded Gamma draws with their noise held fixed; "
                        "tests/test_reg_latent_power_spherical.py checks it against scipy's Beta CDF",
                        lambda width: slice(0, width - 1)),  # the direction features; not κ's
}

NO_PAPER = {"none": "the unregularized baseline: no method, no paper"}

# Invariances every penalty on a target has: codes and posterior terms are functions of the batch
# as a set (pair sums over all pairs, means over items); weight penalties are sums over layers of
# functions of each layer's rows as a set. (srip's holds exactly because the example has n > d, so
# its Gram is the d×d Wᵀ W; for n ≤ d its random vector b is not permuted with the rows, and the
# invariance holds only in distribution.)
DERIVED_INVARIANCES = {"codes": ("row_permutation",), "weights": ("row_permutation",),
                       "posterior": ("row_permutation",)}

# Further invariances of each regularizer's formula, per target (checked at the defaults, in float64).
INVARIANCES: dict[str, dict[str, tuple[str, ...]]] = {
    # pair distances and norms only
    "eccentric": {"codes": ("rotation",)},
    # an MMD to an isotropic prior sample p: exact when p rotates with the codes (MMD(zQ, pQ) =
    # MMD(z, p)); with the RNG fixed but p not rotated it holds only in distribution
    "coulomb": {"codes": ("rotation_with_prior",)},
    "mmd_imq": {"codes": ("rotation_with_prior",)},
    # cosines between normalised rows
    "mhe": {"codes": ("rotation",), "weights": ("rotation",)},
    "uniformity": {"codes": ("rotation",)},
    "mhs": {"weights": ("rotation",)},
    "mgd": {"weights": ("rotation",)},
    # ‖G − I‖ with G = Wᵀ W (n > d) or W Wᵀ: Qᵀ G Q, and D W with D = diag(±1) leaves Wᵀ W alone
    "orthogonal": {"weights": ("rotation", "row_sign_flip")},
    # |Σ_i w_i Q| = |Σ_i w_i|
    "r_mhp": {"weights": ("rotation",)},
    # G = Wᵀ W (n > d) unchanged by D W; not rotation-invariant: the random vector b is not rotated
    "srip": {"weights": ("row_sign_flip",)},
    # mhp, mhc: row permutations only (their random initial pole does not rotate with the rows)
    # KL to N(0, I): a sum over dimensions of a function of (m_k², s_k)
    "kl_gauss": {"posterior": ("mean_sign_flip", "dimension_permutation")},
    # KL(vMF(μ, κ) ‖ uniform) and KL(PS(μ, κ) ‖ uniform) depend on κ only
    "vmf": {"posterior": ("direction_rotation",)},
    "power_spherical": {"posterior": ("direction_rotation",)},
}

ZERO_INPUT_TARGETS = ("codes", "weights")  # an all-zero input is meaningful for these
YEAR = re.compile(r"\b(19|20)\d\d\b")
VENUE = re.compile(r"arXiv|NeurIPS|NIPS|ICML|ICLR|AISTATS|UAI|JMLR|ECAI|IJCNN|CVPR|ICCV|ECCV|AAAI|"
                   r"IJCAI|KDD|TPAMI|Proc\.|Journal|Transactions")


# ---- structure-generic helpers: an example is a tensor or a list of WeightLayer ---------------

def leaves(x) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and all(isinstance(layer, WeightLayer) for layer in x):
        return [layer.rows for layer in x]
    raise TypeError(f"the contract tests know tensors and lists of WeightLayer, not {type(x).__name__}")


def rebuild(x, tensors: list[torch.Tensor]):
    if isinstance(x, torch.Tensor):
        return tensors[0]
    return [layer._replace(rows=t) for layer, t in zip(x, tensors)]


def mapped(x, f):
    """``x`` with ``f`` applied to each of its tensors (``f(tensor, index)``)."""
    return rebuild(x, [f(t, i) for i, t in enumerate(leaves(x))])


def make(name: str, dtype=torch.float32, **params):
    reg = REGULARIZERS.get(name)(**params)
    return reg.double() if dtype == torch.float64 else reg


def example(name: str, target: str, n: int = N, d: int = D, seed: int = 0, dtype=torch.float32):
    reg = REGULARIZERS.get(name)()
    d = max(d, REGULARIZERS.get(name).min_dim)
    return TARGETS.create(target).example(reg, n, d, torch.Generator().manual_seed(seed), dtype)


def value(name: str, target: str, x, seed: int | None = 0, **params) -> torch.Tensor:
    """The penalty of a fresh regularizer at its defaults on ``x``, the RNG seeded (unless None)."""
    dtype = leaves(x)[0].dtype
    if seed is not None:
        torch.manual_seed(seed)
    return TARGETS.create(target).penalty(make(name, dtype, **params), x)


def value_and_grads(name: str, target: str, x):
    tensors = [t.detach().clone().requires_grad_() for t in leaves(x)]
    v = value(name, target, rebuild(x, tensors))
    grads = torch.autograd.grad(v, tensors, allow_unused=True)
    return v, [g for g in grads if g is not None]


def orthogonal_matrix(d: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=dtype))
    return q * torch.sign(torch.diagonal(r))


# ---- invariances: transform(x) → x', the penalty must not change -----------------------------

def rotate(x, seed=1):
    return mapped(x, lambda t, i: t @ orthogonal_matrix(t.shape[-1], seed + i, t.dtype))


def permute_rows(x, seed=1):
    return mapped(x, lambda t, i: t[torch.randperm(len(t), generator=torch.Generator().manual_seed(seed + i))])


def flip_row_signs(x, seed=1):
    def flip(t, i):
        signs = torch.randint(0, 2, (len(t), 1), generator=torch.Generator().manual_seed(seed + i)) * 2 - 1
        return t * signs.to(t.dtype)
    return mapped(x, flip)


def posterior_d(name: str, h: torch.Tensor) -> int:
    """The latent dimension d of a head of width head_size(d)."""
    cls = REGULARIZERS.get(name)
    return next(d for d in range(cls.min_dim, h.shape[1] + 1) if cls().head_size(d) == h.shape[1])


TRANSFORMS = {
    "rotation": lambda name, x: rotate(x),
    "row_permutation": lambda name, x: permute_rows(x),
    "row_sign_flip": lambda name, x: flip_row_signs(x),
    # kl_gauss's head (mean, log-variance)
    "mean_sign_flip": lambda name, h: torch.cat([-h[:, :h.shape[1] // 2], h[:, h.shape[1] // 2:]], 1),
    "dimension_permutation": lambda name, h: torch.cat(
        [half[:, torch.randperm(half.shape[1], generator=torch.Generator().manual_seed(1))]
         for half in h.chunk(2, dim=1)], 1),
    # vmf's head (direction features, concentration feature)
    "direction_rotation": lambda name, h: torch.cat(
        [h[:, :posterior_d(name, h)] @ orthogonal_matrix(posterior_d(name, h), 1, h.dtype),
         h[:, posterior_d(name, h):]], 1),
}


def invariance_pair(name: str, target: str, invariance: str, x) -> tuple[torch.Tensor, torch.Tensor]:
    """(penalty on x, penalty on the transformed x), fresh regularizers, the same RNG state."""
    if invariance == "rotation_with_prior":  # codes and the prior sample rotated together
        reg = make(name, x.dtype)
        assert "prior" in inspect.signature(reg.forward).parameters, f"{name}.forward takes no prior"
        prior = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
        q = orthogonal_matrix(x.shape[1], 1, x.dtype)
        return reg(x, prior=prior), make(name, x.dtype)(x @ q, prior=prior @ q)
    return value(name, target, x), value(name, target, TRANSFORMS[invariance](name, x))


INVARIANCE_CASES = [(name, target, inv) for name, target in CASES
                    for inv in DERIVED_INVARIANCES.get(target, ()) + INVARIANCES.get(name, {}).get(target, ())]


# ---- the tests --------------------------------------------------------------------------------

def test_declarations_name_registered_regularizers_and_their_targets():
    names = set(REGULARIZERS.names())
    assert set(GRADCHECK_EXCEPTIONS) <= names and set(NO_PAPER) <= names
    assert set(SAMPLE_GRADCHECK_EXCEPTIONS) <= set(POSTERIOR_CASES)
    for name, per_target in INVARIANCES.items():
        assert name in names, f"INVARIANCES names '{name}', which is not registered"
        assert set(per_target) <= set(REGULARIZERS.get(name).targets), name
        for invariances in per_target.values():
            assert set(invariances) <= {*TRANSFORMS, "rotation_with_prior"}


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_hyperparameters_include_those_of_its_targets(name):
    cls = REGULARIZERS.get(name)
    params = cls.params()
    for target in cls.targets:
        assert set(TARGETS.get(target).params()) <= set(params), (name, target)
    assert ("target" in params) == (len(cls.targets) > 1)


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_value_is_a_finite_scalar_with_finite_gradients(name, target):
    v, grads = value_and_grads(name, target, example(name, target))
    assert isinstance(v, torch.Tensor) and v.dim() == 0 and v.dtype == torch.float32
    assert torch.isfinite(v), float(v.detach())
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads), "the penalty does not depend on its input"


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_seeded_calls_are_reproducible(name, target):
    """Stochastic regularizers draw from the global torch generator: a seed makes them one function."""
    x = example(name, target)
    assert torch.equal(value(name, target, x, seed=3), value(name, target, x, seed=3))


def gradcheck(name: str, target: str, **params) -> bool:
    x = example(name, target, GRAD_N, GRAD_D, seed=2, dtype=torch.float64)
    tensors = [t.detach().clone().requires_grad_() for t in leaves(x)]

    def penalty(*ts):
        return value(name, target, rebuild(x, list(ts)), seed=0, **params)  # reseeded every call

    return torch.autograd.gradcheck(penalty, tensors, raise_exception=False)


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_gradcheck(name, target):
    if name in GRADCHECK_EXCEPTIONS:
        reason, params = GRADCHECK_EXCEPTIONS[name]
        assert not gradcheck(name, target), f"gradcheck now passes for {name}: drop its exception"
        assert gradcheck(name, target, **params), f"{name} with {params}"
        return
    assert gradcheck(name, target)


COINCIDENT = {
    "identical": lambda t, i: t[:1].expand_as(t).clone(),
    "duplicate": lambda t, i: torch.cat([t[:1], t[:-1]]),  # rows 0 and 1 equal, the rest random
    "zero": lambda t, i: torch.zeros_like(t),
}
COINCIDENT_CASES = [(name, target, kind) for name, target in CASES for kind in COINCIDENT
                    if kind != "zero" or target in ZERO_INPUT_TARGETS]


@pytest.mark.parametrize("name, target, kind", COINCIDENT_CASES,
                         ids=[f"{n}-{t}-{k}" for n, t, k in COINCIDENT_CASES])
def test_finite_at_coincident_points(name, target, kind):
    x = mapped(example(name, target, seed=1), COINCIDENT[kind])
    v, grads = value_and_grads(name, target, x)
    assert torch.isfinite(v), f"{name} on {target} with {kind} rows: value {float(v.detach())}"
    for g in grads:
        assert torch.isfinite(g).all(), f"{name} on {target} with {kind} rows: gradient {g}"


@pytest.mark.parametrize("name, target, invariance", INVARIANCE_CASES,
                         ids=[f"{n}-{t}-{i}" for n, t, i in INVARIANCE_CASES])
def test_invariance(name, target, invariance):
    x = example(name, target, seed=4, dtype=torch.float64)
    before, after = invariance_pair(name, target, invariance, x)
    assert float(after) == pytest.approx(float(before), rel=1e-8, abs=1e-10), \
        f"{name} on {target} is not invariant under {invariance}"


POSTERIOR_CASES = [name for name, target in CASES if target == "posterior"]


@pytest.mark.parametrize("name", POSTERIOR_CASES)
def test_posterior_head_samples_and_modes(name):
    """The posterior target's other methods: ``sample(h)`` reparameterised codes (seeded: one
    function, gradcheck in float64), ``mode(h)`` deterministic codes, both (n, d) and finite at
    coincident and zero heads."""
    h = example(name, "posterior", seed=5)
    d = posterior_d(name, h)
    reg = make(name)
    torch.manual_seed(0)
    z = reg.sample(h)
    torch.manual_seed(0)
    assert torch.equal(z, reg.sample(h)) and torch.equal(reg.mode(h), reg.mode(h))
    assert z.shape == reg.mode(h).shape == (N, d)
    h64 = example(name, "posterior", GRAD_N, GRAD_D, seed=6, dtype=torch.float64).requires_grad_()
    reg64 = make(name, torch.float64)

    def sample(h):
        torch.manual_seed(0)
        return reg64.sample(h)

    if name in SAMPLE_GRADCHECK_EXCEPTIONS:
        reason, features = SAMPLE_GRADCHECK_EXCEPTIONS[name]
        assert not torch.autograd.gradcheck(sample, (h64,), raise_exception=False), \
            f"gradcheck of {name}'s sample now passes in every feature: drop its exception"
        part = features(h64.shape[1])

        def sample(h_part, h=h64.detach()):
            torch.manual_seed(0)
            return reg64.sample(torch.cat([h[:, :part.start], h_part, h[:, part.stop:]], 1))

        assert torch.autograd.gradcheck(sample, (h64.detach()[:, part].clone().requires_grad_(),))
    else:
        assert torch.autograd.gradcheck(sample, (h64,))
    assert torch.autograd.gradcheck(reg64.mode, (h64,))
    for kind in ("identical", "duplicate", "zero"):
        head = COINCIDENT[kind](h, 0).requires_grad_()
        codes = torch.cat([reg.sample(head), reg.mode(head)])
        (grad,) = torch.autograd.grad(codes.sum(), head)
        assert torch.isfinite(codes).all() and torch.isfinite(grad).all(), kind


MC_SAMPLES = 100_000


@pytest.mark.parametrize("name", POSTERIOR_CASES)
def test_posterior_log_prob_and_kl_by_monte_carlo(name):
    """``log_prob(h, z)`` at the head's own samples and ``prior_log_prob(z)`` are finite (n,)
    tensors; ``log_prob`` passes a float64 gradcheck in h and z; and ``kl(h)`` of single heads is
    within 5 standard errors of the mean of log q(z | h) − log p(z) over 100k draws z ~ q(· | h)
    (float64)."""
    h = example(name, "posterior", seed=5)
    reg = make(name)
    torch.manual_seed(0)
    z = reg.sample(h)
    for log_density in (reg.log_prob(h, z), reg.prior_log_prob(z)):
        assert log_density.shape == (N,) and torch.isfinite(log_density).all()
    reg64 = make(name, torch.float64)
    h64 = example(name, "posterior", GRAD_N, GRAD_D, seed=6, dtype=torch.float64)
    torch.manual_seed(1)
    z64 = reg64.sample(h64)  # where the density is positive (on the sphere, for vmf and its kin)
    assert torch.autograd.gradcheck(reg64.log_prob, (h64.requires_grad_(), z64.requires_grad_()))
    torch.manual_seed(2)
    for head in example(name, "posterior", 3, D, seed=7, dtype=torch.float64):
        heads = head.expand(MC_SAMPLES, -1)
        codes = reg64.sample(heads)
        ratio = reg64.log_prob(heads, codes) - reg64.prior_log_prob(codes)
        assert torch.isfinite(ratio).all()
        standard_error = ratio.std().item() / math.sqrt(MC_SAMPLES)
        kl = reg64.kl(head[None]).item()
        assert abs(ratio.mean().item() - kl) < 5 * standard_error, (kl, ratio.mean().item(), standard_error)


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_prior_sample_is_none_or_finite_and_reproducible(name):
    """``prior_sample(n, d, generator)`` is ``None`` (matches no distribution) or a finite (n, d)
    tensor, the same for two generators with the same seed."""
    reg = make(name)
    d = max(D, REGULARIZERS.get(name).min_dim)
    first, second = (reg.prior_sample(N, d, torch.Generator().manual_seed(3)) for _ in range(2))
    if first is None:
        assert second is None
        return
    assert isinstance(first, torch.Tensor) and first.shape == (N, d) and torch.isfinite(first).all()
    assert torch.equal(first, second)


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_module_docstring_cites_a_paper(name):
    if name in NO_PAPER:
        return
    doc = sys.modules[REGULARIZERS.get(name).__module__].__doc__ or ""
    assert YEAR.search(doc) and VENUE.search(doc), \
        f"the module of regularizer '{name}' does not cite its paper (a year and arXiv or a venue)"


CODE_CASES = [name for name, target in CASES if target == "codes"]


@pytest.mark.parametrize("name", CODE_CASES)
def test_codes_memory_is_bounded_by_one_block_of_pairs(name, monkeypatch):
    """Forward + backward on n codes with 64-row blocks of pairs saves no tensor larger than one
    block (64 × n) or the codes: pairwise terms never hold an n × n matrix."""
    from regbench.regularizers import _pairwise
    n, d, chunk = 2048, 16, 64
    monkeypatch.setattr(_pairwise, "CHUNK_PAIRS", chunk * n)
    largest = 0

    def pack(tensor):
        nonlocal largest
        largest = max(largest, tensor.numel())
        return tensor

    z = torch.randn(n, d, generator=torch.Generator().manual_seed(0), requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        make(name)(z).backward()
    assert torch.isfinite(z.grad).all() and largest <= max(chunk, d) * n
