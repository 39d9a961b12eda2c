"""The contract of a regularizer, on every target it acts on, at its defaults (a fresh instance per
check: the pole regularizers keep state) and on the target's own ``example(regularizer, n, d,
generator, dtype)``:

- its targets are ones regbench knows, and it builds at its defaults with its targets' λ;
- the value is a finite 0-dim float32 tensor whose gradients are finite and depend on the input;
- seeded calls are one function (stochastic regularizers draw from the global torch generator);
- ``torch.autograd.gradcheck`` holds in float64 (the RNG reseeded before every call);
- no NaN or Inf in the value or the gradient at coincident points: all rows identical, two
  duplicate rows among random ones, and (codes, weights) an all-zero input;
- it is invariant under what every penalty on its target is invariant under
  (:data:`INVARIANT`): codes and posterior terms are functions of the batch as a set, weight
  penalties sums over layers of functions of each layer's rows as a set;
- on the posterior target, ``sample`` and ``mode`` (shapes, seeded reproducibility, gradcheck,
  finite at coincident and zero heads) and ``log_prob`` / ``prior_log_prob`` (finite per row,
  gradcheck, ``kl(h)`` the Monte-Carlo mean of log q(z | h) − log p(z));
- ``prior_sample(n, d, generator)`` is ``None`` or a finite (n, d) tensor, the same for the same seed;
- it has a docstring.

Each function below raises :class:`~regbench.contract.Broken` naming what fails; :func:`checks`
lists them for one regularizer.
"""
from __future__ import annotations

import inspect
import math
from functools import partial

import torch

from ..registry import REGULARIZERS, TARGETS
from ..regularizers._base import POSTERIOR, WeightLayer
from . import Check, documented, require

N, D = 12, 5  # the example's size (n > d: the weight regularizers then use the d×d Gram Wᵀ W)
GRAD_N, GRAD_D = 6, 4  # smaller for gradcheck
MC_SAMPLES = 100_000
ZERO_INPUT_TARGETS = ("codes", "weights")  # an all-zero input is meaningful for these
# Invariances every penalty on a target has: codes and posterior terms are functions of the batch
# as a set (pair sums over all pairs, means over items); weight penalties are sums over layers of
# functions of each layer's rows as a set. (srip's holds exactly because the example has n > d, so
# its Gram is the d×d Wᵀ W; for n ≤ d its random vector b is not permuted with the rows, and the
# invariance holds only in distribution.)
INVARIANT = {"codes": ("row_permutation",), "weights": ("row_permutation",),
             "posterior": ("row_permutation",)}


# ---- structure-generic helpers: an example is a tensor or a list of WeightLayer ---------------

def leaves(x) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and all(isinstance(layer, WeightLayer) for layer in x):
        return [layer.rows for layer in x]
    raise TypeError(f"the contract knows tensors and lists of WeightLayer, not {type(x).__name__}")


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


def posterior_d(name: str, h: torch.Tensor) -> int:
    """The latent dimension d of a head of width head_size(d)."""
    cls = REGULARIZERS.get(name)
    return next(d for d in range(cls.min_dim, h.shape[1] + 1) if cls().head_size(d) == h.shape[1])


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

COINCIDENT = {
    "identical": lambda t, i: t[:1].expand_as(t).clone(),
    "duplicate": lambda t, i: torch.cat([t[:1], t[:-1]]),  # rows 0 and 1 equal, the rest random
    "zero": lambda t, i: torch.zeros_like(t),
}


def coincident_kinds(target: str) -> list[str]:
    return [kind for kind in COINCIDENT if kind != "zero" or target in ZERO_INPUT_TARGETS]


def invariance_pair(name: str, target: str, invariance: str, x) -> tuple[torch.Tensor, torch.Tensor]:
    """(penalty on x, penalty on the transformed x), fresh regularizers, the same RNG state."""
    if invariance == "rotation_with_prior":  # codes and the prior sample rotated together
        reg = make(name, x.dtype)
        require("prior" in inspect.signature(reg.forward).parameters, f"{name}.forward takes no prior")
        prior = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
        q = orthogonal_matrix(x.shape[1], 1, x.dtype)
        return reg(x, prior=prior), make(name, x.dtype)(x @ q, prior=prior @ q)
    return value(name, target, x), value(name, target, TRANSFORMS[invariance](name, x))


# ---- the checks -------------------------------------------------------------------------------

def known_targets(name: str) -> None:
    cls = REGULARIZERS.get(name)
    unknown = [t for t in cls.targets if t not in TARGETS.names()]
    require(not unknown, f"{name} declares targets {', '.join(map(repr, unknown))}, which regbench "
                         f"does not know (it knows {', '.join(TARGETS.names())})")


