"""Declared hyperparameters: ``Param`` class attributes validated once, at construction.

A regularizer or task declares its hyperparameters as class attributes, with their bounds::

    mu = Param(1.0, "repulsion strength μ", gt=0.5)
    kernel = Param("s0", "energy kernel", choices=("s0", "s1", "s2"))
    lam_hidden = Param(1.0, "hidden-layer coefficient", ge=0,
                       derive=lambda hp: PAPER[hp["kernel"]])  # default follows another value
    figures = Param(True, "write figures", identity=False)  # cannot change a result: not in run keys

and ``Configurable.__init__(**values)`` fills defaults, coerces strings from the CLI to the
default's type, rejects unknown names (suggesting the closest) and out-of-range values, with a
message built from the declared bounds.
"""
from __future__ import annotations

import difflib
import math
import operator
from typing import Any, Callable

from .errors import RegbenchError

BOUNDS = {"≥": operator.ge, ">": operator.gt, "≤": operator.le, "<": operator.lt}


class Param:
    """One hyperparameter: default value (its type is the parameter's type), doc, range check."""

    def __init__(self, default: Any, doc: str = "", choices: tuple | None = None, *, ge=None,
                 gt=None, le=None, lt=None, derive: Callable[[dict], Any] | None = None,
                 identity: bool = True):
        self.default = default
        self.doc = doc
        self.choices = choices
        self.identity = identity  # False: a switch that cannot change a result (not in run keys)
        self.bounds = {op: v for op, v in (("≥", ge), (">", gt), ("≤", le), ("<", lt)) if v is not None}
        self.derive = derive  # default computed from the other resolved values
        self.name = ""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj.hparams[self.name]

    def coerce(self, value: Any, owner: str) -> Any:
        """Convert ``value`` (possibly a CLI string) to this parameter's type and check its range."""
        kind = type(self.default)
        try:
            if kind is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1", "yes")
            elif kind is int and not isinstance(value, bool):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
            elif kind is float:
                value = float(value)
            elif kind is str:
                value = str(value)
        except (TypeError, ValueError):
            raise RegbenchError(
                f"{owner}: hyperparameter {self.name}={value!r} is not a valid {kind.__name__}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise RegbenchError(f"{owner}: hyperparameter {self.name}={value} must be finite")
        if self.choices is not None and value not in self.choices:
            raise RegbenchError(f"{owner}: hyperparameter {self.name}={value!r} must be one of "
                                f"{', '.join(map(str, self.choices))}")
        if not all(BOUNDS[op](value, bound) for op, bound in self.bounds.items()):
            rule = " and ".join(f"{op} {bound:g}" for op, bound in self.bounds.items())
            raise RegbenchError(f"{owner}: hyperparameter {self.name}={value!r} is out of range "
                                f"(needs {self.name} {rule}; {self.doc})")
        return value


class Configurable:
    """Base of regularizers and tasks: holds validated hyperparameters in ``self.hparams``."""

    kind = "component"  # "regularizer" or "task", used in messages
    registered_name = ""
    version = 1  # bump when a change alters what a run measures; older records stay apart

    @classmethod
    def params(cls) -> dict[str, Param]:
        """All declared hyperparameters, in declaration order, base classes first."""
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Param):
                    found[name] = value
        return found

    @classmethod
    def resolve(cls, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults filled in, every value coerced and checked; unknown names rejected.

        ``defaults`` replace declared defaults (a task's λ for the regularizers acting on it); a
        derived default is computed from the other values, after them."""
        declared = cls.params()
        owner = f"{cls.kind} '{cls.registered_name or cls.__name__}'"
        for name in values:
            if name not in declared:
                raise RegbenchError(unknown_name_message(f"hyperparameter of {owner}", name, declared))
        defaults = {name: v for name, v in (defaults or {}).items() if name in declared}
        given = {**defaults, **values}
        resolved = {name: p.coerce(given.get(name, p.default), owner) for name, p in declared.items()
                    if name in given or p.derive is None}
        for name, p in declared.items():
            if name not in resolved:
                resolved[name] = p.coerce(p.derive(resolved), owner)
        resolved = {name: resolved[name] for name in declared}
        cls.check_params(resolved)
        return resolved

    @classmethod
    def check_params(cls, hparams: dict[str, Any]) -> None:
        """Hook for checks that involve several hyperparameters; raise ``RegbenchError``."""

    def __init__(self, **values: Any):
        super().__init__()
        self.hparams = self.resolve(values)


def short(value) -> str:
    """A hyperparameter value as labels show it (floats in ``g`` format)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def unknown_name_message(what: str, name: str, available) -> str:
    """``unknown <what> 'x'; did you mean 'y'? available: a, b, c``."""
    names = sorted(available)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{name}'{hint} available: {', '.join(names) or '(none)'}"


def same_parameter(a: str, b: str) -> bool:
    """Whether settings keys ``a`` and ``b`` name one hyperparameter (``lam`` and ``reg.lam``)."""
    (scope_a, _, name_a), (scope_b, _, name_b) = a.rpartition("."), b.rpartition(".")
    return name_a == name_b and (not scope_a or not scope_b or scope_a == scope_b)


def check_unique(keys, where: str) -> None:
    """``RegbenchError`` when two of ``keys`` set the same hyperparameter: which value counts
    would otherwise depend on their order."""
    keys = list(keys)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if same_parameter(a, b):
                both = f"'{a}' twice" if a == b else f"both '{a}' and '{b}'"
                raise RegbenchError(f"{where} sets {both}: give each hyperparameter once")
