"""The contract of every registered regularizer, on every target it acts on
(:mod:`regbench.contract.regularizers` defines each check; ``regbench check`` runs the same).

Parametrised over the regularizers under contract (``REGULARIZERS.names()``, or a plugin's alone
under ``pytest --regbench-plugin MODULE``) × the class's ``targets`` (ids ``<name>-<target>``), so a
new regularizer is tested without new test code: finite value and gradients, seeded
reproducibility, a float64 gradcheck, finiteness at coincident points, the invariances every
penalty on its target has and those declared per regularizer here (``INVARIANCES``), the posterior
head's samples, modes, densities and KL, ``prior_sample``, a docstring; and for the built-in
regularizers, a docstring that cites the paper and pairwise terms in blocks.

The exceptions and invariances of the built-in regularizers are declared once each, with their
reasons: ``GRADCHECK_EXCEPTIONS``, ``SAMPLE_GRADCHECK_EXCEPTIONS``, ``NO_PAPER``, ``INVARIANCES``.
"""
from __future__ import annotations

from typing import Callable

import pytest
import torch

from conftest import builtin, under_contract
from regbench.contract import cites_paper, documentation, documented
from regbench.contract import regularizers as contract
from regbench.registry import REGULARIZERS

NAMES = under_contract(REGULARIZERS)
CASES = [(name, target) for name in NAMES for target in REGULARIZERS.get(name).targets]
IDS = [f"{name}-{target}" for name, target in CASES]
BUILTIN = [name for name in NAMES if builtin(REGULARIZERS.get(name))]

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

INVARIANCE_CASES = [(name, target, inv) for name, target in CASES
                    for inv in contract.INVARIANT.get(target, ()) + INVARIANCES.get(name, {}).get(target, ())]
COINCIDENT_CASES = [(name, target, kind) for name, target in CASES for kind in contract.coincident_kinds(target)]
POSTERIOR_CASES = [name for name, target in CASES if target == "posterior"]
CODE_CASES = [name for name, target in CASES if target == "codes" and name in BUILTIN]


# ---- the tests --------------------------------------------------------------------------------

def test_declarations_name_registered_regularizers_and_their_targets():
    names = set(REGULARIZERS.names())
    assert set(GRADCHECK_EXCEPTIONS) <= names and set(NO_PAPER) <= names
    assert all("posterior" in REGULARIZERS.get(name).targets for name in SAMPLE_GRADCHECK_EXCEPTIONS)
    for name, per_target in INVARIANCES.items():
        assert name in names, f"INVARIANCES names '{name}', which is not registered"
        assert set(per_target) <= set(REGULARIZERS.get(name).targets), name
        for invariances in per_target.values():
            assert set(invariances) <= {*contract.TRANSFORMS, "rotation_with_prior"}


@pytest.mark.parametrize("name", NAMES)
def test_targets_are_known_and_it_builds_with_their_hyperparameters(name):
    contract.known_targets(name)
    contract.hyperparameters(name)


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_value_is_a_finite_scalar_with_finite_gradients(name, target):
    contract.finite_value_and_gradients(name, target)


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_seeded_calls_are_reproducible(name, target):
    contract.reproducible(name, target)


@pytest.mark.parametrize("name, target", CASES, ids=IDS)
def test_gradcheck(name, target):
    if name in GRADCHECK_EXCEPTIONS:
        reason, params = GRADCHECK_EXCEPTIONS[name]
        assert not contract.gradcheck(name, target), f"gradcheck now passes for {name}: drop its exception"
        assert contract.gradcheck(name, target, **params), f"{name} with {params}"
        return
    contract.gradient_is_exact(name, target)


@pytest.mark.parametrize("name, target, kind", COINCIDENT_CASES,
                         ids=[f"{n}-{t}-{k}" for n, t, k in COINCIDENT_CASES])
def test_finite_at_coincident_points(name, target, kind):
    contract.finite_at_coincident_points(name, target, kind)


@pytest.mark.parametrize("name, target, invariance", INVARIANCE_CASES,
                         ids=[f"{n}-{t}-{i}" for n, t, i in INVARIANCE_CASES])
def test_invariance(name, target, invariance):
    contract.invariant(name, target, invariance)


@pytest.mark.parametrize("name", POSTERIOR_CASES)
def test_posterior_head_samples_and_modes(name):
    contract.samples_and_modes(name)
    if name in SAMPLE_GRADCHECK_EXCEPTIONS:
        reason, features = SAMPLE_GRADCHECK_EXCEPTIONS[name]
        assert not contract.sample_gradcheck(name), \
            f"gradcheck of {name}'s sample now passes in every feature: drop its exception"
        width = contract.example(name, "posterior", contract.GRAD_N, contract.GRAD_D).shape[1]
        assert contract.sample_gradcheck(name, features(width))
    else:
        contract.samples_exact(name)


@pytest.mark.parametrize("name", POSTERIOR_CASES)
def test_posterior_log_prob_and_kl_by_monte_carlo(name):
    contract.densities_and_kl(name)


@pytest.mark.parametrize("name", NAMES)
def test_prior_sample_is_none_or_finite_and_reproducible(name):
    contract.prior_sample(name)


@pytest.mark.parametrize("name", NAMES)
def test_documented(name):
    documented(REGULARIZERS.get(name))


@pytest.mark.parametrize("name", BUILTIN)
def test_docstrings_cite_a_paper(name):
    if name in NO_PAPER:
        return
    assert cites_paper(documentation(REGULARIZERS.get(name))), \
        f"the module of regularizer '{name}' does not cite its paper in its module's or class's docstring (a year and arXiv or a venue)"


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
        contract.make(name)(z).backward()
    assert torch.isfinite(z.grad).all() and largest <= max(chunk, d) * n