def hyperparameters(name: str) -> None:
    """It builds at its defaults, with the hyperparameters of its targets (λ) among its own and
    ``target`` exactly when it acts on several."""
    cls = REGULARIZERS.get(name)
    cls()
    params = cls.params()
    for target in cls.targets:
        missing = set(TARGETS.get(target).params()) - set(params)
        require(not missing, f"{name} lacks {', '.join(sorted(missing))} of its target {target}")
    require(("target" in params) == (len(cls.targets) > 1),
            f"{name}: a 'target' hyperparameter belongs to a regularizer with several targets")


def finite_value_and_gradients(name: str, target: str) -> None:
    v, grads = value_and_grads(name, target, example(name, target))
    require(isinstance(v, torch.Tensor) and v.dim() == 0 and v.dtype == torch.float32,
            f"the value is {type(v).__name__} {getattr(v, 'shape', '')} "
            f"{getattr(v, 'dtype', '')}, not a 0-dim float32 tensor")
    require(torch.isfinite(v), f"the value is {float(v.detach())}")
    require(grads and all(torch.isfinite(g).all() for g in grads), "a gradient is NaN or infinite")
    require(any(g.abs().sum() > 0 for g in grads), "the penalty does not depend on its input")


def reproducible(name: str, target: str) -> None:
    x = example(name, target)
    require(torch.equal(value(name, target, x, seed=3), value(name, target, x, seed=3)),
            "two calls after the same torch.manual_seed give different values")


def gradcheck(name: str, target: str, **params) -> bool:
    """Whether ``torch.autograd.gradcheck`` holds in float64 (reseeded before every call)."""
    x = example(name, target, GRAD_N, GRAD_D, seed=2, dtype=torch.float64)
    tensors = [t.detach().clone().requires_grad_() for t in leaves(x)]

    def penalty(*ts):
        return value(name, target, rebuild(x, list(ts)), seed=0, **params)

    return torch.autograd.gradcheck(penalty, tensors, raise_exception=False)


def gradient_is_exact(name: str, target: str) -> None:
    require(gradcheck(name, target), "torch.autograd.gradcheck fails in float64: the gradient is not "
                                     "the derivative of the value")


def finite_at_coincident_points(name: str, target: str, kind: str) -> None:
    x = mapped(example(name, target, seed=1), COINCIDENT[kind])
    v, grads = value_and_grads(name, target, x)
    require(torch.isfinite(v), f"the value is {float(v.detach())} with {kind} rows")
    require(all(torch.isfinite(g).all() for g in grads), f"a gradient is NaN or infinite with {kind} rows")


def invariant(name: str, target: str, invariance: str) -> None:
    x = example(name, target, seed=4, dtype=torch.float64)
    before, after = invariance_pair(name, target, invariance, x)
    require(math.isclose(float(after), float(before), rel_tol=1e-8, abs_tol=1e-10),
            f"{float(before)!r} becomes {float(after)!r} under {invariance.replace('_', ' ')}")


