"""Optimizer specifications: an optimizer is data, not code in the engine.

An optimizer with memory is written as linear state recursions started at zero,

    s_{n+1} = a · s_n + b · u,      s_0 = 0,

and a step

    θ_{n+1} = θ_n − h · φ,

where u and φ are expressions, coordinate by coordinate, in g_n = ∇E(θ_n), θ_n, n, t = nh, h,
the hyperparameters, the states (a state's symbol is its new value; states may feed each other
in any acyclic order), and the constructs of :mod:`bea.symbols`: ``Grad(theta + u)`` (the
gradient at another point), ``Prev(q)`` (q at the previous step, e.g. g_{n−1} or a state's old
value) and ``CoordSum(q)`` (Σ_j q_j, e.g. ‖g‖²).  Unrolled, s_{n+1} = b Σ_{k=0}^{n} a^k u_{n-k};
bias correction is a factor in φ that depends on n; a decay that tends to 1 like n/(n+1) makes
the state a variable of the modified equation (see :mod:`bea.plan`).  Adding an optimizer means
writing one of these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import sympy as sp

from . import symbols as S
from .errors import BeaError

#: How each kind of hyperparameter is checked: (test, what the value must be).
DOMAINS = {
    "unit": (lambda x: 0 <= x < 1, "in [0, 1)"),
    "nonnegative": (lambda x: x >= 0, ">= 0"),
    "positive": (lambda x: x > 0, "> 0"),
    "open_unit": (lambda x: 0 < x < 1, "in (0, 1)"),
}


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: its name (the keyword users pass), symbol and domain.

    Parameters
    ----------
    name : str
        The keyword users pass (``beta=0.9``).
    symbol : sympy.Symbol
        Its symbol in the step and the states; the shared ``bea.symbols`` (β, ρ, ε) let
        recognition name what it finds.
    domain : str
        A key of :data:`DOMAINS`: ``"unit"`` [0, 1), ``"open_unit"`` (0, 1), ``"nonnegative"``,
        ``"positive"``.
    doc : str
        What it is, shown with domain errors.

    Examples
    --------
    >>> from bea import symbols as S
    >>> Hyper("beta", S.beta, "unit", "momentum decay")
    Hyper(name='beta', symbol=beta, domain='unit', doc='momentum decay')
    """

    name: str
    symbol: sp.Symbol
    domain: str
    doc: str = ""


@dataclass(frozen=True)
class State:
    """s_{n+1} = decay · s_n + scale · input, s_0 = 0 (input is an expression in g, θ).

    Parameters
    ----------
    symbol : sympy.Symbol
        The state's name in the step (``bea.symbols.m``, ``v``, or one of your own).
    decay, input, scale : sympy.Expr
        a, u(g, θ) and b in s_{n+1} = a s_n + b u; a and b may contain hyperparameters,
        u is free of n.

    Examples
    --------
    >>> from bea import symbols as S
    >>> State(S.v, S.rho, S.g**2, 1 - S.rho)  # Adam's second moment
    State(symbol=v, decay=rho, input=g**2, scale=1 - rho)
    """

    symbol: sp.Symbol
    decay: sp.Expr
    input: sp.Expr
    scale: sp.Expr = sp.S.One


