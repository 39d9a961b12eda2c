"""The ``Param`` API: declared bounds, choices, derived defaults and context defaults."""
import re

import pytest

from regbench.errors import RegbenchError
from regbench.params import Configurable, Param
from regbench.registry import REGULARIZERS, create_regularizer


class Toy(Configurable):
    kind = "regularizer"
    registered_name = "toy"
    a = Param(1.0, "a's doc", ge=0)
    b = Param(1.0, "b's doc", gt=0.5)
    c = Param(0.0, "c's doc", le=1)
    d = Param(0.0, "d's doc", lt=1)
    p = Param(0.5, "p's doc", gt=0, lt=1)
    n = Param(3, "n's doc", gt=2.5)  # an int against a float bound
    k = Param("x", "k's doc", choices=("x", "y"))


def rejected(match: str, **values):
    with pytest.raises(RegbenchError, match=match) as info:
        Toy(**values)
    return str(info.value)


# name, accepted boundary (or nearest accepted value), rejected value on the other side, rule
BOUNDS = [("a", 0.0, -1e-9, "a ≥ 0"), ("b", 0.5 + 1e-9, 0.5, "b > 0.5"), ("c", 1.0, 1 + 1e-9, "c ≤ 1"),
          ("d", 1 - 1e-9, 1.0, "d < 1"), ("p", 1e-9, 0.0, "p > 0 and < 1"), ("p", 1 - 1e-9, 1.0, "p > 0 and < 1"),
          ("n", 3, 2, "n > 2.5")]


@pytest.mark.parametrize("name,good,bad,rule", BOUNDS, ids=[f"{b[0]}-{b[3]}-{b[2]}" for b in BOUNDS])
def test_each_bound_accepts_its_side_and_rejects_the_other(name, good, bad, rule):
    assert Toy(**{name: good}).hparams[name] == good
    message = rejected(re.escape(f"needs {rule};"), **{name: bad})
    assert message.startswith(f"regularizer 'toy': hyperparameter {name}={bad!r} is out of range")
    assert f"{name}'s doc" in message


def test_ge_accepts_its_boundary_exactly_and_gt_rejects_it():
    assert Toy(a=0).a == 0.0
    rejected(re.escape("needs b > 0.5"), b=0.5)
    assert Toy(c=1).c == 1.0
    rejected(re.escape("needs d < 1"), d=1)


def test_ints_compare_with_float_bounds():
    assert Toy(n=3).n == 3 and isinstance(Toy(n=3).n, int)
    rejected(re.escape("n=2 is out of range (needs n > 2.5"), n=2)
    assert Toy(n="4").n == 4  # a CLI string is coerced first, then checked
    assert Toy(a=0).a == 0.0 and isinstance(Toy(a=0).a, float)  # an int for a float parameter
    rejected(re.escape("needs b > 0.5"), b="0.5")


def test_choices():
    assert Toy(k="y").k == "y"
    message = rejected("must be one of x, y", k="z")
    assert "hyperparameter k='z'" in message


def test_unknown_name_suggests_the_closest():
    with pytest.raises(RegbenchError, match="unknown hyperparameter of regularizer 'toy' 'kk'"):
        Toy(kk="x")


def test_coulombs_h_is_bounded_and_h_is_d_is_its_own_switch():
    assert create_regularizer("coulomb", h=2.5).h == 2.5 and not create_regularizer("coulomb").h_is_d
    with pytest.raises(RegbenchError, match=re.escape("h=2.0 is out of range (needs h > 2;")):
        create_regularizer("coulomb", h=2)
    with pytest.raises(RegbenchError, match=re.escape("h=0.0 is out of range")):
        create_regularizer("coulomb", h=0)


# ---- derived defaults ------------------------------------------------------------------------

class Derived(Configurable):
    registered_name = "derived"
    base = Param(2.0, "base", gt=0)
    twice = Param(4.0, "twice the base unless given", ge=0, derive=lambda hp: 2 * hp["base"])
    neg = Param(0.0, "minus the base unless given", derive=lambda hp: -hp["base"], le=0)


def test_derived_default_follows_the_other_value_and_a_given_value_wins():
    assert Derived().hparams == {"base": 2.0, "twice": 4.0, "neg": -2.0}
    assert Derived(base=3).hparams == {"base": 3.0, "twice": 6.0, "neg": -3.0}
    assert Derived(base=3, twice=1).hparams == {"base": 3.0, "twice": 1.0, "neg": -3.0}
    assert Derived(twice="0").twice == 0.0
    with pytest.raises(RegbenchError, match=re.escape("needs twice ≥ 0")):
        Derived(twice=-1)


@pytest.mark.parametrize("kernel,hidden,final", [("s0", 1.0, 10.0), ("s1", 1.0, 10.0), ("s2", 1.0, 10.0),
                                                 ("a0", 1.0, 10.0), ("a1", 0.1, 1.0), ("a2", 0.1, 1.0)])
