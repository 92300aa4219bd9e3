"""The modified ODE θ̇ = F₀ + hF₁ + … + h^pF_p of an optimizer, and how to evaluate it."""
from __future__ import annotations

import dataclasses
import functools
import numbers
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import engine
from . import symbols as S
from .abstract import AbstractCalculus, concretize
from .concrete import ConcreteCalculus, check_loss, warn_if_not_smooth
from .errors import BeaError
from .numeric import function
from .optimizers import build
from .plan import plan as make_plan
from .recognize import probe_domains, recognize
from .schedules import check_horizon
from .spec import OptimizerSpec, check_value


@dataclass(frozen=True)
class ModifiedODE:
    """A derived modified equation.

    ``spec`` is the optimizer with its hyperparameters as symbols and ``values``
    the numbers given for some of them (already substituted in ``terms``).

    ``terms[i]`` is F_i: a column ``sp.Matrix`` over the variables (concrete mode),
    or one per-coordinate expression valid in every dimension (abstract mode, in
    ``g`` = ∇E, ``theta`` and the contractions ``DE`` of :mod:`bea.abstract`).
    Terms depend on the step symbol ``n`` on the interval [nh, (n+1)h] when the
    optimizer is step-dependent and ``stationary`` is False, and on the time ``t``
    when it has a schedule.

    Slow states (a running average, see :mod:`bea.plan`) are variables of the flow next to θ:
    ``state_variables`` names them (the state symbols in abstract mode, one symbol per state and
    coordinate in concrete mode) and each F_i stacks the fields of θ and of every slow state;
    ``start_step`` is the step from which the flow starts (1 when the field is singular at t = 0).
    ``field_input``: g is a given vector field v (a game), not the gradient of a loss.
    Made by :func:`modified_ode`.

    Parameters
    ----------
    spec : OptimizerSpec
        The optimizer, hyperparameters as symbols.
    values : dict
        {symbol: number} substituted in ``terms`` (hyperparameters, and ``n`` for one step).
    terms : list
        [F₀, …, F_p].
    order : int
        p.
    h : sympy.Expr
        The step size (a number, or the symbol ``h``).
    stationary : bool
        Whether n → ∞ was taken.
    loss, variables : optional
        The loss and its symbols (concrete mode); None in abstract mode.

    Examples
    --------
    >>> import sympy as sp, bea
    >>> momentum = bea.modified_ode("heavy_ball", order=0)   # abstract, finite n
    >>> momentum.terms[0], momentum.step_dependent, momentum.global_order
    (g*(beta*beta**n - 1), True, 1)
    >>> momentum.at_step(0).terms[0]                          # the first interval: F₀ = −(1 − β)g
    g*(beta - 1)
    >>> x, y = sp.symbols("x y")
    >>> gd = bea.modified_ode("gd", (x**2 + 3*y**2)/2, [x, y], order=1, h=0.1)
    >>> gd.terms[1].T, gd.global_order
    (Matrix([[-x/2, -9*y/2]]), 2)
    >>> gd.numpy_field([1.0, 1.0])                            # F₀ + hF₁ at θ = (1, 1)
    array([-1.05, -3.45])
    """

    spec: OptimizerSpec
    values: dict
    terms: list
    order: int
    h: sp.Expr
    stationary: bool
    loss: sp.Expr | None = None
    variables: tuple | None = None
    state_variables: tuple = ()
    start_step: int = 0
    field_input: bool = False
    masks: dict = dataclasses.field(default_factory=dict)

    @property
    def abstract(self) -> bool:
        return self.variables is None

    @property
    def field(self):
        """F₀ + hF₁ + … + h^pF_p."""
        return sum((self.h**i * F for i, F in enumerate(self.terms[1:], start=1)), self.terms[0])

    @property
    def step_dependent(self) -> bool:
        return any(F.has(S.n) for F in self.terms)

    @property
    def joint(self) -> bool:
        """Whether slow states are variables of the flow (then y = (θ, states) and F stacks their fields)."""
        return bool(self.state_variables)

    @property
    def accumulates(self) -> bool:
        """Whether a state never forgets (decay 1, as AdaGrad's): no fixed-horizon order then."""
        return self.spec.never_forgets(self.values)

    @property
    def global_order(self) -> int | None:
        """The order q of the global error O(h^q) against iterates started at zero state.

        Finite n: the past of step n is written with the current interval's field.
        If F_j is the first term that depends on n, that costs an error in F_{j+1}
        that decays geometrically in n and sums to O(h^{j+2}) over the transient,
        so q = min(p + 1, j + 2) (q = p + 1 when no term depends on n).
        Stationary results (n → ∞) describe the iterates after the transient (to
        O(h^{p+1}) from there on): against a zero start q is None, unless the
        optimizer has no memory and no step dependence (then q = p + 1).
        An accumulator that never forgets (AdaGrad) has no fixed-horizon order: None.
        """
        if self.accumulates:
            return None
        if self.joint:  # in t = nh: O(h^{p+1}) from any fixed time t₀ > 0; from the start step the first steps,
            # where the weight 1/(n+1) = h/(t+h) is not small, cap it at 2 (measured by the slope tests)
            return min(self.order + 1, 2) if self.start_step else self.order + 1
        if self.stationary:
            memoryless = not self.spec.states and not sp.sympify(self.spec.step, strict=True).has(S.n, S.Prev)
            return self.order + 1 if memoryless else None
        varying = [j for j, F in enumerate(self.terms) if F.has(S.n)]
        return self.order + 1 if not varying else min(self.order + 1, varying[0] + 2)

    @functools.cached_property
    def recognized(self):
        """Recognized corrections (see :mod:`bea.recognize`), from the symbolic abstract terms.

        The recognition of the abstract result is cached: concrete results and every set of
        values reuse it, with the values substituted.  When the structure only appears for
        the given values (e.g. λ = 0 removes the weight decay from F₀), the abstract terms with
        those values substituted are read instead.
        """
        if self.joint or self.field_input:
            return []  # θ's field alone is not a preconditioned gradient: nothing to recognize
        found = recognize_abstract(self.spec, self.order, self.stationary)
        if found or not self.values:
            return [r.substitute(self.values) for r in found]
        return list(recognize_abstract(self.spec, self.order, self.stationary,
                                       tuple(sorted(self.values.items(), key=str))))

    def pretty(self) -> str:
        """Readable text: the terms, the recognized regularizers and regimes (as ``bea derive`` prints)."""
        from .display import pretty

        return pretty(self)

    def latex(self) -> str:
        """The terms as a LaTeX ``align*`` block."""
        from .display import latex

        return latex(self)

    def to_json(self) -> str:
        """Machine-readable terms and recognition (as ``bea derive --format json`` prints)."""
        from .display import to_json

        return to_json(self)

    def concretize(self, loss, variables) -> "ModifiedODE":
        """Evaluate an abstract result for a concrete loss (any dimension).

        Examples
        --------
        >>> import sympy as sp, bea
        >>> x, y = sp.symbols("x y")
        >>> hb = bea.modified_ode("heavy_ball", order=1, stationary=True)
        >>> hb.terms[1]
        (beta + 1)*D2E[g]/(2*(beta - 1))
        >>> hb.concretize((x**2 + 3*y**2)/2, [x, y]).terms[1].T
        Matrix([[x*(beta + 1)/(2*(beta - 1)), 9*y*(beta + 1)/(2*(beta - 1))]])
        """
        if not self.abstract:
            raise BeaError("this modified ODE is already concrete")
        loss, variables = check_loss(loss, variables, self.spec)
        warn_if_not_smooth(loss)
        states = {s: [sp.Symbol(f"{s.name}_{x.name}", real=True) for x in variables] for s in self.state_variables}
        parts = (lambda F: list(F)) if self.joint else (lambda F: [F])
        terms = [sp.Matrix([concretize(part, loss, variables, j, states) for part in parts(F)
                            for j in range(len(variables))]) for F in self.terms]
        return dataclasses.replace(self, terms=terms, loss=loss, variables=variables,
                                   state_variables=tuple(v for s in self.state_variables for v in states[s]))

    # -- numerics -------------------------------------------------------
    def start_value(self, iterates, states=None, step: int | None = None):
        """y at the start step (or ``step``): θ_n from ``iterates`` and each slow state's value after step
        n − 1 from ``states`` (as :func:`bea.iterate` returns them with ``states=True``)."""
        n = self.start_step if step is None else step
        if not self.joint:
            return np.asarray(iterates[n], dtype=float)
        return np.concatenate([iterates[n]] + [states[sym][n] for sym in self.slow_states])

    @property
    def slow_states(self) -> list:
        """The symbols of the slow states, in the order of their variables in the flow."""
        return [st.symbol for st in make_plan(self.spec).slow]

    @property
    def flow_variables(self) -> tuple:
        """The variables of the flow: θ's, then the slow states' (concrete mode)."""
        return tuple(self.variables) + tuple(self.state_variables)

    def _function(self, backend: str):
        """(y, n, t) ↦ the field, as generated code (every parameter, h included, must be a number)."""
        if self.abstract:
            raise BeaError("an abstract result has no numeric field; call .concretize(loss, variables) first")
        return function([list(self.flow_variables), S.n, S.t], list(self.field), backend,
                        hint="; pass them to modified_ode")

    @functools.cached_property
    def _numpy(self):
        return self._function("numpy")

    def numpy_field(self, theta, n: int = 0, t: float | None = None) -> np.ndarray:
        """The field at y = θ (and the slow states) on the interval of step n, at time t (n·h by default)."""
        t = n * float(self.h) if t is None else t
        return np.asarray(self._numpy(list(np.asarray(theta, dtype=float)), n, t), dtype=float)

    def rhs(self, t, theta) -> np.ndarray:
        """Field at time t, with n = floor(t/h): ready for ``scipy.integrate.solve_ivp``."""
        self._numpy  # checks that every parameter, h included, is a number
        return self.numpy_field(theta, step_index(t, self.h), t)

    def at_step(self, step: int) -> "ModifiedODE":
        """The field of one interval [nh, (n+1)h], n = ``step``, as its own result."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise BeaError(f"step must be a non-negative integer, got {step!r}")
        if self.h.is_number:  # the interval [nh, (n+1)h] must lie within a schedule's horizon
            check_horizon(self.spec, (step + 1) * float(self.h))
        return self.with_values({S.n: sp.Integer(step)})

    def with_values(self, values: dict) -> "ModifiedODE":
        """The same result with more symbols ({symbol: number}) substituted: no new derivation.

        Examples
        --------
        >>> import sympy as sp, bea
        >>> from bea import symbols as S
        >>> bea.modified_ode("heavy_ball", order=0).with_values({S.beta: sp.Rational(1, 2)}).terms[0]
        g*(-1 + 1/(2*2**n))
        """
        return dataclasses.replace(self, values={**self.values, **values},
                                   terms=[F.xreplace(values) for F in self.terms])

    def rhs_at_step(self, n: int):
        """``f(t, θ)`` on the interval [nh, (n+1)h] (for piecewise integration)."""
        return lambda t, theta: self.numpy_field(theta, n, t)

    def torch_field(self):
        """A torch function ``f(theta, n)`` of a 1-D tensor θ (needs the ``torch`` extra)."""
        fn = self._function("torch")  # checks that torch is there
        import torch

        def field(theta, n: int = 0, t: float | None = None):
            t = n * float(self.h) if t is None else t
            out = fn(list(theta), torch.as_tensor(n, dtype=theta.dtype, device=theta.device),
                     torch.as_tensor(t, dtype=theta.dtype, device=theta.device))
            return torch.stack([o if torch.is_tensor(o) else torch.as_tensor(o, dtype=theta.dtype) for o in out])

        return field


def step_index(t: float, h) -> int:
    """n = floor(t/h), robust to round-off at the interval ends.

    Examples
    --------
    >>> step_index(0.3, 0.1), step_index(0.29999999, 0.1)
    (3, 2)
    """
    return int(np.floor(float(t) / float(h) + 1e-9))


@dataclass(frozen=True)
class Derived:
    """What a derivation gives: the terms, the slow-state variables and the step the flow starts at."""

    terms: list
    state_variables: tuple = ()
    start_step: int = 0


def _stack(parts):
    return parts[0] if len(parts) == 1 else sp.Matrix(parts)


@functools.lru_cache(maxsize=64)
def derive_abstract(spec: OptimizerSpec, order: int, stationary: bool) -> Derived:
    calculus = AbstractCalculus()
    derivation = engine.derive(spec, calculus, order, stationary)
    terms = [_stack([calculus.output(F[v]).xreplace(derivation.restore) for v in derivation.variables])
             for F in derivation.fields]
    return Derived(terms, tuple(derivation.variables[1:]), derivation.plan.start_step)


@functools.lru_cache(maxsize=64)
def derive_concrete(spec: OptimizerSpec, loss, variables: tuple, order: int, stationary: bool,
                    field: tuple | None = None, masks: tuple = ()) -> Derived:
    calculus = ConcreteCalculus(loss, variables, field=field, masks=dict(masks))
    derivation = engine.derive(spec, calculus, order, stationary)
    terms = [sp.Matrix(sum((calculus.output(F[v], derivation.restore) for v in derivation.variables), []))
             for F in derivation.fields]
    states = tuple(s for v in derivation.variables[1:] for s in calculus.output(calculus.slow[v]))
    return Derived(terms, states, derivation.plan.start_step)


@functools.lru_cache(maxsize=64)
def recognize_abstract(spec: OptimizerSpec, order: int, stationary: bool, values: tuple = ()):
    """The recognition of the abstract result (with ``values``, (symbol, number) pairs, substituted
    first), cached; the signs of regimes are probed over the spec's hyperparameter domains."""
    terms = derive_abstract(spec, order, stationary).terms
    if values:
        terms = [F.xreplace(dict(values)) for F in terms]
    return tuple(recognize(terms, probe_domains(spec)))


