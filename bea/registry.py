"""The registry of built-in optimizers: each one is a spec (or a builder of specs) with its examples.

An :class:`Example` is a set of hyperparameter values (options included) together with what
is checked on it: the orders whose error slope is measured, and optionally the library loss
on which that is done.  The registry is the one source of truth for those checks: the order
test (tests/test_order.py), the abstract-vs-concrete test, ``verify/run_all.py`` (the table of
docs/verification.md) and the benchmarks all iterate over :func:`cases`.  Adding an optimizer is
one call::

    @registered(Example(dict(beta=0.5)), Example(dict(beta=0.5, bias_correction=True), label="bc"))
    def heavy_ball(bias_correction: bool = False) -> OptimizerSpec:
        ...

or ``register(spec, Example(...))`` for a spec without options.  A builder's keyword
arguments are the optimizer's options (booleans, e.g. ``bias_correction``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

from .errors import BeaError
from .spec import OptimizerSpec, check_derivable


@dataclass(frozen=True)
class Example:
    """Hyperparameter values on which an optimizer's derived order is checked.

    Parameters
    ----------
    params : dict
        Hyperparameters and options, as keyword arguments of :func:`bea.modified_ode`
        (e.g. ``dict(beta=0.5, rho=0.6, eps=0.1, bias_correction=False)``).
    orders : tuple of int
        Orders p whose global error slope against the iterates from step 0 is checked in the
        fast test suite and tabulated by ``verify/run_all.py`` (leave out an order whose global
        order is capped so low that no slope is measurable at test step sizes).  Every example is
        also checked on the first step and, with memory, after the transient, at orders 0–2.
    slow_orders : tuple of int
        Further orders checked only in the slow suite (and by ``verify/run_all.py``).
    abstract_order : int or None
        The order at which the abstract (every-dimension) result is checked against the
        concrete derivation: in 2-D in the fast suite, in 3-D in the slow one when above 1
        (capped by the highest order in ``orders``).  None for optimizers that have no
        dimension-free form (a gradient an O(1) distance away, a game's players).
    loss : str, optional
        A loss of :mod:`bea.losses` (with its start) for the slope checks, where random smooth
        losses do not fit (e.g. a step with |g| needs gradients away from 0); None: random
        smooth 2-D losses in the tests and the non-convex library loss in ``verify/run_all.py``.
    label : str
        Tells the examples of one optimizer apart: the case is ``name_label`` (``name`` if empty).

    Examples
    --------
    >>> ex = Example(dict(beta=0.5, bias_correction=True), label="bc")
    >>> ex.orders, ex.top_order
    ((0, 1, 2), 2)
    """

    params: dict = field(default_factory=dict, hash=False)
    orders: tuple = (0, 1, 2)
    slow_orders: tuple = ()
    abstract_order: int | None = 1
    loss: str | None = None
    label: str = ""

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "slow_orders", tuple(self.slow_orders))
        if not self.orders or any(not isinstance(p, int) or p < 0 for p in self.orders + self.slow_orders):
            raise BeaError(f"example orders must be non-negative integers, got {self.orders} and {self.slow_orders}")

    @property
    def top_order(self) -> int:
        """The highest order checked in any suite."""
        return max(self.orders + self.slow_orders)


@dataclass(frozen=True)
class Case:
    """One (optimizer, example) pair: ``id`` names it in tests, folders and tables."""

    id: str
    name: str
    example: Example

    @property
    def params(self) -> dict:
        return dict(self.example.params)

    def spec(self) -> OptimizerSpec:
        """The example's spec, options applied (hyperparameters still symbols)."""
        return build(self.name, self.params)[0]

    @property
    def accumulates(self) -> bool:
        """Whether a state never forgets at these values (AdaGrad): order 0 only, over a fixed
        number of steps, and no stationary regime."""
        spec, values = build(self.name, self.params)
        return spec.never_forgets(values)


@dataclass(frozen=True)
class Entry:
    """A registered optimizer: ``build(**options)`` gives its spec; ``examples`` are checked."""

    name: str
    build: Callable[..., OptimizerSpec]
    examples: tuple

    @property
    def options(self) -> list[str]:
        """The option names (the builder's keyword arguments)."""
        return list(inspect.signature(self.build).parameters)

    def __call__(self, **options) -> OptimizerSpec:
        return self.build(**options)


#: name → :class:`Entry`, in registration order (``bea list`` shows them in this order).
REGISTRY: dict[str, Entry] = {}


def register(optimizer, *examples: Example, replace: bool = False):
    """Register ``optimizer`` (an :class:`OptimizerSpec`, or a builder whose keyword arguments are
    options) under its spec's name, with the examples on which it is checked; returns ``optimizer``.

    Examples
    --------
    >>> import sympy as sp
    >>> from bea import symbols as S
    >>> from bea.spec import OptimizerSpec
    >>> half = OptimizerSpec("half_gd", "gradient descent at half speed", step=S.g / 2)
    >>> _ = register(half, Example(orders=(0, 1)))
    >>> [case.id for case in cases() if case.name == "half_gd"]
    ['half_gd']
    >>> unregister("half_gd")
    """
    builder = (lambda: optimizer) if isinstance(optimizer, OptimizerSpec) else optimizer
    spec = builder()
    if not isinstance(spec, OptimizerSpec):
        raise BeaError(f"register takes an OptimizerSpec or a function returning one, got {optimizer!r}")
    if spec.name in REGISTRY and not replace:
        raise BeaError(f"an optimizer named {spec.name!r} is already registered (pass replace=True)")
    if not all(isinstance(ex, Example) for ex in examples):
        raise BeaError("examples must be bea.registry.Example instances")
    labels = [ex.label for ex in examples]
    if len(set(labels)) != len(labels):
        raise BeaError(f"{spec.name}: two examples share a label ({labels}); give each its own")
    REGISTRY[spec.name] = Entry(spec.name, builder, tuple(examples))
    return optimizer


def registered(*examples: Example):
    """Decorator form of :func:`register` for a builder: ``@registered(Example(...), ...)``."""
    return lambda builder: register(builder, *examples)


def unregister(name: str):
    """Remove a registered optimizer (for tests and interactive sessions)."""
    REGISTRY.pop(name, None)


def cases(names=None) -> list[Case]:
    """Every (optimizer, example) pair of the registry (or of the optimizers ``names``), in order."""
    out = []
    for name, entry in REGISTRY.items():
        if names is None or name in names:
            out += [Case(f"{name}_{ex.label}" if ex.label else name, name, ex) for ex in entry.examples]
    return out


def option_names(name: str) -> list[str]:
    """The options (builder keyword arguments) of a registered optimizer."""
    return REGISTRY[name].options


def get(name_or_spec, **options) -> OptimizerSpec:
    """Look up a registered optimizer by name (with options) or pass a spec through."""
    if isinstance(name_or_spec, OptimizerSpec):
        if options:
            raise BeaError(f"options {sorted(options)} only apply to built-in optimizers")
        return name_or_spec
    if not isinstance(name_or_spec, str) or name_or_spec not in REGISTRY:
        raise BeaError(f"unknown optimizer {name_or_spec!r}; known: {', '.join(REGISTRY)}")
    allowed = option_names(name_or_spec)
    unknown = set(options) - set(allowed)
    if unknown:
        raise BeaError(f"{name_or_spec}: unknown option(s) {sorted(unknown)}; options: {allowed or 'none'}")
    for key, value in options.items():
        if not isinstance(value, bool):
            raise BeaError(f"option {key} must be True or False, got {value!r}")
    return REGISTRY[name_or_spec](**options)


def build(optimizer, values: dict, require_all: bool = False):
    """(spec, {symbol: number}): options applied, hyperparameter values checked.

    Keys that are options of a built-in optimizer (e.g. ``bias_correction``) go
    to its builder; ``schedule`` (``"cosine:T"``, see :mod:`bea.schedules`) multiplies the step
    by η(t), for any optimizer; the rest are hyperparameters, checked against their domains.
    The spec keeps its symbols: derivations stay symbolic and numbers are
    substituted at the end (exact, and SymPy's factoring is unreliable on floats).
    """
    values = dict(values)
    options = {}
    schedule = values.pop("schedule", None)
    if isinstance(optimizer, str) and optimizer in REGISTRY:
        options = {k: values.pop(k) for k in option_names(optimizer) if k in values}
    spec = get(optimizer, **options)
    if schedule is not None:
        from .schedules import with_schedule

        spec = with_schedule(spec, schedule)
    mapping = spec.values_map(values, require_all)
    check_derivable(spec, mapping)
    return spec, mapping
