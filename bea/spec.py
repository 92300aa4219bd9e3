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

Fields may be given as SymPy expressions or as text (``step="m / sqrt(v + eps)"``), read by
:func:`bea.expr.read` in the names above (``grad``, ``prev`` and ``sum`` are the constructs).
:func:`check_derivable` checks the names and ranges; :mod:`bea.plan` what the engine derives.
"""
from __future__ import annotations

import keyword
import math
import numbers
from dataclasses import dataclass, field
from numbers import Real

import sympy as sp

from . import symbols as S
from .errors import BeaError
from .expr import check_expression, check_name, read

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
    symbol : sympy.Symbol or str
        The state's name in the step (``bea.symbols.m``, ``v``, or one of your own); a name
        given as text becomes a real symbol.
    decay, input, scale : sympy.Expr or str
        a, u(g, θ) and b in s_{n+1} = a s_n + b u; a and b may contain hyperparameters,
        u is free of n (see :func:`check_derivable`).  Text is read by the
        :class:`OptimizerSpec` that holds the state (:func:`bea.expr.read`).

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

    def __post_init__(self):
        if isinstance(self.symbol, str):
            object.__setattr__(self, "symbol", sp.Symbol(check_name(self.symbol, "state symbol"), real=True))
        if not isinstance(self.symbol, sp.Symbol):
            raise BeaError(f"a state's symbol must be a SymPy Symbol or a name, got {self.symbol!r}")


@dataclass(frozen=True)
class OptimizerSpec:
    """A discrete optimizer θ_{n+1} = θ_n − h φ(states, g, θ, n) with its properties.

    Parameters
    ----------
    name, title : str
        A short name (what ``bea.modified_ode`` and the CLI accept once registered) and a title.
    step : sympy.Expr or str
        φ, in ``g`` (= ∂_jE), ``theta`` (= θ_j), ``n``, the states and the hyperparameters
        (text is read by :func:`bea.expr.read` in those names; :func:`check_derivable` says
        what the engine derives).
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
        if not isinstance(self.name, str) or not self.name or len(self.name) > 100 \
                or not self.name.isprintable():
            raise BeaError(f"an optimizer's name must be printable text of 1 to 100 characters, got {self.name!r}")
        if not isinstance(self.states, tuple) or not all(isinstance(st, State) for st in self.states):
            raise BeaError(f"optimizer {self.name!r}: states must be a tuple of bea.State")
        if not isinstance(self.hyperparameters, tuple) or not all(isinstance(hp, Hyper) for hp in self.hyperparameters):
            raise BeaError(f"optimizer {self.name!r}: hyperparameters must be a tuple of bea.Hyper")
        names = {"g": S.g, "theta": S.theta, "n": S.n, "t": S.t, "h": S.h, "player": S.player}
        names |= {str(st.symbol): st.symbol for st in self.states}
        for hp in self.hyperparameters:
            names.setdefault(hp.name, hp.symbol)
            names.setdefault(str(hp.symbol), hp.symbol)
        names = {k: v for k, v in names.items() if k.isidentifier() and not keyword.iskeyword(k)}
        where = f"optimizer {self.name!r}"
        states = tuple(State(st.symbol, *(_field(getattr(st, f), f"{where}: state {st.symbol}: {f}", names)
                                          for f in ("decay", "input", "scale")))
                       for st in self.states)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "step", _field(self.step, f"{where}: step", names))
        check_derivable(self)

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
        return any(st.decay.xreplace(values or {}) == 1 for st in self.states)

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
        sub = lambda e: e.xreplace(mapping)  # noqa: E731
        return OptimizerSpec(
            name=self.name,
            title=self.title,
            step=sub(self.step),
            states=tuple(State(st.symbol, sub(st.decay), sub(st.input), sub(st.scale)) for st in self.states),
            hyperparameters=tuple(hp for hp in self.hyperparameters if hp.symbol not in mapping),
            options=self.options,
        )