@dataclass(frozen=True)
class OptimizerSpec:
    """A discrete optimizer θ_{n+1} = θ_n − h φ(states, g, θ, n) with its properties.

    Parameters
    ----------
    name, title : str
        A short name (what ``bea.modified_ode`` and the CLI accept once registered) and a title.
    step : sympy.Expr
        φ, in ``g`` (= ∂_jE), ``theta`` (= θ_j), ``n``, the states and the hyperparameters.
    states : tuple of State
        The memory, updated before the step (the step sees s_{n+1}).
    hyperparameters : tuple of Hyper
        Every other symbol of the step and the states.
    options : dict
        The builder's options (e.g. ``bias_correction``), for display.

    Examples
    --------
    >>> from bea import symbols as S
    >>> momentum = OptimizerSpec("ema_momentum", "EMA momentum", step=S.m,
    ...                          states=(State(S.m, S.beta, S.g, 1 - S.beta),),
    ...                          hyperparameters=(Hyper("beta", S.beta, "unit"),))
    >>> momentum.values_map({"beta": 0.9})
    {beta: 9/10}
    >>> momentum.substitute(momentum.values_map({"beta": 0.9})).states[0]
    State(symbol=m, decay=9/10, input=g, scale=1/10)
    >>> OptimizerSpec("bad", "a step with a stray symbol", step=S.g * S.rho)
    Traceback (most recent call last):
    ...
    bea.errors.BeaError: optimizer 'bad': its step uses ['rho'], which are neither states, hyperparameters, g, theta, n, t, h nor player
    """

    name: str
    title: str
    step: sp.Expr
    states: tuple[State, ...] = ()
    hyperparameters: tuple[Hyper, ...] = ()
    options: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        allowed = {S.g, S.theta, S.n, S.t, S.h, S.player} | {st.symbol for st in self.states}
        allowed |= {hp.symbol for hp in self.hyperparameters}
        for where, expr in [("its step", self.step)] + [(f"state {st.symbol}", e) for st in self.states
                                                        for e in (st.decay, st.input, st.scale)]:
            stray = sp.sympify(expr).free_symbols - allowed
            if stray:
                raise BeaError(
                    f"optimizer {self.name!r}: {where} uses {sorted(map(str, stray))}, which are neither states, "
                    "hyperparameters, g, theta, n, t, h nor player")

    def never_forgets(self, values: dict | None = None) -> bool:
        """Whether a state has decay 1 (an accumulator, as AdaGrad's), with ``values`` substituted.

        Examples
        --------
        >>> from bea import symbols as S
        >>> acc = OptimizerSpec("acc", "accumulated momentum", step=S.m, states=(State(S.m, S.beta, S.g),),
        ...                     hyperparameters=(Hyper("beta", S.beta, "unit"),))
        >>> acc.never_forgets(), acc.never_forgets({S.beta: 1})
        (False, True)
        """
        return any(sp.sympify(st.decay).xreplace(values or {}) == 1 for st in self.states)

    @property
    def hyper_names(self) -> list[str]:
        return [hp.name for hp in self.hyperparameters]

    def values_map(self, values: dict, require_all: bool = False) -> dict:
        """{symbol: number} for the given hyperparameters, after checking their domains.

        Hyperparameters not given (or None) are left out, unless ``require_all``
        (then a missing one is an error).
        """
        known = {hp.name: hp for hp in self.hyperparameters}
        unknown = set(values) - set(known)
        if unknown:
            raise BeaError(
                f"{self.name}: unknown hyperparameter(s) {sorted(unknown)}; "
                f"{self.name} takes {self.hyper_names or 'none'}"
            )
        missing = [name for name in known if values.get(name) is None]
        if require_all and missing:
            raise BeaError(f"{self.name}: missing hyperparameter(s) {missing}; give a number for each")
        return {known[k].symbol: check_value(k, v, known[k].domain, known[k].doc)
                for k, v in values.items() if v is not None}

    def substitute(self, mapping: dict) -> "OptimizerSpec":
        """The spec with hyperparameter symbols replaced by numbers (``values_map`` output)."""
        if not mapping:
            return self
        sub = lambda e: sp.sympify(e).xreplace(mapping)  # noqa: E731
        return OptimizerSpec(
            name=self.name,
            title=self.title,
            step=sub(self.step),
            states=tuple(State(st.symbol, sub(st.decay), sub(st.input), sub(st.scale)) for st in self.states),
            hyperparameters=tuple(hp for hp in self.hyperparameters if hp.symbol not in mapping),
            options=self.options,
        )


def check_value(name: str, value, domain: str, doc: str = "") -> sp.Expr:
    """Check a hyperparameter value against its domain and return it as SymPy number.

    Parameters
    ----------
    name : str
        For the error message.
    value : number or SymPy expression
        A number (checked and made exact), or a symbolic expression (kept as it is).
    domain : str
        A key of :data:`DOMAINS`.
    doc : str
        Appended to the error message.

    Examples
    --------
    >>> check_value("rho", 0.999, "unit")
    999/1000
    >>> check_value("rho", 1.0, "unit", "second-moment decay")
    Traceback (most recent call last):
    ...
    bea.errors.BeaError: rho must be in [0, 1), got 1.0 (second-moment decay)
    """
    if isinstance(value, sp.Basic):
        if not value.is_number:
            return value  # a user symbol or expression: kept symbolic
        number = float(value)
    elif isinstance(value, Real) and not isinstance(value, bool):
        number = float(value)
    else:
        raise BeaError(f"{name} must be a real number, got {value!r}")
    test, what = DOMAINS[domain]
    if not (number == number and test(number)):
        raise BeaError(f"{name} must be {what}, got {value!r}" + (f" ({doc})" if doc else ""))
    return exact(value)


def exact(value) -> sp.Expr:
    """A number as an exact SymPy number; floats as the decimal they print as (0.9 → 9/10).

    SymPy's factoring is unreliable on floats, and high-precision runs need the
    value the user typed, not its binary approximation.

    Examples
    --------
    >>> exact(0.1), exact(1e-8), exact(3)
    (1/10, 1/100000000, 3)
    """
    return sp.Rational(str(value)) if isinstance(value, (float, sp.Float)) else sp.sympify(value)