def test_mhe_coefficients_default_to_the_papers_for_the_kernel(kernel, hidden, final):
    reg = create_regularizer("mhe", kernel=kernel)
    assert (reg.lam_hidden, reg.lam_final) == (hidden, final)


def test_mhe_given_coefficient_wins_and_the_other_stays_derived():
    reg = create_regularizer("mhe")
    assert (reg.kernel, reg.lam_hidden, reg.lam_final) == ("s0", 1.0, 10.0)
    reg = create_regularizer("mhe", kernel="a1", lam_hidden=0)
    assert (reg.lam_hidden, reg.lam_final) == (0.0, 1.0)
    reg = create_regularizer("mhe", kernel="s0", lam_final="0.5")
    assert (reg.lam_hidden, reg.lam_final) == (1.0, 0.5)
    reg = create_regularizer("mhe", kernel="a1", lam_hidden=1.0, lam_final=10.0)  # equal to s0's: kept
    assert (reg.lam_hidden, reg.lam_final) == (1.0, 10.0)


@pytest.mark.parametrize("name", ["lam_hidden", "lam_final"])
def test_mhe_has_no_sentinel(name):
    with pytest.raises(RegbenchError, match=re.escape(f"needs {name} ≥ 0")):
        create_regularizer("mhe", **{name: -1})


# ---- context defaults ------------------------------------------------------------------------

def test_resolve_defaults_replace_declared_defaults():
    assert Toy.resolve({}, defaults={"a": 5, "k": "y"}) == {**Toy.resolve({}), "a": 5.0, "k": "y"}
    assert Toy.resolve({"a": 2}, defaults={"a": 5})["a"] == 2.0  # a given value wins
    assert Toy.resolve({}, defaults={"not_declared": 1}) == Toy.resolve({})  # others' defaults ignored
    with pytest.raises(RegbenchError, match=re.escape("needs a ≥ 0")):
        Toy.resolve({}, defaults={"a": -1})  # checked like a given value


def test_resolve_defaults_feed_and_override_derived_ones():
    assert Derived.resolve({}, defaults={"base": 5}) == {"base": 5.0, "twice": 10.0, "neg": -5.0}
    assert Derived.resolve({}, defaults={"twice": 1}) == {"base": 2.0, "twice": 1.0, "neg": -2.0}
    resolved = REGULARIZERS.get("mhe").resolve({"kernel": "a2"}, defaults={"lam_final": 3})
    assert (resolved["lam_hidden"], resolved["lam_final"]) == (0.1, 3.0)
    resolved = REGULARIZERS.get("mhe").resolve({"lam_final": 2}, defaults={"kernel": "a1", "lam_final": 3})
    assert (resolved["lam_hidden"], resolved["lam_final"]) == (0.1, 2.0)


# ---- the regularizers' declared bounds -------------------------------------------------------

# regularizer, hyperparameter, accepted boundary value, rejected value, rule in the message
REG_BOUNDS = [("mhe", "lam_hidden", 0, -0.1, "lam_hidden ≥ 0"), ("mhs", "lam_final", 0, -1e-9, "lam_final ≥ 0"),
              ("mgd", "lam_hidden", 0, -1, "lam_hidden ≥ 0"), ("srip", "lam_final", 0, -1, "lam_final ≥ 0"),
              ("orthogonal", "lam_hidden", 0, -1, "lam_hidden ≥ 0"), ("r_mhp", "lam_final", 0, -1, "lam_final ≥ 0"),
              ("mhp", "inner_steps", 0, -1, "inner_steps ≥ 0"), ("mhp", "pole_lr", 1e-9, 0, "pole_lr > 0"),
              ("mhc", "gamma", 1e-9, 0, "gamma > 0"), ("mmd_imq", "sigma2", 1e-9, 0, "sigma2 > 0"),
              ("coulomb", "eps", 1e-9, 0, "eps > 0"), ("eccentric", "mu", 0.5 + 1e-9, 0.5, "mu > 0.5")]


@pytest.mark.parametrize("reg,name,good,bad,rule", REG_BOUNDS, ids=[f"{r[0]}.{r[1]}" for r in REG_BOUNDS])
def test_regularizer_bounds(reg, name, good, bad, rule):
    assert create_regularizer(reg, **{name: good}).hparams[name] == good
    with pytest.raises(RegbenchError, match=re.escape(f"regularizer '{reg}': hyperparameter {name}=")) as info:
        create_regularizer(reg, **{name: bad})
    assert f"(needs {rule}; " in str(info.value)


def test_every_registered_hyperparameter_states_its_rule_by_bounds_or_choices():
    """One way to state a rule: a Param has bounds or choices (or none), no free-form check."""
    from regbench.registry import TASKS
    for registry in (REGULARIZERS, TASKS):
        for name in registry.names():
            for param in registry.get(name).params().values():
                assert not hasattr(param, "check") and set(param.bounds) <= {"≥", ">", "≤", "<"}