def check_derivable(spec: OptimizerSpec, values: dict | None = None) -> None:
    """Refuse a spec whose names or ranges are wrong, naming what to fix.

    * every field is a finite real expression of numbers, symbols, known functions and the
      constructs grad, prev, sum (:func:`bea.expr.check_expression`);
    * hyperparameters have distinct names and symbols, states distinct symbols that are none of
      g, theta, n, t, h, player or a hyperparameter;
    * the step and the inputs use g, theta, n, t, h, player, the states and the hyperparameters;
    * a decay and a scale use n, t, h and the hyperparameters (not g, θ or a state), and a decay
      is in [0, 1] wherever its value is known (hyperparameter ``values`` substituted).

    What the engine can derive from a well-formed spec (kinks, cycles of states, memories that
    never forget, …) is decided by :mod:`bea.plan`, with the reason, when a derivation starts.
    """
    name = f"optimizer {spec.name!r}"
    hyper = {hp.symbol for hp in spec.hyperparameters}
    for hp in spec.hyperparameters:
        check_name(hp.name, f"{name}: hyperparameter name")
        if not isinstance(hp.symbol, sp.Symbol) or hp.domain not in DOMAINS:
            raise BeaError(f"{name}: hyperparameter {hp.name!r} needs a SymPy Symbol and a domain, "
                           f"one of {sorted(DOMAINS)}")
    if len({hp.name for hp in spec.hyperparameters}) != len(hyper) or len(hyper) != len(spec.hyperparameters):
        raise BeaError(f"{name}: hyperparameter names and symbols must be distinct, got {spec.hyper_names}")
    symbols = [st.symbol for st in spec.states]
    reserved = (S.g, S.theta, S.n, S.t, S.h, S.player)
    clash = [s for s in symbols if s in hyper or s in reserved or symbols.count(s) > 1]
    if clash:
        raise BeaError(f"{name}: state symbols must be distinct and differ from g, theta, n, t, h, player and the "
                       f"hyperparameters; {sorted(map(str, set(clash)))} clash")
    everything = set(reserved) | set(symbols) | hyper
    _uses(spec.step, everything, f"{name}: its step",
          "which are neither states, hyperparameters, g, theta, n, t, h nor player")
    for st in spec.states:
        _uses(st.input, everything, f"{name}: state {st.symbol}: its input",
              "which are neither states, hyperparameters, g, theta, n, t, h nor player")
        for part, value in (("decay", st.decay), ("scale", st.scale)):
            _uses(value, {S.n, S.t, S.h} | hyper, f"{name}: state {st.symbol}: the {part} must be built from "
                  "numbers, hyperparameters, n, t and h (the weights of past inputs); it", "")
        decay = st.decay.xreplace(values or {})
        if decay.is_number and not 0 <= float(decay) <= 1:
            raise BeaError(f"{name}: state {st.symbol}: the decay must be in [0, 1], got {decay}"
                           + (f" = {st.decay}" if decay != st.decay else ""))


def _uses(expr, allowed: set, what: str, why: str):
    stray = expr.free_symbols - allowed
    if stray:
        raise BeaError(f"{what} uses {sorted(map(str, stray))}" + (f", {why}" if why else ""))


def _field(value, where: str, names: dict) -> sp.Expr:
    """A spec field: text read by :func:`bea.expr.read`, a finite real number, or a SymPy expression."""
    if isinstance(value, str):
        return read(value, names, where)
    if isinstance(value, Real) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BeaError(f"{where} must be finite, got {value!r}")
        return exact(value)
    if not isinstance(value, sp.Basic):
        raise BeaError(f"{where} must be a SymPy expression or text, got {value!r}")
    return check_expression(value, where)


def check_value(name: str, value, domain: str, doc: str = "") -> sp.Expr:
    """Check a hyperparameter value against its domain and return it as SymPy number.

    Numbers must be finite and real; a SymPy expression that is not a number (a user
    symbol) is kept symbolic.

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
        if not isinstance(value, sp.Expr) or value.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise BeaError(f"{name} must be a finite real number, got {value}")
        if not value.is_number:
            return value  # a user symbol or expression: kept symbolic
        if value.is_extended_real is not True:
            raise BeaError(f"{name} must be a finite real number, got {value}")
        number = float(value)
    elif isinstance(value, Real) and not isinstance(value, bool):
        number = float(value)
    else:
        raise BeaError(f"{name} must be a real number, got {value!r}")
    test, what = DOMAINS[domain]
    if not test(number):
        raise BeaError(f"{name} must be {what}, got {value!r}" + (f" ({doc})" if doc else ""))
    if not math.isfinite(number):
        raise BeaError(f"{name} must be finite, got {value!r}")
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
    if isinstance(value, sp.Basic):
        return sp.Rational(str(value)) if isinstance(value, sp.Float) else value
    if isinstance(value, numbers.Rational):  # int, fractions.Fraction, NumPy integers
        return sp.Rational(int(value.numerator), int(value.denominator))
    return sp.Rational(str(float(value)))