def seeded_sample(reg, h: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    return reg.sample(h)


def sample_gradcheck(name: str, features: slice | None = None) -> bool:
    """Whether a seeded sample's gradcheck holds in float64, in every head feature or in
    ``features``."""
    reg = make(name, torch.float64)
    h = example(name, POSTERIOR, GRAD_N, GRAD_D, seed=6, dtype=torch.float64)
    part = features or slice(0, h.shape[1])

    def sample(h_part):
        return seeded_sample(reg, torch.cat([h[:, :part.start], h_part, h[:, part.stop:]], 1))

    return torch.autograd.gradcheck(sample, (h[:, part].clone().requires_grad_(),), raise_exception=False)


def samples_and_modes(name: str) -> None:
    """``sample(h)`` reparameterised codes (seeded: one function), ``mode(h)`` deterministic codes,
    both (n, d), finite with finite gradients at coincident and zero heads; ``mode`` passes a
    float64 gradcheck (the sample's is :func:`sample_gradcheck`)."""
    h = example(name, POSTERIOR, seed=5)
    d = posterior_d(name, h)
    reg = make(name)
    z = seeded_sample(reg, h)
    require(torch.equal(z, seeded_sample(reg, h)) and torch.equal(reg.mode(h), reg.mode(h)),
            "seeded samples or modes differ between two calls")
    require(z.shape == reg.mode(h).shape == (N, d), f"samples {tuple(z.shape)} and modes "
                                                    f"{tuple(reg.mode(h).shape)}, not ({N}, {d})")
    h64 = example(name, POSTERIOR, GRAD_N, GRAD_D, seed=6, dtype=torch.float64).requires_grad_()
    require(torch.autograd.gradcheck(make(name, torch.float64).mode, (h64,), raise_exception=False),
            "gradcheck of mode(h) fails in float64")
    for kind in ("identical", "duplicate", "zero"):
        head = COINCIDENT[kind](h, 0).requires_grad_()
        codes = torch.cat([reg.sample(head), reg.mode(head)])
        (grad,) = torch.autograd.grad(codes.sum(), head)
        require(torch.isfinite(codes).all() and torch.isfinite(grad).all(),
                f"samples, modes or their gradients are not finite at {kind} heads")


def samples_exact(name: str) -> None:
    require(sample_gradcheck(name), "gradcheck of a seeded sample(h) fails in float64")


def densities_and_kl(name: str) -> None:
    """``log_prob(h, z)`` at the head's own samples and ``prior_log_prob(z)`` are finite (n,)
    tensors; ``log_prob`` passes a float64 gradcheck in h and z; and ``kl(h)`` of single heads is
    within 5 standard errors of the mean of log q(z | h) − log p(z) over 100k draws (float64)."""
    h = example(name, POSTERIOR, seed=5)
    reg = make(name)
    z = seeded_sample(reg, h)
    for log_density in (reg.log_prob(h, z), reg.prior_log_prob(z)):
        require(log_density.shape == (N,) and torch.isfinite(log_density).all(),
                "log_prob or prior_log_prob is not a finite value per row")
    reg64 = make(name, torch.float64)
    h64 = example(name, POSTERIOR, GRAD_N, GRAD_D, seed=6, dtype=torch.float64)
    torch.manual_seed(1)
    z64 = reg64.sample(h64)  # where the density is positive (on the sphere, for vmf and its kin)
    require(torch.autograd.gradcheck(reg64.log_prob, (h64.requires_grad_(), z64.requires_grad_()),
                                     raise_exception=False), "gradcheck of log_prob fails in float64")
    torch.manual_seed(2)
    for head in example(name, POSTERIOR, 3, D, seed=7, dtype=torch.float64):
        heads = head.expand(MC_SAMPLES, -1)
        codes = reg64.sample(heads)
        ratio = reg64.log_prob(heads, codes) - reg64.prior_log_prob(codes)
        require(torch.isfinite(ratio).all(), "log q(z | h) − log p(z) is not finite at its own samples")
        standard_error = ratio.std().item() / math.sqrt(MC_SAMPLES)
        kl = reg64.kl(head[None]).item()
        require(abs(ratio.mean().item() - kl) < 5 * standard_error,
                f"kl(h) = {kl:.6g}, but the Monte-Carlo mean of log q − log p is "
                f"{ratio.mean().item():.6g} ± {standard_error:.2g}")


def prior_sample(name: str) -> None:
    reg = make(name)
    d = max(D, REGULARIZERS.get(name).min_dim)
    first, second = (reg.prior_sample(N, d, torch.Generator().manual_seed(3)) for _ in range(2))
    if first is None:
        require(second is None, "prior_sample returns None once and a sample once")
        return
    require(isinstance(first, torch.Tensor) and first.shape == (N, d) and torch.isfinite(first).all(),
            f"prior_sample({N}, {d}) is not a finite ({N}, {d}) tensor")
    require(torch.equal(first, second), "prior_sample differs for two generators of the same seed")


def checks(name: str) -> list[Check]:
    """Every check of the regularizer ``name``, in order."""
    cls = REGULARIZERS.get(name)
    subject = f"regularizer '{name}'"
    out = [Check(subject, "declares targets regbench knows", partial(known_targets, name), gate=True),
           Check(subject, "builds at its defaults", partial(hyperparameters, name), gate=True),
           Check(subject, "has a docstring", partial(documented, cls))]
    for target in cls.targets:
        out += [Check(subject, f"finite value and gradients on {target}",
                      partial(finite_value_and_gradients, name, target)),
                Check(subject, f"seeded calls reproducible on {target}", partial(reproducible, name, target)),
                Check(subject, f"float64 gradient check on {target}", partial(gradient_is_exact, name, target)),
                *(Check(subject, f"finite at {kind} rows on {target}",
                        partial(finite_at_coincident_points, name, target, kind))
                  for kind in coincident_kinds(target)),
                *(Check(subject, f"invariant under {inv.replace('_', ' ')} on {target}",
                        partial(invariant, name, target, inv)) for inv in INVARIANT.get(target, ()))]
    if POSTERIOR in cls.targets:
        out += [Check(subject, "posterior samples and modes", partial(samples_and_modes, name)),
                Check(subject, "float64 gradient check of samples", partial(samples_exact, name)),
                Check(subject, "posterior densities and KL", partial(densities_and_kl, name))]
    return out + [Check(subject, "prior_sample None or finite and reproducible", partial(prior_sample, name))]