def check_order(order) -> int:
    """A non-negative integer order, or a BeaError.

    Examples
    --------
    >>> check_order(2)
    2
    >>> check_order(1.5)
    Traceback (most recent call last):
    ...
    bea.errors.BeaError: order must be a non-negative integer, got 1.5
    """
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        raise BeaError(f"order must be a non-negative integer, got {order!r}")
    if order < 0:
        raise BeaError(f"order must be >= 0, got {order}")
    return int(order)


def modified_ode(optimizer, loss=None, variables=None, order: int = 1, h=None, stationary: bool = False,
                 field=None, players=None, **hyper_and_options) -> ModifiedODE:
    """Derive the modified ODE of ``optimizer`` to the given order in h.

    Parameters
    ----------
    optimizer : str or OptimizerSpec
        A name from ``bea.optimizers.REGISTRY`` (``"gd"``, ``"adam"``, …) or a spec.
    loss, variables : SymPy expression and its symbols, optional
        Concrete mode.  Without them the result is abstract (every dimension).
    order : int
        p in θ̇ = F₀ + … + h^pF_p.
    h : number, optional
        Step size; a symbol when omitted.
    stationary : bool
        Take n → ∞ (memory sums to infinity, bias corrections gone).
    field : list of expressions, or True
        A vector field v over ``variables`` used in place of ∇E (a game's simultaneous gradient,
        see :func:`bea.games.game`); ``True`` in abstract mode (∇^{r+1}E then means ∇^r v).
    players : list of lists of variables, optional
        With ``field``: the players' variables; the first player's indicator is ``symbols.player``.
    **hyper_and_options
        Hyperparameters (``beta``, ``rho``, ``eps``; symbols when omitted) and
        options (``bias_correction``).

    The cost grows quickly with the order and the optimizer (times in docs/performance.md; e.g.
    AdaBelief's abstract order 2 at finite n takes about 20 s).  Bound a call as the CLI's
    ``--max-seconds`` does, with ``bea.limits.time_limit(seconds)`` (it raises ``TimeLimit``).

    Examples
    --------
    >>> import sympy as sp, bea
    >>> x, y = sp.symbols("x y")
    >>> ode = bea.modified_ode("gd", (x**2 + 3*y**2)/2, [x, y], order=1)
    >>> ode.terms[1].T
    Matrix([[-x/2, -9*y/2]])
    >>> adam = bea.modified_ode("adam", order=1, stationary=True, beta=0.9, rho=0.999)   # every dimension
    >>> adam.recognized[0].parts[0].functional.name
    '‖∇E‖_{1,ε}'
    >>> from bea.limits import time_limit
    >>> with time_limit(60):
    ...     bea.modified_ode("gd", order=2).global_order
    3
    """
    from .games import as_field

    order = check_order(order)
    spec, values = build(optimizer, hyper_and_options)
    h_value = S.h if h is None else check_value("h", h, "positive")
    loss, variables, field, players = as_field(loss, variables, field, players)
    if loss is None and (field is None or field is True):
        if variables is not None:
            raise BeaError("variables were given without a loss (or a field)")
        got = derive_abstract(spec, order, stationary)
        terms = [F.xreplace(values) for F in got.terms]
        return ModifiedODE(spec, values, terms, order, h_value, stationary, state_variables=got.state_variables,
                           start_step=got.start_step, field_input=field is True)
    if variables is None:
        raise BeaError("a concrete loss needs its variables, e.g. modified_ode('gd', E, [x, y])")
    if field is not None:
        from .games import check_field

        field_, variables, masks = check_field(field, variables, players, loss)
        got = derive_concrete(spec.substitute(values), None, variables, order, stationary, field_,
                              tuple((k, tuple(v)) for k, v in masks.items()))
        return ModifiedODE(spec, values, got.terms, order, h_value, stationary, None, variables, got.state_variables,
                           got.start_step, True, masks)
    loss, variables = check_loss(loss, variables, spec)
    warn_if_not_smooth(loss)
    got = derive_concrete(spec.substitute(values), loss, variables, order, stationary)  # numbers first: smaller
    return ModifiedODE(spec, values, got.terms, order, h_value, stationary, loss, variables, got.state_variables,
                       got.start_step)
